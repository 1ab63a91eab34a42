/**
 * One admission cycle over a snapshot of the cluster, as a pure function: which queued
 * workloads to admit now and why the others wait. Order: priority (higher first), then
 * creation time, then name. Best-effort FIFO, as Kueue's default: a workload that cannot be
 * admitted does not block smaller ones behind it (utilisation first; a large gang can wait
 * long on a busy pool — preemption is the remedy, not yet built).
 *
 * All-or-nothing: a workload is admitted only when (a) every Quota of its namespace has room
 * for the whole gang, (b) the pool can place every pod on a node's free allocatable, given
 * what runs and what earlier admissions will take, and (c) every DevicePolicy allows it. In a
 * Workspace that requires quota (the default), a gang asking for a resource no Quota names
 * waits (NoQuota): fail closed. A ModelService scaling up is pending for its added replicas
 * only; its running ones already hold their reservation.
 */
import type { DevicePolicy } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { addResources, display, formatQuantity, formatResources, fits, type Resources } from '../../apis/quantity.js';
import { deviceNodeSelector, deviceViolations } from './device-policy.js';
import { gangSize, gangTotal, type PodSet } from './gang.js';
import { placeGang, type NodeState } from './placement.js';
import { budgetProblems, noQuotaMessage, notNow, unlimitedResources, type QuotaState } from './quota.js';

export interface PendingWorkload {
  key: string;
  namespace: string;
  priority: number;
  createdAt: number;
  pool: string;
  /** Pod sets in spec order; `path` names each one's source for DevicePolicy messages. */
  podSets: (PodSet & { path: string })[];
  /** Every requested resource must be limited by some Quota of the namespace (Workspace spec.requireQuota). */
  requireQuota: boolean;
  /**
   * The gang DevicePolicies judge when it differs from podSets: a ModelService scaling up asks quota and
   * capacity for its added replicas, but a per-job maximum counts every replica it would then hold.
   */
  wholeGang?: (PodSet & { path: string })[];
}

export interface ActiveReservation {
  namespace: string;
  pool: string;
  total: Resources;
  /** Pods admitted but not yet bound to a node: they will take room the snapshot does not show yet. */
  unbound: PodSet[];
}

export interface PoolNodes {
  name: string;
  /** Eligible nodes (labels, readiness and taints already checked), shared between pools. */
  nodes: NodeState[];
}

export interface CycleInput {
  pending: PendingWorkload[];
  active: ActiveReservation[];
  pools: ReadonlyMap<string, PoolNodes>;
  /** Quotas by namespace, with spec and consumption (usage is recomputed from `active`). */
  quotas: ReadonlyMap<string, QuotaState[]>;
  policies: readonly DevicePolicy[];
}

export interface Admission {
  key: string;
  pool: string;
  podSets: { task: string; count: number; resources: Record<string, string>; shmSize?: string; pricePerHour?: string; nodeSelector?: Record<string, string> }[];
  total: Record<string, string>;
}

export type WaitReason = 'QuotaExceeded' | 'BudgetExhausted' | 'NoQuota' | 'InsufficientCapacity' | 'DevicePolicyDenied' | 'PoolNotFound';

export interface Waiting {
  key: string;
  reason: WaitReason;
  message: string;
}

export interface CycleResult {
  admitted: Admission[];
  waiting: Waiting[];
}

export function order(a: PendingWorkload, b: PendingWorkload): number {
  return b.priority - a.priority || a.createdAt - b.createdAt || a.key.localeCompare(b.key);
}

interface Usage {
  total: Resources;
  byPool: Map<string, Resources>;
}

function usageByNamespace(active: ActiveReservation[]): Map<string, Usage> {
  const out = new Map<string, Usage>();
  for (const r of active) {
    const u = out.get(r.namespace) ?? { total: new Map(), byPool: new Map() };
    u.total = addResources(u.total, r.total);
    u.byPool.set(r.pool, addResources(u.byPool.get(r.pool) ?? new Map(), r.total));
    out.set(r.namespace, u);
  }
  return out;
}

function withUsage(quotas: QuotaState[], usage: Usage | undefined): QuotaState[] {
  return quotas.map((q) => ({ ...q, used: usage?.total ?? new Map(), poolUsed: usage?.byPool ?? new Map() }));
}

/** Per pool, per-pod requests that found no node this cycle: anything at least as big will not either. */
class Misses {
  private readonly byPool = new Map<string, Resources[]>();

  record(pool: string, requests: Resources): void {
    const list = this.byPool.get(pool) ?? [];
    list.push(requests);
    this.byPool.set(pool, list);
  }

