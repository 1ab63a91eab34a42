/**
 * The admission controller: one work item ("cycle") that snapshots the caches and runs the
 * pure admission cycle, then writes each admitted job's reservation into its status (the
 * only record of it: quota use is always recomputed from job statuses, so a restart loses
 * nothing and counts nothing twice) and tells waiting jobs why they wait.
 */
import type { Job } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { JobConditions as C, JobReasons as R } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { parseResources, type Resources } from '../../apis/quantity.js';
import { admissionCycle, type ActiveReservation, type Admission, type PendingWorkload, type PoolNodes, type Waiting } from '../admission/cycle.js';
import { describeAccelerators, gangSize, resolveTask, type PodSet } from '../admission/gang.js';
import type { NodeState } from '../admission/placement.js';
import { quotaState, type QuotaState } from '../admission/quota.js';
import { schedulingCaches, podIndexes } from '../cluster/caches.js';
import { matchesLabels, nodeStates, poolNodeSelector, requestsByNode, schedulable } from '../cluster/nodes.js';
import type { ControllerContext } from '../context.js';
import { holdsReservation } from '../quota/status.js';
import { octopus } from '../resources.js';
import { findCondition, isConflict, setCondition, type Condition, type Controller } from '../runtime/index.js';
import { rfc3339 } from '../runtime/time.js';
import { labels } from './pods.js';
import { AdmissionMetrics } from './metrics.js';

export const admissionCycleKey = 'cycle';

/** A waiting job's message (which carries changing numbers) is refreshed at most this often; its reason at once. */
const waitingMessageRefreshMs = 60_000;
/** Cycles run back to back under churn; this gap lets a burst of events fold into one. */
const minCycleGapMs = 100;
/** Status writes in flight at once, so a cycle admitting hundreds of jobs does not take minutes. */
const writeConcurrency = 16;

async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: Math.min(limit, queue.length) }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
  }));
}

