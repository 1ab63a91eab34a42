/** ResourcePool controller: nodes selected by the resource tag label, their capacity and use. */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { Job, ModelService, Notebook, ResourcePool } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { waitingWorkloads } from '../admission/workloads.js';
import type { ControllerSetup } from '../context.js';
import { schedulingCaches, podIndexes } from '../cluster/caches.js';
import { matchesLabels, poolNodeSelector } from '../cluster/nodes.js';
import { octopus } from '../resources.js';
import { objectKey, semanticEqual } from '../runtime/index.js';
import { poolShape, poolStatus, shapeOf, type PoolShape } from './status.js';

/** Pod churn moves inUse and admissions move the queue constantly; a pool's status is rewritten at most this often for them alone. */
const minStatusIntervalMs = 10_000;

export const setupResourcePoolController: ControllerSetup = ({ manager, options }) => {
  const { pools, nodes, pods, jobs, notebooks, modelServices } = schedulingCaches(manager);
  const tag = { key: options.resourceTagKey, valuePrefix: options.resourceTagValuePrefix };
  const lastWrite = new Map<string, number>();
  const nodesOf = (pool: ResourcePool): V1Node[] => {
    const selector = poolNodeSelector(pool, tag);
    return nodes.list().filter((n) => matchesLabels(n.metadata?.labels, selector));
  };
  /**
   * The last shape computed per pool: every pod and job event wakes the pool, but its shape
   * changes only with the pool or its nodes (cached objects are replaced, never changed in place).
   */
  const shapes = new Map<string, { pool: ResourcePool; members: V1Node[]; shape: PoolShape }>();
  /** Pools whose nodes changed since their shape was computed. */
  const nodesMoved = new Set<string>();
  const shapeFor = (key: string, pool: ResourcePool): { members: V1Node[]; shape: PoolShape } => {
    const last = shapes.get(key);
    if (last && last.pool === pool && !nodesMoved.has(key)) return last;
    nodesMoved.delete(key);
    const members = nodesOf(pool);
    if (last && last.pool === pool && last.members.length === members.length && last.members.every((n, i) => n === members[i])) return last;
    const computed = { pool, members, shape: poolShape(pool, members, manager.clock.now()) };
    shapes.set(key, computed);
    return computed;
  };
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
          shapes.delete(key);
          nodesMoved.delete(key);
          return;
        }
        const { members, shape } = shapeFor(key, pool);
        // Use and the queue move with every pod and admission: rewritten at most every
        // minStatusIntervalMs, and not even computed in between. Node changes are written at once.
        const since = manager.clock.now() - (lastWrite.get(key) ?? 0);
        if (pool.status !== undefined && since < minStatusIntervalMs && semanticEqual(shapeOf(pool.status), shape)) return { requeueAfterMs: minStatusIntervalMs - since };
        const onNodes = members.flatMap((n) => pods.byIndex(podIndexes.node, n.metadata!.name!));
        const waiting = waitingWorkloads({ jobs: jobs.list(), notebooks: notebooks.list(), modelServices: modelServices.list() }).filter((w) => w.pool === pool.metadata.name);
        const { changed } = await manager.client.updateStatusIfChanged(octopus.ResourcePool, pool, poolStatus(shape, onNodes, waiting));
        if (changed) lastWrite.set(key, manager.clock.now());
      },
    })
    .watches(pools)
    .watches(nodes, () => {
      const keys = pools.list().map(objectKey);
      for (const key of keys) nodesMoved.add(key);
      return keys;
    })
    .watches(pods, (pod: V1Pod) => poolsOfNode(pod.spec?.nodeName))
    .watches(jobs, (job: Job) => [job.spec.pool])
    .watches(notebooks, (nb: Notebook) => [nb.spec.pool])
    .watches(modelServices, (ms: ModelService) => [ms.status?.admission?.pool ?? ms.spec.pool]);
};
