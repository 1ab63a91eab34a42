/**
 * What admission and pool accounting need of nodes and pods, and slim cache shapes for them:
 * on a 1,000-node cluster with tens of thousands of pods, caching whole objects would cost
 * gigabytes; these keep the few fields read.
 */
import type { KubernetesObject, V1Node, V1Pod, V1Toleration } from '@kubernetes/client-node';
import type { ResourcePool } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { addInto, addResources, parseCachedResources, parseResources, subtractResources, type Resources } from '../../apis/quantity.js';
import type { NodeState } from '../admission/placement.js';

export function slimPod(obj: KubernetesObject): KubernetesObject {
  const pod = obj as V1Pod;
  const m = pod.metadata ?? {};
  const slim: V1Pod = {
    apiVersion: pod.apiVersion,
    kind: pod.kind,
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      labels: m.labels,
      ownerReferences: m.ownerReferences,
      ...(m.deletionTimestamp ? { deletionTimestamp: m.deletionTimestamp } : {}),
    },
    spec: {
      nodeName: pod.spec?.nodeName,
      containers: (pod.spec?.containers ?? []).map((c) => ({ name: c.name, resources: { requests: c.resources?.requests } })),
      initContainers: (pod.spec?.initContainers ?? []).map((c) => ({ name: c.name, resources: { requests: c.resources?.requests } })),
      ...(pod.spec?.overhead ? { overhead: pod.spec.overhead } : {}),
    },
    status: {
      phase: pod.status?.phase,
      reason: pod.status?.reason,
      conditions: (pod.status?.conditions ?? []).filter((c) => c.type === 'Ready' || c.type === 'DisruptionTarget'),
      containerStatuses: (pod.status?.containerStatuses ?? []).map((s) => ({
        name: s.name,
        ready: s.ready,
        restartCount: s.restartCount,
        image: s.image,
        imageID: s.imageID,
        ...(s.state?.terminated ? { state: { terminated: { exitCode: s.state.terminated.exitCode, reason: s.state.terminated.reason, message: s.state.terminated.message } } } : {}),
      })),
    },
  };
  return slim;
}

export function slimNode(obj: KubernetesObject): KubernetesObject {
  const node = obj as V1Node;
  return {
    apiVersion: node.apiVersion,
    kind: node.kind,
    metadata: { name: node.metadata?.name, uid: node.metadata?.uid, resourceVersion: node.metadata?.resourceVersion, labels: node.metadata?.labels },
    spec: { unschedulable: node.spec?.unschedulable, taints: node.spec?.taints },
    status: {
      capacity: node.status?.capacity,
      allocatable: node.status?.allocatable,
      // Without lastHeartbeatTime: a heartbeat alone is then no change to the cache (see Informer).
      conditions: (node.status?.conditions ?? []).filter((c) => c.type === 'Ready').map(({ lastHeartbeatTime: _heartbeat, ...ready }) => ready),
    },
  } as V1Node;
}

export function isTerminal(pod: V1Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

/** Cached objects are replaced, never changed, on update: a pod's requests are computed once per version. */
const requestsByPod = new WeakMap<V1Pod, Resources>();

/** What the scheduler counts for a pod: containers summed, init containers' max, plus overhead. Shared: never change it. */
export function podRequests(pod: V1Pod): ReadonlyMap<string, bigint> {
  let requests = requestsByPod.get(pod);
  if (!requests) {
    requests = effectiveRequests(pod);
    requestsByPod.set(pod, requests);
  }
  return requests;
}

function effectiveRequests(pod: V1Pod): Resources {
  const containers = addResources(...(pod.spec?.containers ?? []).map((c) => parseResources(c.resources?.requests as Record<string, string>)));
  const init = new Map<string, bigint>();
  for (const c of pod.spec?.initContainers ?? []) {
    for (const [k, v] of parseResources(c.resources?.requests as Record<string, string>)) init.set(k, v > (init.get(k) ?? 0n) ? v : init.get(k)!);
  }
  const effective = new Map(containers);
  for (const [k, v] of init) if (v > (effective.get(k) ?? 0n)) effective.set(k, v);
  return addResources(effective, parseResources(pod.spec?.overhead as Record<string, string> | undefined));
}

export function nodeReady(node: V1Node): boolean {
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** Labels a node must carry to belong to a pool: the resource tag plus the pool's extra selector. */
export function poolNodeSelector(pool: ResourcePool, tag: { key: string; valuePrefix: string }): Record<string, string> {
  return { [tag.key]: `${tag.valuePrefix}${pool.spec.resourceTag ?? pool.metadata.name}`, ...(pool.spec.nodeSelector ?? {}) };
}

export function matchesLabels(labels: Readonly<Record<string, string>> | undefined, selector: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(selector)) if (labels?.[k] !== v) return false;
  return true;
}

function tolerates(tolerations: readonly V1Toleration[], taint: { key: string; value?: string; effect: string }): boolean {
  return tolerations.some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (!t.key) return t.operator === 'Exists';
    if (t.key !== taint.key) return false;
    return t.operator === 'Exists' || (t.value ?? '') === (taint.value ?? '');
  });
}

/** A node the pool's pods can be scheduled to: Ready, schedulable, taints tolerated. */
export function schedulable(node: V1Node, tolerations: readonly V1Toleration[]): boolean {
  if (!nodeReady(node) || node.spec?.unschedulable) return false;
  return (node.spec?.taints ?? []).every((t) => t.effect === 'PreferNoSchedule' || tolerates(tolerations, t));
}

/** Requests of unfinished pods per node name. */
export function requestsByNode(pods: readonly V1Pod[]): Map<string, Resources> {
  const out = new Map<string, Resources>();
  for (const pod of pods) {
    const node = pod.spec?.nodeName;
    if (!node || isTerminal(pod)) continue;
    const sum = out.get(node);
    if (sum) addInto(sum, podRequests(pod));
    else out.set(node, new Map(podRequests(pod)));
  }
  return out;
}

/** Free allocatable of each node, for placement. */
export function nodeStates(nodes: readonly V1Node[], used: ReadonlyMap<string, Resources>): NodeState[] {
  return nodes.map((n) => ({
    name: n.metadata!.name!,
    labels: n.metadata?.labels ?? {},
    free: subtractResources(parseCachedResources(n.status?.allocatable as Record<string, string>), used.get(n.metadata!.name!) ?? new Map()),
  }));
}