export function setupAdmission(ctx: ControllerContext, onAdmitted: (jobKey: string) => void): Controller {
  const { manager, options } = ctx;
  const caches = schedulingCaches(manager);
  const metrics = new AdmissionMetrics(manager.registry, caches);
  const tag = { key: options.resourceTagKey, valuePrefix: options.resourceTagValuePrefix };
  const messageWrittenAt = new Map<string, number>();
  let lastCycleEnd = 0;

  function pending(now: number): PendingWorkload[] {
    const specs = new Map(caches.specs.list().map((s) => [s.metadata.name!, s]));
    const out: PendingWorkload[] = [];
    for (const job of caches.jobs.list()) {
      const s = job.status;
      if (s?.phase !== 'Queued' || job.spec.suspend || s.admission) continue;
      if (findCondition(s.conditions as Condition[] | undefined, C.ReferencesResolved)?.status !== 'True') continue;
      if (s.backoffUntil && Date.parse(s.backoffUntil) > now) continue;
      const podSets: (PodSet & { path: string })[] = [];
      for (const [i, task] of job.spec.tasks.entries()) {
        const r = resolveTask(task, specs, job.spec.shmSize);
        if (!r.ok) break;
        podSets.push({ ...r.podSet, path: `spec.tasks[${i}]` });
      }
      if (podSets.length !== job.spec.tasks.length) continue;
      out.push({
        key: `${job.metadata.namespace}/${job.metadata.name}`,
        namespace: job.metadata.namespace!,
        priority: job.spec.priority ?? 0,
        createdAt: Date.parse(job.metadata.creationTimestamp as unknown as string),
        pool: job.spec.pool,
        podSets,
      });
    }
    return out;
  }

  /** Pods of an admitted gang that have no node yet will need room the snapshot does not show. */
  function unbound(job: Job): PodSet[] {
    const attempt = String(job.status!.attempt ?? 0);
    const bound = new Map<string, number>();
    for (const pod of caches.pods.byIndex(podIndexes.job, `${job.metadata.namespace}/${job.metadata.name}`)) {
      const l = pod.metadata?.labels ?? {};
      if (l[labels.attempt] !== attempt || !pod.spec?.nodeName) continue;
      bound.set(l[labels.task]!, (bound.get(l[labels.task]!) ?? 0) + 1);
    }
    return job.status!.admission!.podSets
      .map((ps) => ({ task: ps.task, count: Math.max(0, ps.count - (bound.get(ps.task) ?? 0)), requests: parseResources(ps.resources), ...(ps.nodeSelector ? { nodeSelector: ps.nodeSelector } : {}) }))
      .filter((ps) => ps.count > 0);
  }

  function active(): ActiveReservation[] {
    return caches.jobs
      .list()
      .filter(holdsReservation)
      .map((job) => ({
        namespace: job.metadata.namespace!,
        pool: job.status!.admission!.pool,
        total: parseResources(job.status!.admission!.total),
        unbound: unbound(job),
      }));
  }

  function pools(): Map<string, PoolNodes> {
    const used: Map<string, Resources> = requestsByNode(caches.pods.list());
    const all = caches.nodes.list();
    const states = new Map<string, NodeState>(nodeStates(all, used).map((s) => [s.name, s]));
    const out = new Map<string, PoolNodes>();
    for (const pool of caches.pools.list()) {
      const selector = poolNodeSelector(pool, tag);
      const tolerations = pool.spec.tolerations ?? [];
      const nodes = all.filter((n) => matchesLabels(n.metadata?.labels, selector) && schedulable(n, tolerations)).map((n) => states.get(n.metadata!.name!)!);
      out.set(pool.metadata.name!, { name: pool.metadata.name!, nodes });
    }
    return out;
  }

  function quotas(): Map<string, QuotaState[]> {
    const out = new Map<string, QuotaState[]>();
    for (const q of caches.quotas.list()) {
      const list = out.get(q.metadata.namespace!) ?? [];
      list.push(quotaState(q));
      out.set(q.metadata.namespace!, list);
    }
    return out;
  }

  async function admit(a: Admission, now: number): Promise<void> {
    const job = caches.jobs.get(a.key);
    if (!job) return;
    const total = parseResources(a.total);
    const size = gangSize({ podSets: a.podSets.map((p) => ({ task: p.task, count: p.count, requests: new Map() })) });
    const accelerators = describeAccelerators(total);
    const message = `reserved ${size} pods in pool ${a.pool}${accelerators ? ` (${accelerators})` : ''}`;
    const status = {
      ...structuredClone(job.status!),
      phase: 'Admitted' as const,
      admission: { pool: a.pool, admittedAt: rfc3339(now), podSets: a.podSets, total: a.total },
      attemptStartTime: rfc3339(now),
      pods: `0/${size}`,
      ...(accelerators ? { accelerators } : {}),
    };
    delete status.backoffUntil;
    status.conditions = setCondition(status.conditions as Condition[] | undefined, { type: C.Admitted, status: 'True', reason: R.QuotaReserved, message }, job.metadata.generation, now);
    try {
      await manager.client.updateStatusIfChanged(octopus.Job, job, status);
    } catch (err) {
      // The job changed since the snapshot (suspended, edited): the next cycle sees it anew.
      if (isConflict(err)) return;
      throw err;
    }
    messageWrittenAt.delete(a.key);
    metrics.admitted(job, now);
    manager.events.record({ regarding: job, type: 'Normal', reason: 'Admitted', note: message });
    onAdmitted(a.key);
  }

  async function tellWaiting(w: Waiting, now: number): Promise<void> {
    const job = caches.jobs.get(w.key);
    if (!job?.status) return;
    const current = findCondition(job.status.conditions as Condition[] | undefined, C.Admitted);
    const reasonChanged = current?.reason !== w.reason;
    if (!reasonChanged && (current?.message === w.message || now - (messageWrittenAt.get(w.key) ?? 0) < waitingMessageRefreshMs)) return;
    const status = { ...structuredClone(job.status), conditions: setCondition(job.status.conditions as Condition[] | undefined, { type: C.Admitted, status: 'False', reason: w.reason, message: w.message }, job.metadata.generation, now) };
    try {
      await manager.client.updateStatusIfChanged(octopus.Job, job, status);
    } catch (err) {
      if (isConflict(err)) return;
      throw err;
    }
    messageWrittenAt.set(w.key, now);
    if (reasonChanged) manager.events.record({ regarding: job, type: 'Normal', reason: w.reason, note: w.message });
  }

  const controller = manager.addController({
    name: 'admission',
    concurrency: 1,
    reconcile: async () => {
      const started = manager.clock.now();
      if (started - lastCycleEnd < minCycleGapMs) return { requeueAfterMs: minCycleGapMs - (started - lastCycleEnd) };
      const result = admissionCycle({ pending: pending(started), active: active(), pools: pools(), quotas: quotas(), policies: caches.policies.list() });
      metrics.cycle(result, manager.clock.now() - started);
      await inParallel(result.admitted, writeConcurrency, (a) => admit(a, started));
      await inParallel(result.waiting, writeConcurrency, (w) => tellWaiting(w, started));
      lastCycleEnd = manager.clock.now();
      for (const key of messageWrittenAt.keys()) if (!caches.jobs.get(key)) messageWrittenAt.delete(key);
      // Jobs in backoff become eligible by time alone.
      const backoffs = caches.jobs
        .list()
        .map((j) => (j.status?.phase === 'Queued' && j.status.backoffUntil ? Date.parse(j.status.backoffUntil) - lastCycleEnd : undefined))
        .filter((d): d is number => d !== undefined && d > 0);
      return backoffs.length ? { requeueAfterMs: Math.min(...backoffs) } : undefined;
    },
  });
  const cycle = () => [admissionCycleKey];
  controller
    .watches(caches.jobs, cycle)
    .watches(caches.pods, cycle)
    .watches(caches.nodes, cycle)
    .watches(caches.quotas, cycle)
    .watches(caches.policies, cycle)
    .watches(caches.pools, cycle)
    .watches(caches.specs, cycle);
  return controller;
}
