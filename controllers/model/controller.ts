/**
 * The Model controller: spec versions are imported like a dataset's (s3, http) or used in place
 * (pvc); versions a Job produced (see output.ts) are kept from status, never dropped for missing
 * from spec.
 */
import type { ControllerSetup } from '../context.js';
import type { Scope } from '../assets/caches.js';
import type { AssetKindBehaviour } from '../assets/reconciler.js';
import { assetController } from '../assets/setup.js';
import type { AssetStatus, VersionSpec, VersionStatus } from '../assets/types.js';
import { octopus } from '../resources.js';

/** Job-produced versions, which only status records. A spec version of the same name wins (the webhook refuses such a spec). */
export function jobVersions(status: AssetStatus | undefined, specNames: ReadonlySet<string>): VersionStatus[] {
  return (status?.versions ?? []).filter((v) => v.origin === 'Job' && !specNames.has(v.name));
}

export const modelBehaviour: AssetKindBehaviour = {
  kind: 'Model',
  resource: octopus.Model,
  retainedVersions: jobVersions,
  decorate: (version: VersionSpec, status: VersionStatus) => ({ ...status, origin: 'Import', ...(version.metrics && { metrics: version.metrics }) }),
};

/** The Model controller over `scope` (all namespaces by default). */
export function modelController(scope: Scope = {}): ControllerSetup {
  return assetController(modelBehaviour, scope);
}

/** The Model controller over every namespace, as the octopus-controller process runs it. */
export const setupModelController: ControllerSetup = modelController();
