/**
 * What the admission benchmarks share, so Octopus and Kueue are driven and measured the same way:
 * the options, the workload shape, the workspace namespaces, and the loop that samples progress
 * and the admitting process's memory and CPU.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CoreV1Api } from '@kubernetes/client-node';
import { repoRoot } from '../../hack/cluster/paths.js';

/** The options both benchmarks take, plus string options (name → default) of one of them in `extra`. */
export function benchOptions(defaultMetricsPort: number, extraDefaults: Record<string, string> = {}) {
  const strings: Record<string, string> = { nodes: '200', jobs: '2000', workspaces: '50', run: '10s', 'metrics-port': String(defaultMetricsPort), ttl: '0', ...extraDefaults };
  const options: NonNullable<ParseArgsConfig['options']> = { keep: { type: 'boolean', default: false } };
  for (const [name, value] of Object.entries(strings)) options[name] = { type: 'string', default: value };
  const { values } = parseArgs({ options });
  const text = (name: string) => String(values[name]);
  return {
    nodes: Number(text('nodes')),
    jobs: Number(text('jobs')),
    workspaces: Number(text('workspaces')),
    run: text('run'),
    metricsPort: Number(text('metrics-port')),
    ttl: Number(text('ttl')),
    keep: values.keep === true,
    extra: Object.fromEntries(Object.keys(extraDefaults).map((name) => [name, text(name)])),
  };
}

/** Pods per job, in turn; one GPU each. */
export const gangSizes = [1, 2, 4, 8];

/** The pool's GPUs shared evenly, so each workspace's queue drains through its own limit. */
export function gpusPerWorkspace(nodes: number, workspaces: number): number {
  return Math.max(8, Math.floor((nodes * 8) / workspaces));
}

export const resultsDir = join(repoRoot, 'e2e', 'bench', 'results');

export async function ignoreConflict(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
}

export async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
    }),
  );
}

/** A workspace namespace, after a previous run's namespace of the same name has finished terminating. */
export async function createBenchNamespace(core: CoreV1Api, name: string, labels: Record<string, string>): Promise<void> {
  for (;;) {
    const existing = await core.readNamespace({ name }).catch(() => undefined);
    if (!existing?.metadata?.deletionTimestamp) break;
    await sleep(500);
  }
  await ignoreConflict(core.createNamespace({ body: { metadata: { name, labels } } }));
}

/** Pods are refused until a namespace's default ServiceAccount exists. */
export async function waitForServiceAccounts(core: CoreV1Api, namespaces: string[]): Promise<void> {
  for (const namespace of namespaces) {
    for (;;) {
      const found = await core.readNamespacedServiceAccount({ name: 'default', namespace }).catch(() => undefined);
      if (found) break;
      await sleep(200);
    }
  }
}

export function procStats(pid: number): { rssMiB: number; peakMiB: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(stat[11]) + Number(stat[12]);
  return { rssMiB: kb('VmRSS') / 1024, peakMiB: kb('VmHWM') / 1024, cpuSeconds: ticks / 100 };
}

export interface Progress {
  admitted: number;
  /** When the last job was admitted (or the wait gave up). */
  admittedAt: number;
  peakRssMiB: number;
  failedScrapes: number;
  samples: { t: number; admitted: number; rssMiB: number }[];
}

/**
 * Samples `admittedCount` and the admitting process every second until `jobs` are admitted, or
 * nothing is for 3 minutes. A busy process may drop a scrape; the next one counts the same totals.
 */
export async function followAdmissions(opts: { jobs: number; pid: number; started: number; who: string; admittedCount: () => Promise<number>; check?: () => void }): Promise<Progress> {
  const progress: Progress = { admitted: 0, admittedAt: opts.started, peakRssMiB: 0, failedScrapes: 0, samples: [] };
  let lastProgress = opts.started;
  while (progress.admitted < opts.jobs) {
    await sleep(1000);
    opts.check?.();
    const admitted = await opts.admittedCount().catch((err: unknown) => {
      progress.failedScrapes++;
      console.error(`  metrics scrape failed: ${(err as Error).message}`);
      return undefined;
    });
    if (admitted === undefined) continue;
    const p = procStats(opts.pid);
    progress.peakRssMiB = Math.max(progress.peakRssMiB, p.peakMiB);
    progress.samples.push({ t: (Date.now() - opts.started) / 1000, admitted, rssMiB: Math.round(p.rssMiB) });
    if (admitted !== progress.admitted) lastProgress = Date.now();
    progress.admitted = admitted;
    if (progress.samples.length % 10 === 0) console.log(`  ${Math.round((Date.now() - opts.started) / 1000)}s: ${admitted}/${opts.jobs} admitted, ${opts.who} RSS ${Math.round(p.rssMiB)} MiB`);
    if (Date.now() - lastProgress > 180_000) {
      console.error('no admission for 3 minutes; giving up');
      break;
    }
  }
  progress.admittedAt = Date.now();
  return progress;
}

/** The fields both benchmarks report, from the run's shape, its progress and the process's final stats. */
export function commonResult(run: { nodes: number; jobs: number; workspaces: number; podRunTime: string; started: number; submittedAt: number }, progress: Progress, pid: number) {
  const seconds = (progress.admittedAt - run.started) / 1000;
  const pods = run.jobs * (gangSizes.reduce((a, b) => a + b, 0) / gangSizes.length);
  const stats = procStats(pid);
  return {
    date: new Date().toISOString(),
    nodes: run.nodes,
    jobs: run.jobs,
    workspaces: run.workspaces,
    podRunTime: run.podRunTime,
    admitted: progress.admitted,
    complete: progress.admitted >= run.jobs,
    submitSeconds: (run.submittedAt - run.started) / 1000,
    admitAllSeconds: seconds,
    jobsAdmittedPerSecond: progress.admitted / seconds,
    podsCreatedPerSecond: pods / seconds,
    controllerPeakRssMiB: Math.round(progress.peakRssMiB),
    controllerCpuSeconds: stats.cpuSeconds,
    controllerCpuPercent: Math.round((stats.cpuSeconds / seconds) * 100),
    failedScrapes: progress.failedScrapes,
  };
}

/** Writes `result` as `<prefix>-<nodes>n-<jobs>j-<date>.json` and prints the table. */
export function report(prefix: string, result: { date: string; nodes: number; jobs: number }, table: Record<string, string | number>): void {
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${prefix}-${result.nodes}n-${result.jobs}j-${result.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  console.table(table);
  console.log(`wrote ${file}`);
}
