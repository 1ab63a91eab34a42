/**
 * The lifecycle of an admitted Job as a pure function of its status, its pods and the time:
 * which pods to create or delete, whether the reservation is released, what the status
 * becomes. The controller performs the actions; everything here is table-tested.
 *
 * Semantics (DESIGN "The Job"): a role succeeds when minSucceeded pods succeeded and fails
 * when more than maxFailed failed; a main role decides the job, otherwise every role must
 * succeed, and any failed role fails the attempt. A failed attempt restarts the whole gang
 * (keeping its reservation) up to maxRetries. Evictions and preemptions are not failures:
 * the reservation is released and the job requeued. Pods not all running within
 * podsReadyTimeoutSeconds of the attempt's start → released and requeued with backoff.
 */
import type { Job, JobPhase } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { JobConditions as C, JobReasons as R } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { formatResources, parseResources, scaleResources, addResources } from '../../apis/quantity.js';
import { setCondition, type Condition } from '../runtime/index.js';
import { rfc3339 } from '../runtime/time.js';

export type JobStatus = NonNullable<Job['status']>;

export interface ObservedPod {
  name: string;
  task: string;
  index: number;
  attempt: number;
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  ready: boolean;
  /** Deletion requested (e.g. by us, or a node drain). */
  terminating: boolean;
  /** Failed or deleted because of an eviction or preemption, not the workload. */
  disrupted: boolean;
  message?: string;
}

export interface JobEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  note: string;
}

export interface Decision {
  status: JobStatus;
  /** Create the missing pods of the current attempt. */
  createPods: boolean;
  deletePods: string[];
  /** Register the job's output as a Model version before reporting success. */
  registerOutput: boolean;
  deleteJob: boolean;
  events: JobEvent[];
  requeueAfterMs?: number;
}

export const activePhases: readonly JobPhase[] = ['Admitted', 'Running', 'Restarting'];
export const finishedPhases: readonly JobPhase[] = ['Succeeded', 'Failed'];

/** Backoff after a requeue: 10 s doubling, at most 10 minutes. */
export function requeueBackoffMs(requeues: number): number {
  return Math.min(10_000 * 2 ** Math.max(0, requeues - 1), 600_000);
}

function ms(iso: string | undefined): number | undefined {
  return iso ? Date.parse(iso) : undefined;
}

/** Resource-seconds of a reservation held from `since` to `now`, added to what the job used before. */
export function addUsage(status: JobStatus, now: number): JobStatus['usage'] {
  // The reservation is held from admission through every restart until released.
  const since = ms(status.admission?.admittedAt);
  if (!status.admission || since === undefined) return status.usage;
  const seconds = BigInt(Math.max(0, Math.round((now - since) / 1000)));
  const reserved = scaleResources(parseResources(status.admission.total), seconds);
  return formatResources(addResources(parseResources(status.usage), reserved));
}

interface Ctx {
  job: Job;
  now: number;
  status: JobStatus;
  events: JobEvent[];
}

function condition(ctx: Ctx, type: string, status: Condition['status'], reason: string, message = ''): void {
  ctx.status.conditions = setCondition(ctx.status.conditions as Condition[] | undefined, { type, status, reason, message }, ctx.job.metadata.generation, ctx.now);
}

function event(ctx: Ctx, type: JobEvent['type'], reason: string, note: string): void {
  ctx.events.push({ type, reason, note });
}

/** Ends the reservation: usage accounted; the admission is kept on finish (audit) and dropped on requeue/stop. */
function release(ctx: Ctx, keepAdmission: boolean): void {
  ctx.status.usage = addUsage(ctx.status, ctx.now);
  if (!ctx.status.usage) delete ctx.status.usage;
  if (!keepAdmission) delete ctx.status.admission;
  delete ctx.status.attemptStartTime;
}

function requeue(ctx: Ctx, reason: string, message: string): void {
  release(ctx, false);
  const requeues = (ctx.status.requeues ?? 0) + 1;
  ctx.status.requeues = requeues;
  // A new incarnation: pods of the old one still terminating are told apart by the attempt label.
  ctx.status.attempt = (ctx.status.attempt ?? 0) + 1;
  ctx.status.phase = 'Queued';
  ctx.status.queuedAt = rfc3339(ctx.now);
  ctx.status.backoffUntil = rfc3339(ctx.now + requeueBackoffMs(requeues));
  condition(ctx, C.Admitted, 'False', reason, message);
  condition(ctx, C.Running, 'False', reason, message);
  event(ctx, 'Warning', reason, `${message}; requeued (requeue ${requeues})`);
}

/**
 * The status of a job its admission preempted: the reservation ends (usage accounted) and the job
 * queues again at once — no backoff, no retry or requeue counted: being preempted is not its fault.
 * The Job controller then deletes the pods of the old attempt (gracefully).
 */
