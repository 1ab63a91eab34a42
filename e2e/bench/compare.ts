/**
 * Octopus beside Kueue, and both against the plane's physical limit (a script, not a test). In
 * one invocation, on the same local plane and workload, one after another, each from the same
 * clean state (nodes, namespaces and quotas created fresh; everything of the phase before
 * deleted and gone):
 *
 *   bare     a client creates the workload's pods itself, no queueing: as many one-GPU pods as
 *            the nodes hold (or all the workload's pods, if fewer), pinned to the same nodes.
 *            Gives pods bound per second on this plane, and the time until all of them run.
 *   octopus  the workload as Octopus Jobs, admitted by the controller as its own process.
 *   kueue    the workload as batch/v1 Jobs, admitted by Kueue v0.17 as its own process.
 *
 * Both controllers get the same client QPS and burst. One observer (observer.ts) watches the
 * API server for both and times every job; the controllers' CPU and memory come from /proc.
 * The workload's lower bound is max(quota waves × pod run time, pods ÷ the bare bind rate,
 * the pods' GPU-time ÷ the nodes' GPUs).
 * Every process started here is stopped before it exits, on error and Ctrl-C too.
 *
 *   npm run bench:compare -- --nodes N --jobs M [--workspaces 50] [--run 10s] [--runs R]
 *                            [--qps 300 --burst 500] [--systems bare,octopus,kueue] [--ttl 0]
 *                            [--cpu-profile]   (Octopus's V8 CPU profile, under results/profiles)
 */
