/** ResourceSpec controller: which existing pools a preset applies to, and its accelerators per pod. */
import type { ResourcePool, ResourceSpec } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { ResourceSpecConditions } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { parseResources } from '../../apis/quantity.js';
import { describeAccelerators } from '../admission/gang.js';
import { schedulingCaches } from '../cluster/caches.js';
import type { ControllerSetup } from '../context.js';
import { octopus } from '../resources.js';
import { objectKey, setCondition, type Condition } from '../runtime/index.js';

export type SpecStatus = NonNullable<ResourceSpec['status']>;

export function specStatus(spec: ResourceSpec, pools: readonly ResourcePool[], now: number): SpecStatus {
  const existing = new Set(pools.map((p) => p.metadata.name!));
  const named = spec.spec.pools;
  const applies = named && named.length > 0 ? named.filter((p) => existing.has(p)) : [...existing];
  const missing = (named ?? []).filter((p) => !existing.has(p));
  const accelerators = describeAccelerators(parseResources(spec.spec.resources.requests));
  const condition =
    missing.length > 0
      ? { type: ResourceSpecConditions.Ready, status: 'False' as const, reason: 'PoolNotFound', message: `pools not found: ${missing.join(', ')}` }
      : { type: ResourceSpecConditions.Ready, status: 'True' as const, reason: 'PoolsFound', message: `applies to ${applies.length} pools` };
  return {
    observedGeneration: spec.metadata.generation,
    conditions: setCondition(spec.status?.conditions as Condition[] | undefined, condition, spec.metadata.generation, now),
    pools: [...applies].sort(),
    ...(accelerators ? { accelerators } : {}),
  };
}

export const setupResourceSpecController: ControllerSetup = ({ manager, options }) => {
  const { specs, pools } = schedulingCaches(manager);
  manager
    .addController({
      name: 'resourcespec',
      concurrency: options.workers,
      reconcile: async (key) => {
        const spec = specs.get(key);
        if (!spec) return;
        await manager.client.updateStatusIfChanged(octopus.ResourceSpec, spec, specStatus(spec, pools.list(), manager.clock.now()));
      },
    })
    .watches(specs)
    .watches(pools, () => specs.list().map(objectKey));
};