export function preempted(job: Job, now: number, reason: string, message: string): JobStatus {
  const ctx: Ctx = { job, now, status: structuredClone(job.status ?? {}), events: [] };
  release(ctx, false);
  ctx.status.preemptions = (ctx.status.preemptions ?? 0) + 1;
  ctx.status.attempt = (ctx.status.attempt ?? 0) + 1;
  ctx.status.phase = 'Queued';
  ctx.status.queuedAt = rfc3339(now);
  delete ctx.status.backoffUntil;
  condition(ctx, C.Preempted, 'True', reason, message);
  condition(ctx, C.Admitted, 'False', reason, message);
  condition(ctx, C.Running, 'False', reason, message);
  return ctx.status;
}

function finish(ctx: Ctx, phase: 'Succeeded' | 'Failed', reason: string, message: string): void {
  release(ctx, true);
  ctx.status.phase = phase;
  ctx.status.completionTime = rfc3339(ctx.now);
  condition(ctx, C.Running, 'False', reason, message);
  condition(ctx, phase === 'Succeeded' ? C.Succeeded : C.Failed, 'True', reason, message);
  event(ctx, phase === 'Succeeded' ? 'Normal' : 'Warning', reason, message);
}

interface RoleOutcome {
  name: string;
  replicas: number;
  succeeded: number;
  failed: number;
  done: boolean;
  broken: boolean;
}

function roles(job: Job, pods: ObservedPod[]): RoleOutcome[] {
  return job.spec.tasks.map((t) => {
    const mine = pods.filter((p) => p.task === t.name);
    const replicas = t.replicas ?? 1;
    const succeeded = mine.filter((p) => p.phase === 'Succeeded').length;
    const failed = mine.filter((p) => p.phase === 'Failed' && !p.disrupted).length;
    return {
      name: t.name,
      replicas,
      succeeded,
      failed,
      done: succeeded >= (t.completion?.minSucceeded ?? replicas),
      broken: failed > (t.completion?.maxFailed ?? 0),
    };
  });
}

function taskStatus(job: Job, pods: ObservedPod[]): NonNullable<JobStatus['tasks']> {
  return job.spec.tasks.map((t) => {
    const mine = pods.filter((p) => p.task === t.name);
    return {
      name: t.name,
      replicas: t.replicas ?? 1,
      active: mine.filter((p) => p.phase === 'Pending' || p.phase === 'Running').length,
      ready: mine.filter((p) => p.phase === 'Running' && p.ready).length,
      succeeded: mine.filter((p) => p.phase === 'Succeeded').length,
      failed: mine.filter((p) => p.phase === 'Failed').length,
    };
  });
}

function failureMessage(role: RoleOutcome, pods: ObservedPod[]): string {
  const failed = pods.filter((p) => p.task === role.name && p.phase === 'Failed' && !p.disrupted);
  const detail = failed.find((p) => p.message)?.message;
  return `task ${role.name}: ${role.failed} of ${role.replicas} pods failed${detail ? ` (${failed.find((p) => p.message)!.name}: ${detail})` : ''}`;
}

/**
 * Decides the next step of a job that holds (or held) a reservation, or has finished.
 * `pods` are this job's pods of every attempt, from the cache.
 */
