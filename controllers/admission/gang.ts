/**
 * A gang as admission sees it: pod sets with resolved per-pod requests. Resolving a task's
 * requests (inline resources or a ResourceSpec preset) is shared by the Job controller and
 * the webhooks, so both judge the same numbers.
 */
import type { Job, ResourceSpec } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { addResources, display, isDeviceResource, parseQuantity, parseResources, scaleResources, type Resources } from '../../apis/quantity.js';

export interface PodSet {
  task: string;
  count: number;
  /** Requests of one pod. */
  requests: Resources;
  /** Size of /dev/shm in milli-bytes, when set. */
  shmSize?: bigint;
  pricePerHour?: string;
  /** Node labels the pods require beyond the pool's (e.g. added by a DevicePolicy). */
  nodeSelector?: Readonly<Record<string, string>>;
}

export interface Gang {
  podSets: PodSet[];
}

export type TaskSpec = Job['spec']['tasks'][number];

export type ResolveResult = { ok: true; podSet: PodSet } | { ok: false; missing: string };

/**
 * Requests of one pod of a task. Extended resources given only as limits count as requests,
 * as core/v1 defaults them.
 */
export function resolveTask(task: TaskSpec, specs: ReadonlyMap<string, ResourceSpec>, jobShmSize?: string | number): ResolveResult {
  let resources = task.resources;
  let shm = task.shmSize ?? jobShmSize;
  let pricePerHour: string | undefined;
  if (task.resourceSpec) {
    const spec = specs.get(task.resourceSpec);
    if (!spec) return { ok: false, missing: task.resourceSpec };
    resources = spec.spec.resources;
    shm = task.shmSize ?? jobShmSize ?? spec.spec.shmSize;
    pricePerHour = spec.spec.pricePerHour;
  }
  const requests = parseResources(resources?.requests);
  for (const [name, value] of parseResources(resources?.limits)) {
    if (!requests.has(name) && isDeviceResource(name)) requests.set(name, value);
  }
  const podSet: PodSet = { task: task.name, count: task.replicas ?? 1, requests };
  if (shm !== undefined) podSet.shmSize = parseQuantity(shm);
  if (pricePerHour !== undefined) podSet.pricePerHour = pricePerHour;
  return { ok: true, podSet };
}

export function gangTotal(gang: Gang): Resources {
  return addResources(...gang.podSets.map((p) => scaleResources(p.requests, p.count)));
}

export function gangSize(gang: Gang): number {
  return gang.podSets.reduce((n, p) => n + p.count, 0);
}

/** "8 nvidia.com/gpu" — what a user scans for in `kubectl get ojob`. */
export function describeAccelerators(total: Resources): string {
  const parts = [...total].filter(([name, v]) => isDeviceResource(name) && v > 0n).map(([name, v]) => `${display(name, v)} ${name}`);
  return parts.join(', ');
}
