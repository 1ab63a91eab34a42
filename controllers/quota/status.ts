/**
 * A Quota's status from the workloads holding reservations in its namespace. Consumption is
 * integrated over time: each write adds the previous reservations × the time since
 * `accountedAt`, in the same status write that moves `accountedAt` — so a crash loses nothing
 * and counts nothing twice, and a job deleted after it ran leaves its consumption behind.
 */
import type { Quota } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { QuotaConditions, QuotaReasons } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { addResources, display, formatDecimal, formatQuantity, formatResources, isDeviceResource, parseQuantity, parseResources, subtractResources, type Resources } from '../../apis/quantity.js';
import { budgetProblems, quotaState } from '../admission/quota.js';
import { headOfLine, reservations, waitingWorkloads, type Holders } from '../admission/workloads.js';
import { semanticEqual, setCondition, type Condition } from '../runtime/index.js';
import { rfc3339 } from '../runtime/time.js';

export type QuotaStatus = NonNullable<Quota['status']>;

const msPerHour = 3_600_000n;

function sumDevices(r: Resources): bigint {
  let n = 0n;
  for (const [k, v] of r) if (isDeviceResource(k)) n += v;
  return n;
}

function usedOfHard(name: string, used: bigint, hard: bigint | undefined): string | undefined {
  return hard === undefined ? undefined : `${display(name, used)}/${display(name, hard)}`;
}

/** Weighted dominant-resource share, as the admission queue orders workspaces by it (6 decimals). */
function share(used: Resources, hard: Resources, weight: number): string {
  let dominant = 0;
  for (const [k, h] of hard) if (h > 0n) dominant = Math.max(dominant, Number(used.get(k) ?? 0n) / Number(h));
  return (dominant / weight).toFixed(6).replace(/\.?0+$/, '') || '0';
}

export function quotaStatus(quota: Quota, holders: Holders, now: number): QuotaStatus {
  const previous = quota.status ?? {};
  const active = reservations(holders);
  const used = addResources(...active.map((r) => r.total));
  const byPool = new Map<string, Resources>();
  for (const r of active) if (r.pool !== '') byPool.set(r.pool, addResources(byPool.get(r.pool) ?? new Map(), r.total));
  const costPerHour = active.reduce((sum, r) => sum + r.costPerHour, 0n);

  // Integrate what was reserved since the last accounting, at the rate then in force.
  const since = previous.accountedAt ? Date.parse(previous.accountedAt) : now;
  const elapsed = BigInt(Math.max(0, now - since));
  const consumed = new Map(parseResources(previous.consumed));
  for (const [k, v] of parseResources(previous.used)) consumed.set(k, (consumed.get(k) ?? 0n) + (v * elapsed) / msPerHour);
  const previousRate = previous.costPerHour ? parseQuantity(previous.costPerHour) : 0n;
  const cost = (previous.cost ? parseQuantity(previous.cost) : 0n) + (previousRate * elapsed) / msPerHour;

  const hard = parseResources(quota.spec.hard);
  const hardDevices = [...hard.keys()].some(isDeviceResource) ? sumDevices(hard) : undefined;
  const summary = {
    cpu: usedOfHard('cpu', used.get('cpu') ?? 0n, hard.get('cpu')),
    memory: usedOfHard('memory', used.get('memory') ?? 0n, hard.get('memory')),
    accelerators: hardDevices === undefined ? undefined : `${formatQuantity(sumDevices(used))}/${formatQuantity(hardDevices)}`,
  };

  const waiting = waitingWorkloads(holders);
  const head = headOfLine(waiting);
  const borrowed = new Map([...subtractResources(used, hard)].filter(([k, v]) => v > 0n && hard.has(k)));

  const status: QuotaStatus = {
    observedGeneration: quota.metadata.generation,
    used: formatResources(used),
    pools: [...byPool].sort(([a], [b]) => a.localeCompare(b)).map(([name, u]) => ({ name, used: formatResources(u) })),
    admitted: active.filter((r) => r.kind !== 'Pod').length,
    queued: waiting.length,
    ...(head ? { headOfLine: `${head.kind}/${head.name}` } : {}),
    ...(quota.spec.cohort && borrowed.size > 0 ? { borrowed: formatResources(borrowed) } : {}),
    share: share(used, hard, quota.spec.weight ?? 1),
    consumed: formatResources(consumed),
    cost: formatDecimal(cost),
    costPerHour: formatDecimal(costPerHour),
    accountedAt: rfc3339(now),
    summary: Object.fromEntries(Object.entries(summary).filter(([, v]) => v !== undefined)),
  };
  const budget = budgetProblems([quotaState({ ...quota, status })]);
  const hasBudget = quota.spec.budget !== undefined;
  const condition =
    budget.length > 0
      ? { type: QuotaConditions.BudgetAvailable, status: 'False' as const, reason: QuotaReasons.BudgetExhausted, message: budget.map((b) => b.message).join('; ') }
      : { type: QuotaConditions.BudgetAvailable, status: 'True' as const, reason: hasBudget ? QuotaReasons.WithinBudget : QuotaReasons.NoBudget, message: hasBudget ? 'budget not yet spent' : 'no budget set' };
  status.conditions = setCondition(previous.conditions as Condition[] | undefined, condition, quota.metadata.generation, now);
  return status;
}

/** True when only the accounting moved (time passed under unchanged reservations). */
export function onlyAccountingMoved(previous: QuotaStatus | undefined, next: QuotaStatus): boolean {
  if (!previous) return false;
  // Semantic, not textual: the apiserver hands objects back with their keys sorted.
  const strip = (s: QuotaStatus) => ({ ...s, consumed: undefined, cost: undefined, accountedAt: undefined });
  return semanticEqual(strip(previous), strip(next));
}