import { loadavg } from 'node:os';
import { basename, join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { builtController } from '../harness/process.js';
import { kubeconfigPath } from '../../hack/cluster/paths.js';
import {
  bench,
  benchOptions,
  clearNamespacesAndNodes,
  benchPodSpec,
  createNodesAndNamespaces,
  deleteNamespaces,
  deleteNodes,
  gpusPerWorkspace,
  interruptSignal,
  median,
  nodeSelector,
  parseDuration,
  planeCpuSeconds,
  planeCpuSince,
  quotaWaves,
  resultStem,
  resultsDir,
  round,
  simAnnotations,
  sourceState,
  submission,
  totalPods,
  writeJson,
} from './common.js';
import { createKueueJob, deleteKueueObjects, ensureKueue, kueueJob, kueueSystem, kueueVersion, withKueue } from './kueue-runner.js';
import { jobColumns, measureJobs, reportRows, startSubmitting, waitForCount, type PlaneRun, type ReportedRun, type SystemRun } from './measure.js';
import { watchPods } from './observer.js';
import { createOctopusJob, deleteOctopusObjects, octopusClientFlags, octopusJob, octopusSystem, withOctopus } from './octopus-runner.js';

const { workload: w, limits, extra, flags } = benchOptions({ strings: { runs: '1', systems: 'bare,octopus,kueue' }, booleans: ['cpu-profile'] });
const runs = Number(extra.runs);
const systems = extra.systems!.split(',');
for (const s of systems) if (!['bare', 'octopus', 'kueue'].includes(s)) throw new Error(`--systems takes bare, octopus and kueue, got "${s}"`);

const kubeconfig = process.env.E2E_KUBECONFIG ?? kubeconfigPath();
const kc = new KubeConfig();
kc.loadFromFile(kubeconfig);
const core = kc.makeApiClient(CoreV1Api);

const interrupted = interruptSignal();

// ---------------------------------------------------------------- the bare client

const barePodLabel = 'octopus.openi.pcl.cn/bench-pod';

interface BareRun extends PlaneRun {
  pods: number;
  complete: boolean;
  allBoundSeconds: number;
  /** Per pod: seen, bound, running, in seconds from the start of creation. */
  podSeries: (number | null)[][];
}

async function runBare(): Promise<BareRun> {
  const pods = Math.min(w.nodes * 8, totalPods(w));
  await clearNamespacesAndNodes(core);
  await createNodesAndNamespaces(core, w);
  try {
    const watched = await watchPods(kc, barePodLabel);
    try {
      const planeBefore = planeCpuSeconds();
      const started = Date.now();
      const submitting = startSubmitting(
        pods,
        (i) => {
          const name = `bare-${i}`;
          return core.createNamespacedPod({
            namespace: submission(w, i).namespace,
            body: { metadata: { name, labels: { ...bench.label, [barePodLabel]: name }, annotations: simAnnotations(w) }, spec: { ...benchPodSpec(), nodeSelector: nodeSelector() } },
          });
        },
        interrupted,
      );
      let ticks = 0;
      const count = (f: (p: { bound?: number; running?: number }) => number | undefined) => watched.pods().filter((p) => f(p) !== undefined).length;
      const tick = () => {
        submitting.check();
        if (++ticks % 10 === 0) console.log(`  ${Math.round((Date.now() - started) / 1000)}s: ${watched.pods().length} created, ${count((p) => p.bound)} bound, ${count((p) => p.running)} running`);
      };
      const allBound = await waitForCount('bare pods bound', () => count((p) => p.bound), pods, tick);
      const allRunning = allBound && (await waitForCount('bare pods running', () => count((p) => p.running), pods, tick));
      const submittedAt = await submitting.done();
      const seen = watched.pods();
      const since = (t: number | undefined) => (t === undefined ? null : round((t - started) / 1000, 3));
      const lastBound = Math.max(...seen.map((p) => p.bound ?? started));
      return {
        pods,
        complete: allRunning,
        podsBoundPerSecond: round(count((p) => p.bound) / ((lastBound - started) / 1000), 1),
        allBoundSeconds: since(lastBound)!,
        ...(allRunning ? { allRunningSeconds: since(Math.max(...seen.map((p) => p.running ?? started)))! } : {}),
        submitSeconds: since(submittedAt)!,
        planeCpuSeconds: planeCpuSince(planeBefore),
        loadAverage: loadavg().map((l) => round(l, 1)),
        podSeries: seen.map((p) => [since(p.seen), since(p.bound), since(p.running)]),
      };
    } finally {
      await watched.stop();
    }
  } finally {
    await deleteNamespaces(core);
    await deleteNodes(core);
  }
}

// ---------------------------------------------------------------- the systems

function runOctopus(): Promise<SystemRun> {
  const nodeOptions = flags['cpu-profile'] ? ['--cpu-prof', `--cpu-prof-dir=${join(resultsDir, 'profiles')}`] : [];
  return withOctopus({ kc, kubeconfig, workload: w, limits, nodeOptions }, (controller) =>
    measureJobs({ kc, system: 'octopus', observed: octopusSystem(kc), process: controller, workload: w, create: (i) => createOctopusJob(kc, octopusJob(w, i)), signal: interrupted }),
  );
}

function runKueue(): Promise<SystemRun> {
  return withKueue({ kc, kubeconfig, workload: w, limits }, (kueue) =>
    measureJobs({ kc, system: 'kueue', observed: kueueSystem(kc), process: kueue, workload: w, create: (i) => createKueueJob(kc, kueueJob(w, i)), signal: interrupted }),
  );
}

// ---------------------------------------------------------------- reporting

interface Run {
  bare?: BareRun;
  bound: LowerBound;
  octopus?: SystemRun;
  kueue?: SystemRun;
}

/**
 * No system can do better than any of: its busiest workspace's quota filled and drained once per
 * wave (waves = ceil(its jobs' GPUs ÷ its quota)), every pod bound at the bare client's rate, or
 * the GPU-time of all pods spread over every GPU of the nodes (binding when quotas add up to more
 * than the nodes hold). The bound is the largest.
 */
interface LowerBound {
  quotaWaves: number;
  quotaWavesSeconds: number;
  podsOverBareRateSeconds?: number;
  gpuTimeOverCapacitySeconds: number;
  seconds: number;
}

function lowerBound(bare: BareRun | undefined): LowerBound {
  const runSeconds = parseDuration(w.run) / 1000;
  const waves = quotaWaves(w);
  const quotaWavesSeconds = waves * runSeconds;
  const podsOverBareRateSeconds = bare ? round(totalPods(w) / bare.podsBoundPerSecond, 1) : undefined;
  const gpuTimeOverCapacitySeconds = round((totalPods(w) * runSeconds) / (w.nodes * 8), 1);
  return {
    quotaWaves: waves,
    quotaWavesSeconds,
    ...(podsOverBareRateSeconds !== undefined ? { podsOverBareRateSeconds } : {}),
    gpuTimeOverCapacitySeconds,
    seconds: Math.max(quotaWavesSeconds, podsOverBareRateSeconds ?? 0, gpuTimeOverCapacitySeconds),
  };
}

/** Every row of the side-by-side table: what each run reports, then the systems' distance from the limit. */
const rows: { name: string; of: (r: ReportedRun, run: Run) => number | undefined }[] = [
  ...reportRows,
  { name: 'admit all ÷ lower bound', of: (r, run) => ratio(r.admitted === r.jobs ? r.admitAllSeconds : undefined, run.bound.seconds) },
  { name: 'all running ÷ lower bound', of: (r, run) => (r.system ? ratio(r.allRunningSeconds, run.bound.seconds) : undefined) },
  { name: 'pods bound/s ÷ bare', of: (r, run) => (r.system ? ratio(r.podsBoundPerSecond, run.bare?.podsBoundPerSecond) : undefined) },
];

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0 ? undefined : round(a / b, 2);
}

function show(n: number | undefined): string | number {
  return n === undefined ? '-' : round(n, 3);
}