  dominated(pool: string, podSets: PodSet[]): PodSet | undefined {
    const misses = this.byPool.get(pool);
    if (!misses) return undefined;
    // A pod set whose requests cover a missed one in every resource cannot fit either.
    return podSets.find((ps) => misses.some((m) => fits(m, ps.requests)));
  }
}

function freeTotal(nodes: NodeState[]): Resources {
  return addResources(...nodes.map((n) => n.free));
}

/** Names the first resource the gang wants more of than the pool has free on all its nodes together. */
function shortfall(wanted: Resources, free: Resources): string {
  const [key, amount] = [...wanted].find(([k, v]) => v > (free.get(k) ?? 0n))!;
  return `it needs ${display(key, amount)} ${key}, ${display(key, free.get(key) ?? 0n)} are free on its nodes together`;
}

export function admissionCycle(input: CycleInput): CycleResult {
  const admitted: Admission[] = [];
  const waiting: Waiting[] = [];
  const misses = new Misses();

  for (const r of input.active) {
    const pool = input.pools.get(r.pool);
    // Best effort: if an admitted gang no longer fits (nodes went away), the pods stay Pending
    // and its pods-ready timeout requeues it; the snapshot simply cannot reserve for it.
    if (pool && r.unbound.length > 0) placeGang(pool.nodes, { podSets: r.unbound });
  }
  const usage = usageByNamespace(input.active);

  for (const w of [...input.pending].sort(order)) {
    const wait = (reason: WaitReason, message: string) => waiting.push({ key: w.key, reason, message });
    const pool = input.pools.get(w.pool);
    if (!pool) {
      wait('PoolNotFound', `ResourcePool ${w.pool} does not exist`);
      continue;
    }
    const quotas = withUsage(input.quotas.get(w.namespace) ?? [], usage.get(w.namespace));
    const budget = budgetProblems(quotas);
    if (budget.length > 0) {
      wait('BudgetExhausted', budget.map((p) => p.message).join('; '));
      continue;
    }
    const total = gangTotal({ podSets: w.podSets });
    const unlimited = w.requireQuota ? unlimitedResources(quotas, w.pool, total) : [];
    if (unlimited.length > 0) {
      wait('NoQuota', noQuotaMessage(w.namespace, unlimited));
      continue;
    }
    const quota = notNow(quotas, w.pool, total);
    if (quota.length > 0) {
      wait('QuotaExceeded', quota.map((p) => p.message).join('; '));
      continue;
    }
    const denied = deviceViolations(input.policies, { namespace: w.namespace, pool: w.pool, podSets: w.wholeGang ?? w.podSets });
    if (denied.length > 0) {
      wait('DevicePolicyDenied', denied.map((v) => v.message).join('; '));
      continue;
    }
    const podSets = w.podSets.map((ps) => {
      const nodeSelector = deviceNodeSelector(input.policies, ps.requests);
      return Object.keys(nodeSelector).length > 0 ? { ...ps, nodeSelector } : ps;
    });
    const free = freeTotal(pool.nodes);
    if (!fits(total, free)) {
      wait('InsufficientCapacity', `pool ${w.pool} has no room now for the whole gang of ${gangSize({ podSets })} pods: ${shortfall(total, free)}`);
      continue;
    }
    const blocked = misses.dominated(w.pool, podSets);
    if (blocked) {
      wait('InsufficientCapacity', `pool ${w.pool} has no room now: no node fits a pod of task ${blocked.task}: a pod needing no more found none earlier in this cycle`);
      continue;
    }
    const placed = placeGang(pool.nodes, { podSets });
    if (!placed.ok) {
      misses.record(w.pool, placed.unplaced.requests);
      wait('InsufficientCapacity', `pool ${w.pool} has no room now: ${placed.message}`);
      continue;
    }
    const u = usage.get(w.namespace) ?? { total: new Map(), byPool: new Map() };
    u.total = addResources(u.total, total);
    u.byPool.set(w.pool, addResources(u.byPool.get(w.pool) ?? new Map(), total));
    usage.set(w.namespace, u);
    admitted.push({
      key: w.key,
      pool: w.pool,
      podSets: podSets.map((ps) => ({
        task: ps.task,
        count: ps.count,
        resources: formatResources(ps.requests),
        ...(ps.shmSize !== undefined ? { shmSize: formatQuantity(ps.shmSize, { binary: true }) } : {}),
        ...(ps.pricePerHour !== undefined ? { pricePerHour: ps.pricePerHour } : {}),
        ...(ps.nodeSelector ? { nodeSelector: { ...ps.nodeSelector } } : {}),
      })),
      total: formatResources(total),
    });
  }
  return { admitted, waiting };
}
