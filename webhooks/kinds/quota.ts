/**
 * Quota at the door. A Job, Notebook or ModelService whose gang alone exceeds a hard limit of a Quota in its namespace
 * (overall, or for its pool) can never be admitted, and one created while the budget is spent would only
 * wait for money: both are denied. One that merely does not fit now is allowed — it queues — with a
 * warning that says what it waits for. Lowering a Quota below what is in use is legal (running work keeps
 * its reservation) but worth a warning. Where the Workspace requires quota, a gang asking for a
 * resource no Quota names is warned about: it is legal (an admin may add the Quota later) but waits.
 */
import type { Job, Quota } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { display, parseResources, type Resources } from '../../apis/quantity.js';
import { budgetProblems, neverFits, noQuotaMessage, notNow, unlimitedResources, type QuotaProblem, type QuotaState } from '../../controllers/admission/quota.js';
import type { FieldError } from '../admission.js';
import type { Check } from './check.js';
import { changedGang, workloadGang, type GangWorkload, type Gangs, type WorkloadGang } from './workload.js';

/** Audit annotation key; the apiserver records it as `<webhook name>/quota`. */
export const quotaAnnotation = 'quota';

/** The rule, resolving gangs through `gangs` (shared with the device-policy rule of the same request). */
export function validateQuota(gangs: Gangs = workloadGang): Check<GangWorkload> {
  return (ctx, lookups) => {
    const gang = changedGang(ctx, lookups, gangs);
    if (gang === undefined) return { errors: [] };
    const namespace = ctx.namespace ?? '';
    const quotas = lookups.quotas(namespace);
    const uncounted = gang.unresolved.length > 0 ? `; not counted: resourceSpec ${gang.unresolved.join(', ')} (not found)` : '';
    const unlimited = lookups.requireQuota(namespace) ? unlimitedResources(quotas, gang.pool, gang.total) : [];
    const noQuota = unlimited.length > 0 ? [`${gang.path}: waits (NoQuota): ${noQuotaMessage(namespace, unlimited)}`] : [];
    if (quotas.length === 0) return { errors: [], ...(noQuota.length > 0 ? { warnings: noQuota } : {}), auditAnnotations: { [quotaAnnotation]: `allowed: no Quota in namespace ${namespace}${uncounted}` } };
    // Only a Job that may be preempted borrows from a cohort: anything else must fit its hard limits.
    const mayBorrow = ctx.kind.kind === 'Job' && (ctx.object as Job).spec.preemptible !== false;
    const errors: FieldError[] = neverFits(quotas, gang.pool, gang.total, { mayBorrow }).map((p) => ({ path: gang.path, message: p.message }));
    // A spent budget stops new work; an update of existing work was paid for when it was admitted.
    if (ctx.operation === 'CREATE') errors.push(...budgetProblems(quotas).map((p) => ({ path: 'metadata.namespace', message: p.message })));
    if (errors.length > 0) return { errors, auditAnnotations: { [quotaAnnotation]: `denied: ${errors.map((e) => e.message).join('; ')}` } };
    const cohortOf = new Map(quotas.map((q) => [q.name, q.cohort]));
    const waits = (p: QuotaProblem) => {
      const cohort = mayBorrow && p.pool === undefined ? cohortOf.get(p.quota) : undefined;
      return cohort ? `${gang.path}: borrows from cohort ${cohort} if its members lend enough, else queues until quota frees up, ${p.message}` : `${gang.path}: queues until quota frees up, ${p.message}`;
    };
    const warnings = [...noQuota, ...notNow(quotas, gang.pool, gang.total).map(waits)];
    return { errors: [], warnings, auditAnnotations: { [quotaAnnotation]: `allowed: ${usage(quotas, gang)}${uncounted}` } };
  };
}

/** `nvidia.com/gpu 4 of 8 (Quota gpu)`: what the gang asks of each limit that applies to it. */
function usage(quotas: readonly QuotaState[], gang: WorkloadGang): string {
  const parts: string[] = [];
  for (const q of quotas) {
    const poolHard = q.poolHard.get(gang.pool);
    const scopes: [string, Resources][] = [[`Quota ${q.name}`, q.hard], ...(poolHard ? [[`Quota ${q.name} in pool ${gang.pool}`, poolHard] as [string, Resources]] : [])];
    for (const [scope, hard] of scopes) {
      for (const [resource, limit] of hard) {
        const asked = gang.total.get(resource) ?? 0n;
        if (asked > 0n) parts.push(`${resource} ${display(resource, asked)} of ${display(resource, limit)} (${scope})`);
      }
    }
  }
  return parts.length > 0 ? parts.join(', ') : 'requests nothing a Quota limits';
}

/** Warns when an update lowers a limit, or adds one, below what admitted workloads hold now. */
export const warnQuotaLowered: Check<Quota> = (ctx) => {
  if (ctx.operation !== 'UPDATE') return { errors: [] };
  const { object: quota, oldObject: old } = ctx;
  // Status is not the user's to write and not schema-checked here: a value that does not parse warns about nothing.
  const status = quota.status ?? old.status;
  const used = tryParse(status?.used);
  const poolUsed = new Map((status?.pools ?? []).map((p) => [p.name, tryParse(p.used)]));
  const oldPools = new Map((old.spec.pools ?? []).map((p) => [p.name, p.hard]));
  const scopes = [
    { path: 'spec.hard', hard: quota.spec.hard, before: old.spec.hard, used },
    ...(quota.spec.pools ?? []).map((p, i) => ({ path: `spec.pools[${i}].hard`, hard: p.hard, before: oldPools.get(p.name), used: poolUsed.get(p.name) })),
  ];
  const warnings: string[] = [];
  for (const { path, hard, before, used: inUse } of scopes) {
    const previous = tryParse(before) ?? new Map<string, bigint>();
    for (const [resource, limit] of tryParse(hard) ?? []) {
      const held = inUse?.get(resource);
      const lowered = previous.get(resource) === undefined || limit < previous.get(resource)!;
      if (held !== undefined && limit < held && lowered) {
        warnings.push(`${path}[${resource}]: ${display(resource, limit)} is below the ${display(resource, held)} in use; admitted workloads keep it, new ones queue until use drops`);
      }
    }
  }
  return { errors: [], warnings };
};

function tryParse(list: Record<string, string | number> | undefined): Resources | undefined {
  try {
    return list === undefined ? undefined : parseResources(list);
  } catch {
    return undefined;
  }
}