/** The table of one run, or of the medians of several (each cell the median of that cell's values). */
function table(of: Run[]): Record<string, Record<string, string | number>> {
  return Object.fromEntries(
    rows.map((row) => {
      const cell = (system: 'bare' | 'octopus' | 'kueue') => median(of.flatMap((run) => (run[system] ? (row.of(run[system], run) ?? []) : [])));
      const octopus = cell('octopus');
      const kueue = cell('kueue');
      return [row.name, { bare: show(cell('bare')), octopus: show(octopus), kueue: show(kueue), 'octopus/kueue': show(ratio(octopus, kueue)) }];
    }),
  );
}

function printRun(run: Run, label: string): void {
  const b = run.bound;
  console.log(`\n${label}`);
  if (run.bare) console.log(`  bare client: ${run.bare.pods} pods bound at ${run.bare.podsBoundPerSecond}/s, all running in ${run.bare.allRunningSeconds ?? '-'} s${run.bare.complete ? '' : ' (INCOMPLETE)'}`);
  console.log(
    `  lower bound ${b.seconds} s = max(${b.quotaWaves} quota waves × ${w.run} = ${b.quotaWavesSeconds} s, ${totalPods(w)} pods ÷ bare rate = ${b.podsOverBareRateSeconds ?? '-'} s, ` +
      `their GPU-time ÷ ${w.nodes * 8} GPUs = ${b.gpuTimeOverCapacitySeconds} s)`,
  );
  for (const r of [run.octopus, run.kueue]) if (r && !r.complete) console.log(`  ${r.system} INCOMPLETE: ${r.admitted} admitted, ${r.allRunning} all running, ${r.finished} finished of ${r.jobs}`);
  console.table(table([run]));
}

// ---------------------------------------------------------------- the run

/** Removes what an interrupted earlier run may have left, so the first phase starts clean too. */
async function clearPlane(): Promise<void> {
  await clearNamespacesAndNodes(core);
  await deleteOctopusObjects(kc);
  await deleteKueueObjects(kc);
}

async function main(): Promise<void> {
  const date = new Date().toISOString();
  const source = sourceState();
  // Compiled now, not when its turn comes: edits made during the bare run must not slip in unrecorded.
  if (systems.includes('octopus')) builtController();
  const stem = resultStem('compare', w, date);
  const octopusFlags = octopusClientFlags(limits);
  console.log(
    `compare: ${w.nodes} nodes × 8 GPUs, ${w.jobs} jobs (${totalPods(w)} one-GPU pods), ${w.workspaces} workspaces of ${gpusPerWorkspace(w)} GPUs, pods run ${w.run}; ` +
      `client QPS/burst ${limits.qps}/${limits.burst}${systems.includes('octopus') && octopusFlags.length === 0 ? ' (Kueue only: this controller has no --kube-api-qps flag yet)' : ''}; systems ${systems.join(', ')}; ${runs} run(s)`,
  );
  if (gpusPerWorkspace(w) * w.workspaces > w.nodes * 8) console.log(`note: quotas add up to ${gpusPerWorkspace(w) * w.workspaces} GPUs on ${w.nodes * 8}; Kueue (no topology-aware scheduling) admits past what the nodes hold, Octopus does not`);
  // Built (or found) before anything is measured: a first build takes minutes.
  if (systems.includes('kueue')) await ensureKueue();
  await clearPlane();
  const all: Run[] = [];
  const save = () =>
    writeJson(`${stem}.json`, {
      date,
      source,
      workload: w,
      clientLimits: limits,
      octopusClientFlags: octopusFlags,
      kueueVersion,
      systems,
      runs: all.map((run) => ({
        bound: run.bound,
        ...(run.bare ? { bare: { ...run.bare, podSeries: undefined } } : {}),
        ...Object.fromEntries((['octopus', 'kueue'] as const).flatMap((s) => (run[s] ? [[s, { ...run[s], series: undefined }]] : []))),
      })),
      medians: table(all),
      series: `${basename(stem)}-series.json`,
    });
  for (let i = 1; i <= runs; i++) {
    const run: Partial<Run> = {};
    for (const system of systems) {
      console.log(`\nrun ${i}/${runs}: ${system}`);
      if (system === 'bare') run.bare = await runBare();
      if (system === 'octopus') run.octopus = await runOctopus();
      if (system === 'kueue') run.kueue = await runKueue();
    }
    all.push({ ...run, bound: lowerBound(run.bare) });
    printRun(all.at(-1)!, `run ${i}/${runs}`);
    save();
    writeJson(`${stem}-series.json`, {
      jobColumns,
      barePodColumns: ['seen', 'bound', 'running'],
      runs: all.map((run) => ({ bare: run.bare?.podSeries, octopus: run.octopus?.series, kueue: run.kueue?.series })),
    }, true);
  }
  if (runs > 1) {
    for (const [i, run] of all.entries()) printRun(run, `run ${i + 1}/${runs}`);
    console.log(`\nmedians of ${runs} runs`);
    console.table(table(all));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
