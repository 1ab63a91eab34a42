/** Objects integration suites build on: per-suite pools on their own simulated nodes, specs, quotas, jobs. */
import { randomBytes } from 'node:crypto';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { group, version, type Job, type Quota, type ResourcePool, type ResourceSpec } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { resourceTagKey, simulatedNode, type NodeClass } from '../../hack/cluster/nodes.js';
import { eventually } from './kube.js';

export const sim = (outcome: 'Succeed' | 'Fail' | 'Run' | 'Pending', extra: Record<string, string> = {}) => ({
  'sim.octopus.openi.pcl.cn/outcome': outcome,
  ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [`sim.octopus.openi.pcl.cn/${k}`, v])),
});

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

export async function createCluster<T>(kc: KubeConfig, plural: string, body: T): Promise<T> {
  return (await kc.makeApiClient(CustomObjectsApi).createClusterCustomObject({ group, version, plural, body })) as T;
}

export async function createNamespaced<T extends { metadata?: { namespace?: string } }>(kc: KubeConfig, plural: string, body: T): Promise<T> {
  return (await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group, version, plural, namespace: body.metadata!.namespace!, body })) as T;
}

export async function getNamespaced<T>(kc: KubeConfig, plural: string, namespace: string, name: string): Promise<T> {
  return (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ group, version, plural, namespace, name })) as T;
}

export async function patchNamespaced(kc: KubeConfig, plural: string, namespace: string, name: string, patch: unknown): Promise<void> {
  await kc.makeApiClient(CustomObjectsApi).patchNamespacedCustomObject({ group, version, plural, namespace, name, body: patch }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
}

export async function deleteCluster(kc: KubeConfig, plural: string, name: string): Promise<void> {
  try {
    await kc.makeApiClient(CustomObjectsApi).deleteClusterCustomObject({ group, version, plural, name });
  } catch (err) {
    if ((err as { code?: number }).code !== 404) throw err;
  }
}

/**
 * Waits for `count` nodes matching `labelSelector` to be Ready and untainted: the node lifecycle
 * controller lifts the not-ready taint a moment after Ready, and until then neither the scheduler
 * nor admission counts the node.
 */
export async function waitNodesUsable(core: CoreV1Api, labelSelector: string, count: number, timeoutMs = 30_000): Promise<void> {
  await eventually(
    `${count} nodes (${labelSelector}) Ready and untainted`,
    async () => {
      const list = await core.listNode({ labelSelector });
      const usable = list.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && !n.spec?.taints?.length);
      return usable.length === count ? true : undefined;
    },
    timeoutMs,
  );
}

export interface TestPool {
  name: string;
  nodes: string[];
  cleanup(): Promise<void>;
}

/**
 * A ResourcePool of its own simulated nodes, so suites do not compete for the plane's shared
 * nodes. `capacity` overrides the node class's (e.g. 4 GPUs per node).
 */
export async function createPool(kc: KubeConfig, opts: { nodes: number; nodeClass?: NodeClass; capacity?: Record<string, string> }): Promise<TestPool> {
  const name = uniqueName('pool');
  const core = kc.makeApiClient(CoreV1Api);
  const nodes = Array.from({ length: opts.nodes }, (_, i) => {
    const node = simulatedNode(opts.nodeClass ?? 'gpu', i, { resourceTag: name, namePrefix: name });
    if (opts.capacity) {
      Object.assign(node.status!.capacity!, opts.capacity);
      Object.assign(node.status!.allocatable!, opts.capacity);
    }
    return node;
  });
  for (const node of nodes) await core.createNode({ body: node });
  await waitNodesUsable(core, `${resourceTagKey}=${name}`, opts.nodes);
  const pool: ResourcePool = { apiVersion: `${group}/${version}`, kind: 'ResourcePool', metadata: { name }, spec: {} };
  await createCluster(kc, 'resourcepools', pool);
  return {
    name,
    nodes: nodes.map((n) => n.metadata!.name!),
    cleanup: async () => {
      await deleteCluster(kc, 'resourcepools', name);
      for (const node of nodes) await core.deleteNode({ name: node.metadata!.name! }).catch(() => undefined);
    },
  };
}

export async function createSpec(kc: KubeConfig, requests: Record<string, string | number>, extra: Partial<ResourceSpec['spec']> = {}): Promise<string> {
  const name = uniqueName('spec');
  await createCluster<ResourceSpec>(kc, 'resourcespecs', { apiVersion: `${group}/${version}`, kind: 'ResourceSpec', metadata: { name }, spec: { resources: { requests }, ...extra } });
  return name;
}

export async function createQuota(kc: KubeConfig, namespace: string, hard: Record<string, string | number>, extra: Partial<Quota['spec']> = {}): Promise<Quota> {
  return createNamespaced<Quota>(kc, 'quotas', { apiVersion: `${group}/${version}`, kind: 'Quota', metadata: { name: 'default', namespace }, spec: { hard, ...extra } });
}

/** A builder for test Jobs: job(ns, name).pool(p).task(...).obj() */
export function job(namespace: string, name: string) {
  const obj: Job = { apiVersion: `${group}/${version}`, kind: 'Job', metadata: { name, namespace }, spec: { image: { reference: 'docker.io/library/python:3.12' }, pool: '', tasks: [] } };
  const b = {
    pool(pool: string) {
      obj.spec.pool = pool;
      return b;
    },
    distribution(d: Job['spec']['distribution']) {
      obj.spec.distribution = d;
      return b;
    },
    task(task: Job['spec']['tasks'][number]) {
      obj.spec.tasks.push(task);
      return b;
    },
    policy(policy: Job['spec']['policy']) {
      obj.spec.policy = policy;
      return b;
    },
    priorityClass(name: string) {
      obj.spec.priorityClassName = name;
      return b;
    },
    with(extra: Partial<Job['spec']>) {
      Object.assign(obj.spec, extra);
      return b;
    },
    obj: () => obj,
    create: (kc: KubeConfig) => createNamespaced<Job>(kc, 'jobs', obj),
  };
  return b;
}
