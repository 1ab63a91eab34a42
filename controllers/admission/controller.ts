/**
 * The admission controller: one work item ("cycle") that snapshots the caches and runs the
 * pure admission cycle over queued Jobs, Notebooks and ModelServices (a service asking for more
 * replicas than it holds), then writes each admitted workload's
 * reservation into its status (the only record of it: quota use is always recomputed from
 * workload statuses, so a restart loses nothing and counts nothing twice) and tells waiting
 * ones why they wait. A ModelService scaled down or suspended gives its reservation back at once.
 */
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import type { Job, ModelService, Notebook, ResourcePool, WorkloadPriorityClass } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { JobConditions as C, JobReasons as R } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { parseCachedResources, parseQuantity, parseResources, type Resources } from '../../apis/quantity.js';
import { schedulingCaches, podIndexes } from '../cluster/caches.js';
import { isTerminal, matchesLabels, nodeStates, podRequests, poolNodeSelector, requestsByNode, schedulable } from '../cluster/nodes.js';
import type { ControllerContext } from '../context.js';
import { preempted } from '../job/lifecycle.js';
import { labels } from '../job/pods.js';
import { octopus } from '../resources.js';
import { findCondition, isConflict, semanticEqual, setCondition, type Condition, type Controller, type ResourceRef } from '../runtime/index.js';
import { rfc3339 } from '../runtime/time.js';
import { admissionCycle, describeKey, type ActiveReservation, type Admission, type Occupied, type PendingWorkload, type PoolNodes, type Preemption, type Waiting } from './cycle.js';
import { describeAccelerators, gangSize, resolveTask, singleRoleTask, type PodSet, type PoolTerms } from './gang.js';
import { AdmissionMetrics } from './metrics.js';
import type { NodeState } from './placement.js';
import { quotaState, type QuotaState } from './quota.js';
import { chargedNamespace, jobHoldsReservation, modelServiceHoldsReservation, notebookHoldsReservation, servingReplicas, servingTask, servingTotal, type WorkloadKind } from './workloads.js';

export const admissionCycleKey = 'cycle';

/** A waiting job's message (which carries changing numbers) is refreshed at most this often; its reason at once. */
const waitingMessageRefreshMs = 60_000;
/** Message-only refreshes of waiting workloads, all of them together, per second (and the most saved up). */
const messageRefreshesPerSecond = 5;
/** Cycles run back to back under churn; this gap lets a burst of events fold into one. */
const minCycleGapMs = 100;
/** Places at the head of a pool's queue: a change there is written at once, further back when due. */
const headOfQueue = 10;
/** Status writes in flight at once, so a cycle admitting hundreds of jobs does not take minutes. */
const writeConcurrency = 16;

async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: Math.min(limit, queue.length) }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
  }));
}

/** Cycle keys name the kind: a Job and a Notebook may share a name. */
function workloadKey(kind: WorkloadKind, obj: KubernetesObject): string {
  return `${kind}/${obj.metadata!.namespace}/${obj.metadata!.name}`;
}

function splitWorkloadKey(key: string): { kind: WorkloadKind; cacheKey: string } {
  const slash = key.indexOf('/');
  return { kind: key.slice(0, slash) as WorkloadKind, cacheKey: key.slice(slash + 1) };
}

function resolved(conditions: unknown): boolean {
  return findCondition(conditions as Condition[] | undefined, C.ReferencesResolved)?.status === 'True';
}

function createdAt(obj: KubernetesObject): number {
  return Date.parse(obj.metadata!.creationTimestamp as unknown as string);
}

