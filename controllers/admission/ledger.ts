/**
 * What every namespace holds during one admission cycle, and the quota rules over it, cohorts
 * included. Usage changes as the cycle admits and preempts; checks always see the latest.
 *
 * Cohorts (as Kueue's): each Quota of a cohort keeps `hard − lendable` for itself and lends the
 * rest (`lendable` = lendingLimit, else all of hard). A namespace may hold up to hard +
 * borrowingLimit of a resource, as long as, summed over the cohort, what members hold beyond
 * what they keep fits in what the members lend. Per-pool limits are never borrowed.
 */
import { addResources, display, subtractResources, type Resources } from '../../apis/quantity.js';
import type { QuotaProblem, QuotaState } from './quota.js';

export interface Usage {
  total: Resources;
  byPool: Map<string, Resources>;
}

function lendable(q: QuotaState, resource: string): bigint {
  const hard = q.hard.get(resource) ?? 0n;
  const limit = q.lendingLimit.get(resource);
  return limit === undefined || limit > hard ? hard : limit;
}

export class Ledger {
  private readonly usage = new Map<string, Usage>();
  /** Cohort members: each Quota with the namespace whose usage it limits. */
  private readonly cohorts = new Map<string, { namespace: string; quota: QuotaState }[]>();

  constructor(private readonly quotas: ReadonlyMap<string, readonly QuotaState[]>) {
    for (const [namespace, list] of quotas) {
      for (const quota of list) {
        if (quota.cohort === undefined) continue;
        const members = this.cohorts.get(quota.cohort) ?? [];
        members.push({ namespace, quota });
        this.cohorts.set(quota.cohort, members);
      }
    }
  }

  quotasOf(namespace: string): readonly QuotaState[] {
    return this.quotas.get(namespace) ?? [];
  }

  used(namespace: string): Usage {
    return this.usage.get(namespace) ?? { total: new Map(), byPool: new Map() };
  }

  add(namespace: string, pool: string, total: ReadonlyMap<string, bigint>): void {
    const u = this.used(namespace);
    this.usage.set(namespace, {
      total: addResources(u.total, total),
      byPool: new Map(u.byPool).set(pool, addResources(u.byPool.get(pool) ?? new Map(), total)),
    });
  }

  remove(namespace: string, pool: string, total: ReadonlyMap<string, bigint>): void {
    const u = this.used(namespace);
    this.usage.set(namespace, {
      total: subtractResources(u.total, total),
      byPool: new Map(u.byPool).set(pool, subtractResources(u.byPool.get(pool) ?? new Map(), total)),
    });
  }

  /** Quota states with this cycle's usage, for the budget and NoQuota checks. */
  withUsage(namespace: string): QuotaState[] {
    const u = this.used(namespace);
    return this.quotasOf(namespace).map((q) => ({ ...q, used: u.total, poolUsed: u.byPool }));
  }

  /** Whether adding `total` keeps the namespace within every hard limit (nothing borrowed). */
  withinNominal(namespace: string, total: Resources): boolean {
    const used = this.used(namespace).total;
    return this.quotasOf(namespace).every((q) => [...q.hard].every(([r, hard]) => (used.get(r) ?? 0n) + (total.get(r) ?? 0n) <= hard));
  }

  /** Whether the namespace holds more than its hard limit of any of `resources` under a Quota of `cohort`. */
  borrowing(namespace: string, cohort: string, resources: Iterable<string>): boolean {
    const used = this.used(namespace).total;
    const wanted = [...resources];
    return this.quotasOf(namespace).some((q) => q.cohort === cohort && wanted.some((r) => q.hard.has(r) && (used.get(r) ?? 0n) > q.hard.get(r)!));
  }

  /** Cohorts `namespace` belongs to through its Quotas. */
  cohortsOf(namespace: string): Set<string> {
    return new Set(this.quotasOf(namespace).flatMap((q) => (q.cohort === undefined ? [] : [q.cohort])));
  }

