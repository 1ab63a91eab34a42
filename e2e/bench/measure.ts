/**
 * One measured run of a system: submit the workload's jobs, follow them through the observer
 * until every job is admitted, then has all its pods running, then has finished (or until 3
 * minutes pass without progress), and read the admitting process's CPU and memory from /proc.
 */
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { assertAlive, type ControllerProcess } from '../harness/process.js';
import { inParallel, percentile, planeCpuSeconds, planeCpuSince, procStats, round, type Workload } from './common.js';
import { observeJobs, type JobTimes, type ObservedSystem } from './observer.js';

const noProgressMs = 180_000;

/**
 * Creates `count` objects, 16 calls in flight, in the background. `check` throws the first
 * failure (or the abort); `done` resolves with the time the last call returned.
 */
export function startSubmitting(count: number, create: (i: number) => Promise<unknown>, signal?: AbortSignal) {
  let error: unknown;
  let submittedAt = 0;
  const submitting = inParallel(Array.from({ length: count }, (_, i) => i), 16, async (i) => {
    signal?.throwIfAborted();
    await create(i);
  }).then(
    () => (submittedAt = Date.now()),
    (err: unknown) => (error = err ?? new Error('submission failed')),
  );
  const check = () => {
    if (error !== undefined) throw error;
    signal?.throwIfAborted();
  };
  return {
    check,
    done: async () => {
      await submitting;
      check();
      return submittedAt;
    },
  };
}

/**
 * Polls `count` every second until it reaches `target` (true) or stays put for 3 minutes
 * (false). `tick` runs after each poll; it may throw to end the wait.
 */
export async function waitForCount(what: string, count: () => number, target: number, tick: () => void): Promise<boolean> {
  let last = count();
  let lastChange = Date.now();
  while (last < target) {
    await sleep(1000);
    tick();
    const now = count();
    if (now !== last) [last, lastChange] = [now, Date.now()];
    if (Date.now() - lastChange > noProgressMs) {
      console.error(`  ${what}: ${last}/${target}, none more for ${noProgressMs / 60_000} minutes; giving up`);
      return false;
    }
  }
  return true;
}

export interface Latency {
  p50?: number;
  p99?: number;
  /** Jobs the percentiles are over: those that reached the milestone. */
  jobs: number;
}

/** The series written beside the summary: per job its times, in seconds from the start of submission. */
export const jobColumns = ['seen', 'created', 'admitted', 'firstPod', 'allBound', 'allRunning', 'finished', 'pods'] as const;

/** What a bare client's run and a system's run both report. */
export interface PlaneRun {
  submitSeconds: number;
  allRunningSeconds?: number;
  podsBoundPerSecond: number;
  /** CPU seconds of each plane component from the start of submission to the end of the run. */
  planeCpuSeconds: Record<string, number>;
  /** The machine's 1, 5 and 15 minute load averages at the end of the run: the machine may be shared. */
  loadAverage: number[];
}

export interface SystemRun extends PlaneRun {
  system: string;
  jobs: number;
  admitted: number;
  allRunning: number;
  finished: number;
  complete: boolean;
  /** Start of submission to the last admission seen (the clock stops when all are admitted). */
  admitAllSeconds: number;
  finishedSeconds?: number;
  /** Each job's watch first-seen to its admission / to every pod of it running. */
  submitToAdmitted: Latency;
  submitToAllRunning: Latency;
  podsBound: number;
  peakRssMiB: number;
  /** utime + stime from the start of submission to the end of the run. */
  cpuSeconds: number;
  /** The same, since the process started (its start-up and informer sync included). */
  cpuSecondsTotal: number;
  watchResumes: number;
  series: { columns: readonly string[]; jobs: (number | null)[][]; samples: { t: number; admitted: number; allRunning: number; rssMiB: number }[] };
}

function latency(jobs: JobTimes[], to: (j: JobTimes) => number | undefined): Latency {
  const values = jobs.flatMap((j) => {
    const t = to(j);
    return t === undefined ? [] : [(t - j.seen) / 1000];
  });
  const p50 = percentile(values, 0.5);
  const p99 = percentile(values, 0.99);
  return { ...(p50 !== undefined ? { p50: round(p50, 3) } : {}), ...(p99 !== undefined ? { p99: round(p99, 3) } : {}), jobs: values.length };
}

/**
 * Submits the workload's jobs through `create` and follows them with the observer until every
 * one has finished (or progress stops for 3 minutes). `process` admits them: its CPU and memory
 * are read from /proc, and the run fails if it exits.
 */