export function setupAdmission(ctx: ControllerContext, onJobAdmitted: (jobKey: string) => void): Controller {
  const { manager, options } = ctx;
  const caches = schedulingCaches(manager);
  const metrics = new AdmissionMetrics(manager.registry, caches);
  const tag = { key: options.resourceTagKey, valuePrefix: options.resourceTagValuePrefix };
  const messageWrittenAt = new Map<string, number>();
  let lastCycleEnd = 0;
  let refreshTokens = messageRefreshesPerSecond;
  let tokensAt = 0;

  function poolTerms(name: string): PoolTerms {
    return caches.pools.get(name)?.spec ?? ({} as ResourcePool['spec']);
  }

  /** A Workspace's namespace fails closed unless its Workspace says otherwise; other namespaces are the admin's. */
  function requireQuota(namespace: string): boolean {
    const ws = caches.workspaces.get(namespace);
    return ws !== undefined && ws.spec.requireQuota !== false;
  }

  /** A workload's class as admission applies it; undefined when the class it names does not exist. */
  function priorityClass(className: string | undefined): { value: number; mayPreempt: boolean } | undefined {
    if (className === undefined) return { value: 0, mayPreempt: true };
    const found: WorkloadPriorityClass | undefined = caches.priorityClasses.get(className);
    return found ? { value: found.spec.value, mayPreempt: found.spec.preemptionPolicy !== 'Never' } : undefined;
  }

  /** Workloads that name a priority class no longer there: they wait, saying so, rather than run at a guessed priority. */
  const unclassified: Waiting[] = [];

  /** The fields of a pending workload its priority class decides, or undefined after noting it as unclassified. */
  function classTerms(key: string, pool: string, className: string | undefined, preemptible: boolean): Pick<PendingWorkload, 'priority' | 'mayPreempt' | 'preemptible'> | undefined {
    const c = priorityClass(className);
    if (c) return { priority: c.value, mayPreempt: c.mayPreempt, preemptible };
    unclassified.push({ key, pool, reason: 'PriorityClassNotFound', message: `WorkloadPriorityClass ${className} does not exist: create it or name another in spec.priorityClassName` });
    return undefined;
  }

  function pending(now: number): PendingWorkload[] {
    unclassified.length = 0;
    const specs = new Map(caches.specs.list().map((s) => [s.metadata.name!, s]));
    const out: PendingWorkload[] = [];
    for (const job of caches.jobs.list()) {
      const s = job.status;
      if (s?.phase !== 'Queued' || job.spec.suspend || s.admission || !resolved(s.conditions)) continue;
      if (s.backoffUntil && Date.parse(s.backoffUntil) > now) continue;
      const podSets: (PodSet & { path: string })[] = [];
      for (const [i, task] of job.spec.tasks.entries()) {
        const r = resolveTask(task, specs, job.spec.shmSize, poolTerms(job.spec.pool));
        if (!r.ok) break;
        podSets.push({ ...r.podSet, path: `spec.tasks[${i}]` });
      }
      if (podSets.length !== job.spec.tasks.length) continue;
      const namespace = job.metadata.namespace!;
      const key = workloadKey('Job', job);
      const terms = classTerms(key, job.spec.pool, job.spec.priorityClassName, job.spec.preemptible !== false);
      if (terms) out.push({ key, namespace, ...terms, createdAt: createdAt(job), pool: job.spec.pool, podSets, requireQuota: requireQuota(namespace) });
    }
    for (const nb of caches.notebooks.list()) {
      const s = nb.status;
      if (s?.phase !== 'Pending' || nb.spec.suspend || s.admission || !resolved(s.conditions)) continue;
      const r = resolveTask(singleRoleTask('notebook', 1, nb.spec), specs, undefined, poolTerms(nb.spec.pool));
      if (!r.ok) continue;
      const namespace = nb.metadata.namespace!;
      const key = workloadKey('Notebook', nb);
      // Interactive work is never preempted (a user's session would vanish), so it never borrows either.
      const terms = classTerms(key, nb.spec.pool, nb.spec.priorityClassName, false);
      if (terms) out.push({ key, namespace, ...terms, createdAt: createdAt(nb), pool: nb.spec.pool, podSets: [{ ...r.podSet, path: 'spec' }], requireQuota: requireQuota(namespace) });
    }
    for (const ms of caches.modelServices.list()) {
      const wanted = servingReplicas(ms);
      const a = ms.status?.admission;
      const held = a?.replicas ?? 0;
      if (wanted <= held || ms.metadata.deletionTimestamp || !resolved(ms.status?.conditions)) continue;
      const namespace = ms.metadata.namespace!;
      const key = workloadKey('ModelService', ms);
      // Serving is never preempted (that would be an outage), so it never borrows either.
      const terms = classTerms(key, a?.pool ?? ms.spec.pool, ms.spec.priorityClassName, false);
      if (!terms) continue;
      const base = { key, namespace, ...terms, createdAt: createdAt(ms), requireQuota: requireQuota(namespace) };
      if (a && held > 0) {
        // Scaling up: the added replicas are admitted as the held ones were (pool and requests frozen).
        const podSet = { task: servingTask, requests: parseResources(a.resources), ...(a.shmSize ? { shmSize: parseQuantity(a.shmSize) } : {}), ...(a.pricePerHour ? { pricePerHour: a.pricePerHour } : {}) };
        out.push({ ...base, pool: a.pool, podSets: [{ ...podSet, count: wanted - held, path: 'spec' }], wholeGang: [{ ...podSet, count: wanted, path: 'spec' }] });
        continue;
      }
      const r = resolveTask(singleRoleTask(servingTask, wanted, ms.spec), specs, undefined, poolTerms(ms.spec.pool));
      if (!r.ok) continue;
      out.push({ ...base, pool: ms.spec.pool, podSets: [{ ...r.podSet, path: 'spec' }] });
    }
    return out;
  }

  /** Where an admitted gang's pods are: bound ones take room on their nodes; the rest will need room the snapshot does not show. */
  function jobPods(job: Job): { bound: Occupied[]; unbound: PodSet[] } {
    const attempt = String(job.status!.attempt ?? 0);
    const boundPerTask = new Map<string, number>();
    const bound: Occupied[] = [];
    for (const pod of caches.pods.byIndex(podIndexes.job, `${job.metadata.namespace}/${job.metadata.name}`)) {
      const l = pod.metadata?.labels ?? {};
      if (l[labels.attempt] !== attempt || !pod.spec?.nodeName) continue;
      boundPerTask.set(l[labels.task]!, (boundPerTask.get(l[labels.task]!) ?? 0) + 1);
      if (!isTerminal(pod)) bound.push({ node: pod.spec.nodeName, requests: podRequests(pod) });
    }
    const unbound = job.status!.admission!.podSets
      .map((ps) => ({ task: ps.task, count: Math.max(0, ps.count - (boundPerTask.get(ps.task) ?? 0)), requests: parseResources(ps.resources), ...(ps.nodeSelector ? { nodeSelector: ps.nodeSelector } : {}) }))
      .filter((ps) => ps.count > 0);
    return { bound, unbound };
  }

  function active(): ActiveReservation[] {
    const jobs = caches.jobs
      .list()
      .filter(jobHoldsReservation)
      .map((job) => {
        const a = job.status!.admission!;
        return {
          key: workloadKey('Job', job),
          namespace: job.metadata.namespace!,
          pool: a.pool,
          total: parseCachedResources(a.total),
          priority: a.priority ?? priorityClass(job.spec.priorityClassName)?.value ?? 0,
          admittedAt: Date.parse(a.admittedAt),
          preemptible: job.spec.preemptible !== false,
          borrowed: a.borrowed === true,
          ...jobPods(job),
        };
      });
    const notebooks = caches.notebooks
      .list()
      .filter(notebookHoldsReservation)
      .map((nb) => {
        const a = nb.status!.admission!;
        const total = parseResources(a.resources);
        const bound = caches.pods.byIndex(podIndexes.notebook, `${nb.metadata.namespace}/${nb.metadata.name}`).some((p) => p.spec?.nodeName);
        const unbound = bound ? [] : [{ task: 'notebook', count: 1, requests: total, ...(a.nodeSelector ? { nodeSelector: a.nodeSelector } : {}) }];
        return { ...unpreemptible(nb, a.admittedAt), namespace: nb.metadata.namespace!, pool: a.pool, total, unbound };
      });
    const services = caches.modelServices
      .list()
      .filter(modelServiceHoldsReservation)
      .map((ms) => {
        const a = ms.status!.admission!;
        const bound = caches.pods.byIndex(podIndexes.modelService, `${ms.metadata.namespace}/${ms.metadata.name}`).filter((p) => p.spec?.nodeName && !p.metadata?.deletionTimestamp).length;
        const count = Math.max(0, a.replicas - bound);
        const unbound = count > 0 ? [{ task: servingTask, count, requests: parseResources(a.resources), ...(a.nodeSelector ? { nodeSelector: a.nodeSelector } : {}) }] : [];
        return { ...unpreemptible(ms, a.admittedAt), namespace: ms.metadata.namespace!, pool: a.pool, total: parseResources(a.total), unbound };
      });
    // Imports and builds run outside admission but count against their workspace's limits; only
    // namespaces with a Quota have limits, so only their charged pods are looked up (by index).
    const limited = new Set(caches.quotas.list().map((q) => q.metadata.namespace!));
    const charged = [...limited].flatMap((ns) =>
      caches.pods
        .byIndex(podIndexes.chargedTo, ns)
        .flatMap((pod) => (chargedNamespace(pod, options.buildNamespace) === ns ? [{ namespace: ns, pool: '', total: podRequests(pod), priority: 0, admittedAt: 0, preemptible: false, bound: [], unbound: [] }] : [])),
    );
    return [...jobs, ...notebooks, ...services, ...charged];
  }

  /** Notebooks and model services hold their reservations until stopped: never victims, so their room is not tracked per node. */
  function unpreemptible(obj: Notebook | ModelService, admittedAt: string): Pick<ActiveReservation, 'priority' | 'admittedAt' | 'preemptible' | 'bound'> {
    return { priority: priorityClass(obj.spec.priorityClassName)?.value ?? 0, admittedAt: Date.parse(admittedAt), preemptible: false, bound: [] };
  }

  /**
   * Per node, requests of bound pods on their way out: terminating, or of a Job that holds no
   * reservation any more (preempted or requeued, its pods about to be deleted). A reserving Job's
   * own pods never count: its next attempt needs that room.
   */
  function releasingByNode(): Map<string, Resources> {
    const leaving = (pod: V1Pod) => {
      const jobName = pod.metadata?.labels?.[labels.job];
      if (!jobName) return pod.metadata?.deletionTimestamp !== undefined;
      const job = caches.jobs.get(`${pod.metadata!.namespace}/${jobName}`);
      return !(job && jobHoldsReservation(job));
    };
    // requestsByNode counts only bound, unfinished pods.
    return requestsByNode(caches.pods.list().filter(leaving));
  }

  function pools(): Map<string, PoolNodes> {
    const used: Map<string, Resources> = requestsByNode(caches.pods.list());
    const all = caches.nodes.list();
    const releasing = releasingByNode();
    const states = new Map<string, NodeState>(nodeStates(all, used).map((s) => [s.name, releasing.has(s.name) ? { ...s, releasing: releasing.get(s.name)! } : s]));
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

  function lookup(key: string): { kind: WorkloadKind; resource: ResourceRef; obj: Job | Notebook | ModelService } | undefined {
    const { kind, cacheKey } = splitWorkloadKey(key);
    const obj = kind === 'Job' ? caches.jobs.get(cacheKey) : kind === 'Notebook' ? caches.notebooks.get(cacheKey) : caches.modelServices.get(cacheKey);
    return obj ? { kind, resource: octopus[kind], obj } : undefined;
  }

  /** Writes a status; a conflict means the workload changed since the snapshot, and the next cycle sees it anew. */
  async function write(resource: ResourceRef, obj: Job | Notebook | ModelService, status: NonNullable<Job['status'] | Notebook['status'] | ModelService['status']>): Promise<boolean> {
    try {
      await manager.client.updateStatusIfChanged(resource, obj as KubernetesObject & { status?: unknown }, status);
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  async function admit(a: Admission, now: number): Promise<void> {
    const found = lookup(a.key);
    if (!found) return;
    const { kind, resource, obj } = found;
    const total = parseResources(a.total);
    const size = gangSize({ podSets: a.podSets.map((p) => ({ task: p.task, count: p.count, requests: new Map() })) });
    const accelerators = describeAccelerators(total);
    const message = `reserved ${size} pods in pool ${a.pool}${accelerators ? ` (${accelerators})` : ''}`;
    const admitted = (conditions: unknown) => setCondition(conditions as Condition[] | undefined, { type: C.Admitted, status: 'True', reason: R.QuotaReserved, message }, obj.metadata.generation, now);
    let status;
    if (kind === 'Job') {
      const job = obj as Job;
      status = {
        ...structuredClone(job.status!),
        phase: 'Admitted' as const,
        admission: { pool: a.pool, admittedAt: rfc3339(now), podSets: a.podSets, total: a.total, priority: priorityClass(job.spec.priorityClassName)?.value ?? 0, ...(a.borrowed ? { borrowed: true } : {}) },
        attemptStartTime: rfc3339(now),
        pods: `0/${size}`,
        ...(accelerators ? { accelerators } : {}),
        conditions: readmitted(admitted(job.status?.conditions), job, now),
      };
      delete status.backoffUntil;
      delete status.position;
    } else if (kind === 'ModelService') {
      const ms = obj as ModelService;
      const ps = a.podSets[0]!;
      const replicas = (ms.status?.admission?.replicas ?? 0) + ps.count;
      status = {
        ...structuredClone(ms.status ?? {}),
        admission: {
          pool: a.pool,
          admittedAt: rfc3339(now),
          replicas,
          resources: ps.resources,
          total: servingTotal(ps.resources, replicas),
          ...(ps.shmSize ? { shmSize: ps.shmSize } : {}),
          ...(ps.pricePerHour ? { pricePerHour: ps.pricePerHour } : {}),
          ...(ps.nodeSelector ? { nodeSelector: ps.nodeSelector } : {}),
        },
        conditions: admitted(ms.status?.conditions),
      };
      delete status.position;
    } else {
      const nb = obj as Notebook;
      const ps = a.podSets[0]!;
      status = {
        ...structuredClone(nb.status!),
        admission: {
          pool: a.pool,
          admittedAt: rfc3339(now),
          resources: ps.resources,
          ...(ps.shmSize ? { shmSize: ps.shmSize } : {}),
          ...(ps.pricePerHour ? { pricePerHour: ps.pricePerHour } : {}),
          ...(ps.nodeSelector ? { nodeSelector: ps.nodeSelector } : {}),
        },
        conditions: admitted(nb.status?.conditions),
      };
      delete status.position;
    }
    if (!(await write(resource, obj, status))) return;
    messageWrittenAt.delete(a.key);
    metrics.admitted(obj, now);
    manager.events.record({ regarding: obj, type: 'Normal', reason: 'Admitted', note: message });
    if (kind === 'Job') onJobAdmitted(`${obj.metadata.namespace}/${obj.metadata.name}`);
  }

  /** A job admitted again after a preemption: its Preempted condition turns False. */
  function readmitted(conditions: Condition[], job: Job, now: number): Condition[] {
    if (findCondition(conditions, C.Preempted)?.status !== 'True') return conditions;
    return setCondition(conditions, { type: C.Preempted, status: 'False', reason: R.Readmitted, message: 'admitted again after being preempted' }, job.metadata.generation, now);
  }

  /** Evicts a victim: its reservation ends now (quota is free at once), the Job controller deletes its pods gracefully. */
  async function preempt(p: Preemption, now: number): Promise<boolean> {
    const found = lookup(p.key);
    if (found?.kind !== 'Job') return false;
    const job = found.obj as Job;
    if (!jobHoldsReservation(job)) return false;
    if (!(await write(octopus.Job, job, preempted(job, now, p.reason, p.message)))) return false;
    manager.events.record({ regarding: job, type: 'Warning', reason: C.Preempted, note: p.message });
    const preemptor = lookup(p.preemptor);
    if (preemptor) manager.events.record({ regarding: preemptor.obj, type: 'Normal', reason: 'Preempting', note: `preempted ${describeKey(p.key)} (${p.reason})` });
    metrics.preempted(p.reason);
    onJobAdmitted(`${job.metadata.namespace}/${job.metadata.name}`);
    return true;
  }

  /**
   * A ModelService holding more replicas than it wants (scaled down, suspended) gives the rest back
   * at once: shrinking needs no room, so it does not wait for a cycle's verdict.
   */
  async function releaseServing(ms: ModelService, now: number): Promise<void> {
    const a = ms.status!.admission!;
    const replicas = servingReplicas(ms);
    const status = structuredClone(ms.status!);
    if (replicas === 0) {
      delete status.admission;
      const why = ms.spec.suspend ? 'spec.suspend is true' : 'spec.replicas is 0';
      status.conditions = setCondition(status.conditions as Condition[] | undefined, { type: C.Admitted, status: 'False', reason: 'Released', message: `${why}: reservation released` }, ms.metadata.generation, now);
    } else {
      status.admission = { ...a, replicas, total: servingTotal(a.resources, replicas) };
    }
    if (await write(octopus.ModelService, ms, status)) manager.events.record({ regarding: ms, type: 'Normal', reason: 'Released', note: `reservation reduced from ${a.replicas} to ${replicas} replicas` });
  }

  /**
   * What telling `w` its wait would change: its reason (written at once, with an Event), its place
   * near the head of its queue (written at once: that is where people look), only its message or
   * a place further back (written when due), or nothing.
   */
  function waitingChange(w: Waiting, now: number): 'reason' | 'head' | 'message' | undefined {
    const found = lookup(w.key);
    if (!found?.obj.status) return undefined;
    const current = findCondition(found.obj.status.conditions as Condition[] | undefined, C.Admitted);
    if (current?.reason !== w.reason) return 'reason';
    const position = found.obj.status.position;
    if (position !== w.position && ((w.position ?? Infinity) <= headOfQueue || (position ?? Infinity) <= headOfQueue)) return 'head';
    if ((current?.message === w.message && position === w.position) || now - (messageWrittenAt.get(w.key) ?? 0) < waitingMessageRefreshMs) return undefined;
    return 'message';
  }

  async function tellWaiting(w: Waiting, now: number, reasonChanged: boolean): Promise<void> {
    const found = lookup(w.key);
    if (!found?.obj.status) return;
    const { resource, obj } = found;
    const conditions = setCondition(obj.status!.conditions as Condition[] | undefined, { type: C.Admitted, status: 'False', reason: w.reason, message: w.message }, obj.metadata.generation, now);
    const status = { ...structuredClone(obj.status!), conditions };
    if (w.position === undefined) delete status.position;
    else status.position = w.position;
    if (!(await write(resource, obj, status))) return;
    messageWrittenAt.set(w.key, now);
    if (reasonChanged) manager.events.record({ regarding: obj, type: 'Normal', reason: w.reason, note: w.message });
  }

  /**
   * The waiting workloads to write this cycle: every changed reason and place near the head, and
   * message refreshes from a budget of `messageRefreshesPerSecond`, stalest first — thousands of
   * queued jobs whose numbers move must not turn into thousands of writes a minute.
   */
  function waitingWrites(waiting: Waiting[], now: number): { w: Waiting; reasonChanged: boolean }[] {
    refreshTokens = Math.min(messageRefreshesPerSecond, refreshTokens + ((now - tokensAt) / 1000) * messageRefreshesPerSecond);
    tokensAt = now;
    const prompt: { w: Waiting; reasonChanged: boolean }[] = [];
    const refreshes: Waiting[] = [];
    for (const w of waiting) {
      const change = waitingChange(w, now);
      if (change === 'reason' || change === 'head') prompt.push({ w, reasonChanged: change === 'reason' });
      else if (change === 'message') refreshes.push(w);
    }
    refreshes.sort((a, b) => (messageWrittenAt.get(a.key) ?? 0) - (messageWrittenAt.get(b.key) ?? 0));
    const due = refreshes.slice(0, Math.floor(refreshTokens));
    refreshTokens -= due.length;
    return [...prompt, ...due.map((w) => ({ w, reasonChanged: false }))];
  }

  /** Workloads whose last word was that they preempted and wait for their victims to go. */
  function preempting(): Set<string> {
    const out = new Set<string>();
    const note = (kind: WorkloadKind, obj: Job | Notebook | ModelService) => {
      if (findCondition(obj.status?.conditions as Condition[] | undefined, C.Admitted)?.reason === R.Preempting) out.add(workloadKey(kind, obj));
    };
    for (const j of caches.jobs.list()) if (j.status?.phase === 'Queued') note('Job', j);
    for (const n of caches.notebooks.list()) if (!n.status?.admission) note('Notebook', n);
    for (const m of caches.modelServices.list()) note('ModelService', m);
    return out;
  }

  const controller = manager.addController({
    name: 'admission',
    concurrency: 1,
    reconcile: async () => {
      const started = manager.clock.now();
      if (started - lastCycleEnd < minCycleGapMs) return { requeueAfterMs: minCycleGapMs - (started - lastCycleEnd) };
      const shrinking = caches.modelServices.list().filter((ms) => ms.status?.admission && servingReplicas(ms) < ms.status.admission.replicas);
      await inParallel(shrinking, writeConcurrency, (ms) => releaseServing(ms, started));
      const result = admissionCycle({ pending: pending(started), active: active(), pools: pools(), quotas: quotas(), policies: caches.policies.list(), preempting: preempting() });
      metrics.cycle(result, manager.clock.now() - started);
      // One failed write must not hold back the others, nor push the next cycle out by backoff.
      const failures: unknown[] = [];
      let written = 0;
      const each = <T>(fn: (item: T) => Promise<unknown>) => (item: T) => fn(item).then(() => void written++, (err: unknown) => void failures.push(err));
      // Victims first: their quota frees the moment their status says so.
      await inParallel(result.preempted, writeConcurrency, each((p: Preemption) => preempt(p, started)));
      await inParallel(result.admitted, writeConcurrency, each((a: Admission) => admit(a, started)));
      const waiting = [...result.waiting, ...unclassified];
      await inParallel(waitingWrites(waiting, started), writeConcurrency, each(({ w, reasonChanged }: { w: Waiting; reasonChanged: boolean }) => tellWaiting(w, started, reasonChanged)));
      lastCycleEnd = manager.clock.now();
      if (failures.length > 0) {
        // Nothing written: the apiserver is likely down, so back off. Some written: run again soon.
        if (written === 0) throw failures[0];
        manager.logger.warn({ controller: 'admission', err: failures[0], failed: failures.length, written }, 'some status writes of the admission cycle failed; running it again');
        return { requeueAfterMs: minCycleGapMs };
      }
      for (const key of messageWrittenAt.keys()) if (!lookup(key)) messageWrittenAt.delete(key);
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
    .watches(caches.jobs, cycle, { updated: jobChangeMatters })
    .watches(caches.notebooks, cycle)
    .watches(caches.modelServices, cycle)
    .watches(caches.workspaces, cycle)
    .watches(caches.pods, cycle, { updated: podChangeMatters })
    .watches(caches.nodes, cycle)
    .watches(caches.quotas, cycle)
    .watches(caches.policies, cycle)
    .watches(caches.pools, cycle)
    .watches(caches.specs, cycle)
    .watches(caches.priorityClasses, cycle);
  return controller;
}

/**
 * What of a Job the cycle reads. Most Job updates are progress (pod counts, Running) or the
 * cycle's own word to waiting jobs (position, message): none can change a verdict, and thousands
 * of them must not each cost a cycle.
 */
function admissionView(job: Job) {
  const s = job.status;
  const conditions = s?.conditions as Condition[] | undefined;
  return [
    job.metadata.generation,
    job.metadata.deletionTimestamp,
    s?.phase,
    s?.admission,
    s?.attempt,
    s?.backoffUntil,
    findCondition(conditions, C.ReferencesResolved)?.status,
    findCondition(conditions, C.Admitted)?.reason,
  ];
}

export function jobChangeMatters(job: Job, old: Job): boolean {
  return !semanticEqual(admissionView(job), admissionView(old));
}

/** A pod matters to admission when it lands on a node, ends, starts terminating or is relabelled; not when it starts running. */
export function podChangeMatters(pod: V1Pod, old: V1Pod): boolean {
  const view = (p: V1Pod) => [p.spec?.nodeName, isTerminal(p), p.metadata?.deletionTimestamp, p.metadata?.labels];
  return !semanticEqual(view(pod), view(old));
}