export function decide(job: Job, pods: ObservedPod[], now: number, opts: { outputError?: string } = {}): Decision {
  const ctx: Ctx = { job, now, status: structuredClone(job.status ?? {}), events: [] };
  const decision = (extra: Partial<Decision> = {}): Decision => ({
    status: ctx.status,
    createPods: false,
    deletePods: [],
    registerOutput: false,
    deleteJob: false,
    events: ctx.events,
    ...extra,
  });
  const live = pods.filter((p) => !p.terminating);
  const phase = ctx.status.phase;
  const policy = job.spec.policy ?? {};

  if (phase === 'Succeeded' || phase === 'Failed') {
    const ttl = policy.ttlSecondsAfterFinished;
    const finishedAt = ms(ctx.status.completionTime) ?? now;
    const deletePods = live.filter((p) => p.phase === 'Pending' || p.phase === 'Running').map((p) => p.name);
    if (ttl !== undefined) {
      const due = finishedAt + ttl * 1000;
      if (due <= now) return decision({ deleteJob: true });
      return decision({ deletePods, requeueAfterMs: due - now });
    }
    return decision({ deletePods });
  }

  if (job.spec.suspend) {
    const wasActive = phase !== undefined && activePhases.includes(phase);
    if (wasActive) release(ctx, false);
    if (phase !== 'Stopped') {
      ctx.status.phase = 'Stopped';
      condition(ctx, C.Stopped, 'True', R.Suspended, 'spec.suspend is true');
      condition(ctx, C.Admitted, 'False', R.Suspended, 'spec.suspend is true');
      condition(ctx, C.Running, 'False', R.Suspended, 'spec.suspend is true');
      event(ctx, 'Normal', R.Suspended, wasActive ? 'suspended: pods deleted, reservation released' : 'suspended');
    }
    return decision({ deletePods: live.map((p) => p.name) });
  }

  if (phase === 'Stopped') {
    ctx.status.phase = 'Queued';
    ctx.status.queuedAt = rfc3339(now);
    condition(ctx, C.Stopped, 'False', 'Resumed', 'spec.suspend is false');
    event(ctx, 'Normal', 'Resumed', 'resumed: back in the queue');
    return decision();
  }

  // Queued again (preempted, or requeued while pods were still being made): no pod may stay.
  if (phase === 'Queued') return decision({ deletePods: live.map((p) => p.name) });
  if (phase === undefined || !activePhases.includes(phase) || !ctx.status.admission) return decision();

  const attempt = ctx.status.attempt ?? 0;
  const stale = pods.filter((p) => p.attempt !== attempt);
  const current = live.filter((p) => p.attempt === attempt);
  ctx.status.tasks = taskStatus(job, current);
  const gang = job.spec.tasks.reduce((n, t) => n + (t.replicas ?? 1), 0);
  const ready = current.filter((p) => (p.phase === 'Running' && p.ready) || p.phase === 'Succeeded').length;
  ctx.status.pods = `${current.filter((p) => p.phase === 'Running' && p.ready).length}/${gang}`;

  // Restarting: the old attempt's pods must be gone before pods of the same names come back.
  if (stale.length > 0) {
    return decision({ deletePods: stale.filter((p) => !p.terminating).map((p) => p.name) });
  }

  const deadline = policy.activeDeadlineSeconds;
  const startedAt = ms(ctx.status.startTime);
  if (deadline !== undefined && startedAt !== undefined && now >= startedAt + deadline * 1000) {
    finish(ctx, 'Failed', R.DeadlineExceeded, `running longer than activeDeadlineSeconds (${deadline}s)`);
    return decision({ deletePods: current.map((p) => p.name) });
  }

  const disrupted = current.find((p) => p.disrupted);
  const everyPodExisted = ctx.status.phase === 'Running';
  const missing = current.length < gang;
  if (disrupted || (everyPodExisted && missing)) {
    const what = disrupted ? `pod ${disrupted.name} was evicted or preempted` : `${gang - current.length} pods disappeared while running`;
    requeue(ctx, R.Evicted, what);
    return decision({ deletePods: current.map((p) => p.name) });
  }

  const outcomes = roles(job, current);
  const broken = outcomes.find((r) => r.broken);
  const main = job.spec.tasks.find((t) => t.main)?.name;
  const succeeded = main ? outcomes.find((r) => r.name === main)!.done : outcomes.every((r) => r.done);
  if (succeeded && !broken) {
    if (job.spec.output?.model && !ctx.status.output && !opts.outputError) return decision({ registerOutput: true });
    const completed = main ? `task ${main} completed` : 'every task completed';
    const message = opts.outputError ? `${completed}, but the output was not registered: ${opts.outputError}` : completed;
    finish(ctx, 'Succeeded', R.Completed, message);
    return decision({ deletePods: current.filter((p) => p.phase === 'Pending' || p.phase === 'Running').map((p) => p.name) });
  }
  if (broken) {
    const message = failureMessage(broken, current);
    const retries = ctx.status.retries ?? 0;
    const maxRetries = policy.maxRetries ?? 0;
    if (retries < maxRetries) {
      ctx.status.retries = retries + 1;
      ctx.status.attempt = attempt + 1;
      ctx.status.attemptStartTime = rfc3339(now);
      ctx.status.phase = 'Restarting';
      condition(ctx, C.Running, 'False', R.Restarting, `${message}; restarting the gang (retry ${retries + 1} of ${maxRetries})`);
      event(ctx, 'Warning', R.Restarting, `${message}; restarting the gang (retry ${retries + 1} of ${maxRetries})`);
      return decision({ deletePods: current.map((p) => p.name) });
    }
    finish(ctx, 'Failed', maxRetries > 0 ? R.MaxRetriesExceeded : R.TaskFailed, maxRetries > 0 ? `${message}; ${maxRetries} retries used` : message);
    return decision({ deletePods: current.filter((p) => p.phase === 'Pending' || p.phase === 'Running').map((p) => p.name) });
  }

  // Running once every pod of the gang is running (or already done).
  if (ready === gang && ctx.status.phase !== 'Running') {
    ctx.status.phase = 'Running';
    ctx.status.startTime ??= rfc3339(now);
    condition(ctx, C.Running, 'True', R.PodsRunning, `${gang} pods running`);
    event(ctx, 'Normal', R.PodsRunning, `all ${gang} pods running (attempt ${attempt})`);
  }

  const requeueAt: number[] = [];
  if (ctx.status.phase !== 'Running') {
    const timeout = (policy.podsReadyTimeoutSeconds ?? 300) * 1000;
    const since = ms(ctx.status.attemptStartTime) ?? ms(ctx.status.admission.admittedAt) ?? now;
    if (now >= since + timeout) {
      requeue(ctx, R.PodsReadyTimeout, `${ready} of ${gang} pods running after podsReadyTimeoutSeconds (${timeout / 1000}s)`);
      return decision({ deletePods: current.map((p) => p.name) });
    }
    requeueAt.push(since + timeout);
  }
  if (deadline !== undefined && ctx.status.startTime) requeueAt.push(ms(ctx.status.startTime)! + deadline * 1000);
  const next = requeueAt.length ? Math.max(0, Math.min(...requeueAt) - now) : undefined;
  return decision({ createPods: missing, ...(next !== undefined ? { requeueAfterMs: next } : {}) });
}
