/** ResourcePool controller: nodes selected by the resource tag label, their capacity and use. */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { ResourcePool } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { ControllerSetup } from '../context.js';
import { schedulingCaches, podIndexes } from '../cluster/caches.js';
import { matchesLabels, poolNodeSelector } from '../cluster/nodes.js';
import { octopus } from '../resources.js';
import { objectKey, semanticEqual } from '../runtime/index.js';
import { poolStatus } from './status.js';

/** Pod churn moves inUse constantly; a pool's status is rewritten at most this often for it alone. */
const minStatusIntervalMs = 10_000;

export const setupResourcePoolController: ControllerSetup = ({ manager, options }) => {
  const { pools, nodes, pods } = schedulingCaches(manager);
  const tag = { key: options.resourceTagKey, valuePrefix: options.resourceTagValuePrefix };
  const lastWrite = new Map<string, number>();
  const nodesOf = (pool: ResourcePool): V1Node[] => nodes.list().filter((n) => matchesLabels(n.metadata?.labels, poolNodeSelector(pool, tag)));
  const poolsOfNode = (nodeName: string | undefined): string[] => {
    const node = nodeName ? nodes.get(nodeName) : undefined;
    if (!node) return [];
    return pools.list().filter((p) => matchesLabels(node.metadata?.labels, poolNodeSelector(p, tag))).map(objectKey);
  };

  manager
    .addController({
      name: 'resourcepool',
      concurrency: options.workers,
      reconcile: async (key) => {
        const pool = pools.get(key);
        if (!pool) {
          lastWrite.delete(key);
          return;
        }
        const members = nodesOf(pool);
        const onNodes = members.flatMap((n) => pods.byIndex(podIndexes.node, n.metadata!.name!));
        const status = poolStatus(pool, members, onNodes, manager.clock.now());
        const onlyUseMoved = pool.status !== undefined && semanticEqual({ ...pool.status, inUse: undefined, summary: undefined }, { ...status, inUse: undefined, summary: undefined });
        const since = manager.clock.now() - (lastWrite.get(key) ?? 0);
        if (onlyUseMoved && since < minStatusIntervalMs) return { requeueAfterMs: minStatusIntervalMs - since };
        const { changed } = await manager.client.updateStatusIfChanged(octopus.ResourcePool, pool, status);
        if (changed) lastWrite.set(key, manager.clock.now());
      },
    })
    .watches(pools)
    .watches(nodes, () => pools.list().map(objectKey))
    .watches(pods, (pod: V1Pod) => poolsOfNode(pod.spec?.nodeName));
};
