/**
 * Quota arithmetic shared by the admission loop (does the gang fit now?) and the webhook
 * (can it ever fit, is the budget spent?). Every Quota in a workspace applies; a resource a
 * Quota does not name is not limited by it.
 */
import type { Quota } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { addResources, display, exceeded, parseQuantity, parseResources, type Resources } from '../../apis/quantity.js';

export interface QuotaState {
  name: string;
  hard: Resources;
  poolHard: Map<string, Resources>;
  /** Reserved now by admitted workloads, in total and per pool. */
  used: Resources;
  poolUsed: Map<string, Resources>;
  /** Budget in milli-resource-hours, and in cost units (milli). */
  budgetHours?: Resources;
  budgetCost?: bigint;
  consumedHours: Resources;
  consumedCost: bigint;
  /** Quotas of one cohort lend each other unused hard limits. */
  cohort?: string;
  /** Most it may hold above hard (per resource; absent: whatever the cohort lends). */
  borrowingLimit: Resources;
  /** Most of its hard it lends (per resource; absent: all of it). */
  lendingLimit: Resources;
  weight: number;
}

export function quotaState(q: Quota, used?: { total: Resources; byPool: Map<string, Resources> }): QuotaState {
  const state: QuotaState = {
    name: q.metadata.name!,
    hard: parseResources(q.spec.hard),
    poolHard: new Map((q.spec.pools ?? []).map((p) => [p.name, parseResources(p.hard)])),
    used: used?.total ?? parseResources(q.status?.used),
    poolUsed: used?.byPool ?? new Map((q.status?.pools ?? []).map((p) => [p.name, parseResources(p.used)])),
    consumedHours: parseResources(q.status?.consumed),
    consumedCost: q.status?.cost ? parseQuantity(q.status.cost) : 0n,
    borrowingLimit: parseResources(q.spec.borrowingLimit),
    lendingLimit: parseResources(q.spec.lendingLimit),
    weight: q.spec.weight ?? 1,
  };
  if (q.spec.cohort) state.cohort = q.spec.cohort;
  if (q.spec.budget?.resourceHours) state.budgetHours = parseResources(q.spec.budget.resourceHours);
  if (q.spec.budget?.cost) state.budgetCost = parseQuantity(q.spec.budget.cost);
  return state;
}

export interface QuotaProblem {
  quota: string;
  /** Set when the limit is the Quota's for one pool (never borrowed), not its overall hard. */
  pool?: string;
  reason: 'QuotaExceeded' | 'BudgetExhausted';
  message: string;
}

/** A spent budget stops new work; running work continues (it was paid for when admitted). */
export function budgetProblems(quotas: readonly QuotaState[]): QuotaProblem[] {
  const problems: QuotaProblem[] = [];
  for (const q of quotas) {
    for (const [resource, limit] of q.budgetHours ?? []) {
      const consumed = q.consumedHours.get(resource) ?? 0n;
      if (consumed >= limit) {
        problems.push({
          quota: q.name,
          reason: 'BudgetExhausted',
          message: `budget of Quota ${q.name} is spent: ${display(resource, consumed)} of ${display(resource, limit)} ${resource}-hours consumed`,
        });
      }
    }
    if (q.budgetCost !== undefined && q.consumedCost >= q.budgetCost) {
      problems.push({
        quota: q.name,
        reason: 'BudgetExhausted',
        message: `cost budget of Quota ${q.name} is spent: ${display('cost', q.consumedCost)} of ${display('cost', q.budgetCost)} consumed`,
      });
    }
  }
  return problems;
}

function limitsFor(q: QuotaState, pool: string): { scope: string; hard: Resources; used: Resources; pool?: string }[] {
  const out: { scope: string; hard: Resources; used: Resources; pool?: string }[] = [{ scope: `Quota ${q.name}`, hard: q.hard, used: q.used }];
  const poolHard = q.poolHard.get(pool);
  if (poolHard) out.push({ scope: `Quota ${q.name} in pool ${pool}`, hard: poolHard, used: q.poolUsed.get(pool) ?? new Map(), pool });
  return out;
}