  /**
   * Why the namespace cannot take `total` more in `pool` now; empty when it can. `mayBorrow` is
   * false for workloads that cannot be preempted: they stay within hard limits.
   */
  problems(namespace: string, pool: string, total: Resources, mayBorrow: boolean): QuotaProblem[] {
    const problems: QuotaProblem[] = [];
    const u = this.used(namespace);
    for (const q of this.quotasOf(namespace)) {
      for (const [r, hard] of q.hard) {
        const asked = total.get(r) ?? 0n;
        if (asked <= 0n) continue;
        const inUse = u.total.get(r) ?? 0n;
        const after = inUse + asked;
        const usage = `${r} ${display(r, inUse)} in use + ${display(r, asked)} requested`;
        if (after <= hard) {
          if (q.cohort !== undefined) this.cohortProblem(q, namespace, r, after, problems);
          continue;
        }
        if (q.cohort === undefined || !mayBorrow) {
          const why = q.cohort !== undefined ? `; it may not borrow from cohort ${q.cohort}: it cannot be preempted` : '';
          problems.push({ quota: q.name, reason: 'QuotaExceeded', message: `waiting for Quota ${q.name}: ${usage} > ${display(r, hard)} hard${why}` });
          continue;
        }
        const borrow = q.borrowingLimit.get(r);
        if (borrow !== undefined && after > hard + borrow) {
          problems.push({
            quota: q.name,
            reason: 'QuotaExceeded',
            message: `waiting for Quota ${q.name}: ${usage} > ${display(r, hard)} hard + ${display(r, borrow)} borrowingLimit`,
          });
          continue;
        }
        this.cohortProblem(q, namespace, r, after, problems);
      }
      const poolHard = q.poolHard.get(pool);
      const poolUsed = u.byPool.get(pool) ?? new Map();
      for (const [r, hard] of poolHard ?? []) {
        const asked = total.get(r) ?? 0n;
        const inUse = poolUsed.get(r) ?? 0n;
        if (asked > 0n && inUse + asked > hard) {
          problems.push({
            quota: q.name,
            pool,
            reason: 'QuotaExceeded',
            message: `waiting for Quota ${q.name} in pool ${pool}: ${r} ${display(r, inUse)} in use + ${display(r, asked)} requested > ${display(r, hard)} hard`,
          });
        }
      }
    }
    return problems;
  }

  /** Σ over the cohort of what members hold beyond what they keep must fit in what they lend. */
  private cohortProblem(q: QuotaState, namespace: string, r: string, after: bigint, out: QuotaProblem[]): void {
    let drawn = 0n;
    let lent = 0n;
    for (const m of this.cohorts.get(q.cohort!) ?? []) {
      if (!m.quota.hard.has(r)) continue;
      const lends = lendable(m.quota, r);
      const holds = m.namespace === namespace && m.quota === q ? after : (this.used(m.namespace).total.get(r) ?? 0n);
      const keeps = m.quota.hard.get(r)! - lends;
      if (holds > keeps) drawn += holds - keeps;
      lent += lends;
    }
    if (drawn <= lent) return;
    out.push({
      quota: q.name,
      reason: 'QuotaExceeded',
      message: `waiting for cohort ${q.cohort} of Quota ${q.name}: ${r} ${display(r, drawn - lent)} more than its members lend (${display(r, lent)}) would be in use`,
    });
  }

  /**
   * Fair-sharing order: the namespace's dominant-resource share (the largest used / hard over its
   * Quotas' limits) divided by the Quota's weight. Namespaces without a Quota share nothing.
   */
  share(namespace: string): number {
    const used = this.used(namespace).total;
    let share = 0;
    for (const q of this.quotasOf(namespace)) {
      for (const [r, hard] of q.hard) {
        const u = used.get(r) ?? 0n;
        const s = hard > 0n ? Number(u) / Number(hard) : u > 0n ? Number.POSITIVE_INFINITY : 0;
        share = Math.max(share, s / q.weight);
      }
    }
    return share;
  }
}