export async function measureJobs<J extends KubernetesObject, A extends KubernetesObject>(opts: {
  kc: KubeConfig;
  system: string;
  observed: ObservedSystem<J, A>;
  process: ControllerProcess;
  workload: Workload;
  create: (i: number) => Promise<unknown>;
  signal?: AbortSignal;
}): Promise<SystemRun> {
  const { workload: w } = opts;
  const pid = opts.process.child.pid!;
  const observer = await observeJobs(opts.kc, opts.observed);
  try {
    const cpuBefore = procStats(pid).cpuSeconds;
    const planeBefore = planeCpuSeconds();
    const started = Date.now();
    const submitting = startSubmitting(w.jobs, opts.create, opts.signal);
    const samples: SystemRun['series']['samples'] = [];
    const tick = () => {
      submitting.check();
      assertAlive(opts.process);
      const c = observer.counts();
      const rssMiB = Math.round(procStats(pid).rssMiB);
      samples.push({ t: round((Date.now() - started) / 1000, 1), admitted: c.admitted, allRunning: c.allRunning, rssMiB });
      if (samples.length % 10 === 0) console.log(`  ${Math.round((Date.now() - started) / 1000)}s: ${c.seen} seen, ${c.admitted} admitted, ${c.allRunning} all pods running, ${c.finished} finished; ${opts.system} RSS ${rssMiB} MiB`);
    };
    const allAdmitted = await waitForCount('jobs admitted', () => observer.counts().admitted, w.jobs, tick);
    const allRunning = allAdmitted && (await waitForCount('jobs with all pods running', () => observer.counts().allRunning, w.jobs, tick));
    const allFinished = allRunning && (await waitForCount('jobs finished', () => observer.counts().finished, w.jobs, tick));
    const submittedAt = await submitting.done();
    const stats = procStats(pid);
    const jobs = observer.jobs();
    const since = (t: number | undefined) => (t === undefined ? undefined : round((t - started) / 1000, 3));
    const latest = (f: (j: JobTimes) => number | undefined) => Math.max(started, ...jobs.map((j) => f(j) ?? started));
    const podsBound = jobs.filter((j) => j.allBound !== undefined).reduce((sum, j) => sum + j.pods, 0);
    const c = observer.counts();
    return {
      system: opts.system,
      jobs: w.jobs,
      admitted: c.admitted,
      allRunning: c.allRunning,
      finished: c.finished,
      complete: allFinished,
      submitSeconds: since(submittedAt)!,
      admitAllSeconds: since(latest((j) => j.admitted))!,
      ...(allRunning ? { allRunningSeconds: since(latest((j) => j.allRunning)) } : {}),
      ...(allFinished ? { finishedSeconds: since(latest((j) => j.finished)) } : {}),
      submitToAdmitted: latency(jobs, (j) => j.admitted),
      submitToAllRunning: latency(jobs, (j) => j.allRunning),
      podsBound,
      podsBoundPerSecond: round(podsBound / ((latest((j) => j.allBound) - started) / 1000), 1),
      peakRssMiB: Math.round(stats.peakMiB),
      cpuSeconds: round(stats.cpuSeconds - cpuBefore, 1),
      cpuSecondsTotal: stats.cpuSeconds,
      planeCpuSeconds: planeCpuSince(planeBefore),
      loadAverage: loadavg().map((l) => round(l, 1)),
      watchResumes: observer.resumes(),
      series: {
        columns: jobColumns,
        jobs: jobs.map((j) => jobColumns.map((col) => (col === 'pods' ? j.pods : (since(j[col]) ?? null)))),
        samples,
      },
    };
  } finally {
    await observer.stop();
  }
}

/** A run as the report reads it: a bare client's has only the plane's fields. */
export type ReportedRun = PlaneRun & Partial<SystemRun>;

/** The rows every report shows of a run, by name ("-" where a run has no such value). */
export const reportRows: { name: string; of: (r: ReportedRun) => number | undefined }[] = [
  { name: 'jobs admitted (distinct)', of: (r) => r.admitted },
  { name: 'submission took (s)', of: (r) => r.submitSeconds },
  { name: 'time to admit all (s)', of: (r) => (r.admitted === r.jobs ? r.admitAllSeconds : undefined) },
  { name: 'time to all pods running (s)', of: (r) => r.allRunningSeconds },
  { name: 'submit→admitted p50 (s)', of: (r) => r.submitToAdmitted?.p50 },
  { name: 'submit→admitted p99 (s)', of: (r) => r.submitToAdmitted?.p99 },
  { name: 'submit→all running p50 (s)', of: (r) => r.submitToAllRunning?.p50 },
  { name: 'submit→all running p99 (s)', of: (r) => r.submitToAllRunning?.p99 },
  { name: 'pods bound/s', of: (r) => r.podsBoundPerSecond },
  { name: 'peak RSS (MiB)', of: (r) => r.peakRssMiB },
  { name: 'CPU during the run (s)', of: (r) => r.cpuSeconds },
  { name: 'CPU since start (s)', of: (r) => r.cpuSecondsTotal },
  { name: 'apiserver CPU (s)', of: (r) => r.planeCpuSeconds['kube-apiserver'] },
  { name: 'etcd CPU (s)', of: (r) => r.planeCpuSeconds.etcd },
  { name: 'scheduler CPU (s)', of: (r) => r.planeCpuSeconds['kube-scheduler'] },
  { name: 'controller-manager CPU (s)', of: (r) => r.planeCpuSeconds['kube-controller-manager'] },
  { name: 'kwok CPU (s)', of: (r) => r.planeCpuSeconds.kwok },
  { name: 'machine load, 5 min, at the end', of: (r) => r.loadAverage[1] },
];

/** One system's run as a table of reportRows (and any `extra` rows). */
export function runTable(run: SystemRun, extra: Record<string, string | number> = {}): Record<string, string | number> {
  return { ...Object.fromEntries(reportRows.map((row) => [row.name, row.of(run) ?? '-'])), ...extra };
}