/**
 * The most a gang may ever hold under `q`'s overall limit of `resource`: hard, plus what it may
 * borrow from its cohort (unbounded here when no borrowingLimit names it: what the cohort lends is
 * decided at admission). Workloads that cannot be preempted never borrow.
 */
function ceiling(q: QuotaState, resource: string, mayBorrow: boolean): bigint | undefined {
  const hard = q.hard.get(resource)!;
  if (!mayBorrow || q.cohort === undefined) return hard;
  const borrow = q.borrowingLimit.get(resource);
  return borrow === undefined ? undefined : hard + borrow;
}

/** Requests no amount of waiting can satisfy: the gang alone exceeds a hard limit (plus what it may borrow). */
export function neverFits(quotas: readonly QuotaState[], pool: string, total: Resources, { mayBorrow = true }: { mayBorrow?: boolean } = {}): QuotaProblem[] {
  const problems: QuotaProblem[] = [];
  for (const q of quotas) {
    for (const [resource] of q.hard) {
      const limit = ceiling(q, resource, mayBorrow);
      const requested = total.get(resource) ?? 0n;
      if (limit === undefined || requested <= limit) continue;
      const hard = q.hard.get(resource)!;
      const borrowing = limit > hard ? ` (${display(resource, hard)} hard + ${display(resource, limit - hard)} borrowingLimit)` : '';
      problems.push({
        quota: q.name,
        reason: 'QuotaExceeded',
        message: `requests ${display(resource, requested)} ${resource}, more than the ${display(resource, limit)}${borrowing} that Quota ${q.name} allows`,
      });
    }
    const poolHard = q.poolHard.get(pool);
    for (const e of poolHard ? exceeded(total, poolHard) : []) {
      problems.push({
        quota: q.name,
        reason: 'QuotaExceeded',
        message: `requests ${display(e.resource, e.requested)} ${e.resource}, more than the ${display(e.resource, e.limit)} that Quota ${q.name} in pool ${pool} allows`,
      });
    }
  }
  return problems;
}

/** What keeps the gang waiting now: hard limits minus current reservations. */
export function notNow(quotas: readonly QuotaState[], pool: string, total: Resources): QuotaProblem[] {
  const problems: QuotaProblem[] = [];
  for (const q of quotas) {
    for (const { scope, hard, used, pool: limitedPool } of limitsFor(q, pool)) {
      for (const e of exceeded(addResources(used, total), hard)) {
        const inUse = used.get(e.resource) ?? 0n;
        const asked = total.get(e.resource) ?? 0n;
        problems.push({
          quota: q.name,
          ...(limitedPool !== undefined ? { pool: limitedPool } : {}),
          reason: 'QuotaExceeded',
          message:
            `waiting for ${scope}: ${e.resource} ${display(e.resource, inUse)} in use + ` +
            `${display(e.resource, asked)} requested > ${display(e.resource, e.limit)} hard`,
        });
      }
    }
  }
  return problems;
}

/**
 * Resources the gang requests that no Quota limits, overall or in its pool. Under a Workspace's
 * requireQuota such a gang waits (NoQuota): an admin forgetting a resource must not mean unlimited.
 */
export function unlimitedResources(quotas: readonly QuotaState[], pool: string, total: Resources): string[] {
  const named = new Set<string>();
  for (const q of quotas) {
    for (const k of q.hard.keys()) named.add(k);
    for (const k of q.poolHard.get(pool)?.keys() ?? []) named.add(k);
  }
  return [...total].filter(([k, v]) => v > 0n && !named.has(k)).map(([k]) => k).sort();
}

export function noQuotaMessage(namespace: string, resources: readonly string[]): string {
  return `no Quota in namespace ${namespace} limits ${resources.join(', ')}: Workspace ${namespace} requires one for every requested resource (spec.requireQuota)`;
}
