/** A ResourcePool's observed state, from its nodes and the pods on them. */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { ResourcePool } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { ResourcePoolConditions, ResourcePoolReasons } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { addResources, display, formatResources, isDeviceResource, parseResources, type Resources } from '../../apis/quantity.js';
import { setCondition, type Condition } from '../runtime/index.js';
import { isTerminal, nodeReady, podRequests } from '../cluster/nodes.js';
import { headOfLine, type WaitingWorkload } from '../admission/workloads.js';

export type PoolStatus = NonNullable<ResourcePool['status']>;

function devicesSummary(inUse: Resources, allocatable: Resources): string | undefined {
  const devices = [...allocatable.keys()].filter(isDeviceResource).sort();
  if (devices.length === 0) return undefined;
  return devices.map((d) => `${display(d, inUse.get(d) ?? 0n)}/${display(d, allocatable.get(d)!)} ${d}`).join(', ');
}

/** Room on a pool's status for why its head of line waits. */
const headOfLineMax = 1024;

function describeHead(head: WaitingWorkload): string {
  const text = `${head.kind} ${head.namespace}/${head.name}${head.message ? `: ${head.message}` : ''}`;
  return text.length > headOfLineMax ? `${text.slice(0, headOfLineMax - 1)}…` : text;
}

/** What a pool's status says of its nodes: it changes only when nodes come, go or change readiness. */
export type PoolShape = Pick<PoolStatus, 'observedGeneration' | 'conditions' | 'nodes' | 'readyNodes' | 'capacity' | 'allocatable'>;

export function poolShape(pool: ResourcePool, nodes: readonly V1Node[], now: number): PoolShape {
  const ready = nodes.filter(nodeReady);
  const capacity = addResources(...nodes.map((n) => parseResources(n.status?.capacity as Record<string, string>)));
  const allocatable = addResources(...ready.map((n) => parseResources(n.status?.allocatable as Record<string, string>)));
  const [status, reason, message] =
    nodes.length === 0
      ? (['False', ResourcePoolReasons.NoNodes, 'no node carries the pool\'s resource tag'] as const)
      : ready.length === 0
        ? (['False', ResourcePoolReasons.NoReadyNodes, `none of ${nodes.length} nodes is Ready`] as const)
        : (['True', ResourcePoolReasons.NodesReady, `${ready.length} of ${nodes.length} nodes Ready`] as const);
  return {
    observedGeneration: pool.metadata.generation,
    conditions: setCondition(pool.status?.conditions as Condition[] | undefined, { type: ResourcePoolConditions.Ready, status, reason, message }, pool.metadata.generation, now),
    nodes: nodes.length,
    readyNodes: ready.length,
    capacity: formatResources(capacity),
    allocatable: formatResources(allocatable),
  };
}

/** The fields of `status` that `poolShape` computes. */
export function shapeOf(status: PoolStatus): PoolShape {
  const { observedGeneration, conditions, nodes, readyNodes, capacity, allocatable } = status;
  return { observedGeneration, conditions, nodes, readyNodes, capacity, allocatable };
}

/** `shape` from `poolShape`, completed with the use of the pods on the pool's nodes and its queue. */
export function poolStatus(shape: PoolShape, podsOnNodes: readonly V1Pod[], waiting: readonly WaitingWorkload[]): PoolStatus {
  const inUse = addResources(...podsOnNodes.filter((p) => !isTerminal(p)).map(podRequests));
  const accelerators = devicesSummary(inUse, parseResources(shape.allocatable));
  const head = headOfLine(waiting);
  return {
    ...shape,
    inUse: formatResources(inUse),
    pending: waiting.length,
    ...(head ? { headOfLine: describeHead(head) } : {}),
    summary: { nodes: `${shape.readyNodes}/${shape.nodes}`, ...(accelerators ? { accelerators } : {}) },
  };
}
