/**
 * The Algorithm controller: git/s3 versions are imported into a claim like a dataset's; a
 * configMap version uses the user's ConfigMap; inline files go into a ConfigMap the algorithm owns.
 */
import type { ControllerSetup } from '../context.js';
import type { Scope } from '../assets/caches.js';
import type { AssetKindBehaviour } from '../assets/reconciler.js';
import { assetController } from '../assets/setup.js';
import { octopus } from '../resources.js';

const algorithmBehaviour: AssetKindBehaviour = { kind: 'Algorithm', resource: octopus.Algorithm };

/** The Algorithm controller over `scope` (all namespaces by default). */
export function algorithmController(scope: Scope = {}): ControllerSetup {
  return assetController(algorithmBehaviour, scope);
}

/** The Algorithm controller over every namespace, as the octopus-controller process runs it. */
export const setupAlgorithmController: ControllerSetup = algorithmController();
