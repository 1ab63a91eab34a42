/**
 * A gang as admission sees it: pod sets with resolved per-pod requests. Resolving a task's
 * requests (inline resources or a ResourceSpec preset) is shared by the Job controller and
 * the webhooks, so both judge the same numbers.
 */
import type { Job, ResourcePool, ResourceSpec } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { addResources, display, formatDecimal, isBytes, isDeviceResource, parseQuantity, parseResources, scaleResources, type Resources } from '../../apis/quantity.js';

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

/** A Notebook's or ModelService's pods as one task: `replicas` pods of its resourceSpec or resources. */
export function singleRoleTask(name: string, replicas: number, spec: Pick<TaskSpec, 'resourceSpec' | 'resources'>): TaskSpec {
  return { name, replicas, ...(spec.resourceSpec !== undefined ? { resourceSpec: spec.resourceSpec } : {}), ...(spec.resources !== undefined ? { resources: spec.resources } : {}) };
}

export type ResolveResult = { ok: true; podSet: PodSet } | { ok: false; missing: string };

/**
 * cpu and memory of a pod that names none, when its pool sets no defaultRequests: no workload pod
 * is BestEffort, so every pod is counted against the Quota and kept by the kubelet under pressure.
 */
export const platformDefaultRequests: Readonly<Record<'cpu' | 'memory', string>> = { cpu: '100m', memory: '128Mi' };

/** What a pool adds to the pods admitted into it: prices of inline resources and default requests. */
export type PoolTerms = Pick<ResourcePool['spec'], 'pricesPerHour' | 'defaultRequests'>;

const micro = 1_000_000n;
const gibMillis = 1000n * 1024n ** 3n;

/** A decimal price ("0.05", up to 6 decimals) in millionths. */
function parseMicros(price: string): bigint {
  const [whole = '0', fraction = ''] = price.split('.');
  return BigInt(whole) * micro + BigInt(fraction.padEnd(6, '0').slice(0, 6));
}

/**
 * Price of one pod-hour from the pool's per-resource prices: Σ price × amount, memory-like resources
 * by the GiB; rounded up to a thousandth, so no priced request costs nothing.
 */
export function poolPrice(requests: Resources, prices: Readonly<Record<string, string>>): string | undefined {
  let millis = 0n;
  let priced = false;
  for (const [name, amount] of requests) {
    const price = prices[name];
    if (price === undefined || amount <= 0n) continue;
    priced = true;
    // amount is in milli-units: price × amount/1000 units, in thousandths of the currency.
    const denominator = isBytes(name) ? micro * gibMillis / 1000n : micro;
    const numerator = parseMicros(price) * amount;
    millis += numerator / denominator + (numerator % denominator === 0n ? 0n : 1n);
  }
  return priced ? formatDecimal(millis) : undefined;
}

/**
 * Requests of one pod of a task. Extended resources given only as limits count as requests,
 * as core/v1 defaults them; cpu and memory come from the pool's defaults (else the platform's)
 * when the task names none. The price is the ResourceSpec's, else the pool's for these requests.
 */
export function resolveTask(task: TaskSpec, specs: ReadonlyMap<string, ResourceSpec>, jobShmSize?: string | number, pool: PoolTerms = {}): ResolveResult {
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
  const defaults = parseResources({ ...platformDefaultRequests, ...pool.defaultRequests });
  for (const name of ['cpu', 'memory'] as const) {
    if (!requests.has(name) && defaults.has(name)) requests.set(name, defaults.get(name)!);
  }
  pricePerHour ??= pool.pricesPerHour ? poolPrice(requests, pool.pricesPerHour) : undefined;
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
