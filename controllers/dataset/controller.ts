/**
 * The Dataset controller: pvc versions are used in place, nfs versions get a volume and a claim,
 * s3/http/git versions are imported into a claim of their own by a Job (see ../assets).
 */
import type { ControllerSetup } from '../context.js';
import type { Scope } from '../assets/caches.js';
import type { AssetKindBehaviour } from '../assets/reconciler.js';
import { assetController } from '../assets/setup.js';
import { octopus } from '../resources.js';

const datasetBehaviour: AssetKindBehaviour = { kind: 'Dataset', resource: octopus.Dataset };

/** The Dataset controller over `scope` (all namespaces by default). */
export function datasetController(scope: Scope = {}): ControllerSetup {
  return assetController(datasetBehaviour, scope);
}

/** The Dataset controller over every namespace, as the octopus-controller process runs it. */
export const setupDatasetController: ControllerSetup = datasetController();
