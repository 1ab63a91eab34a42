/**
 * Admission benchmark (a script, not a test): N simulated 8-GPU nodes, 50 workspaces with
 * quotas that together hold every GPU, M jobs of 1/2/4/8-pod gangs (1 GPU per pod). Prints a
 * table and writes JSON under e2e/bench/results/.
 *
 * Scenario throughput (the default): the jobs run for a while and finish. The observer
 * (observer.ts) times every job from the API server: time to admit all, submit→admitted and
 * submit→all-running percentiles, pods bound per second; the controller process's peak RSS and
 * CPU come from /proc. The controller's queue waits and admission cycles, from its metrics, are
 * printed beside as context. kueue.ts runs the same workload through Kueue, compare.ts both.
 *
 * Scenario preemption: the jobs are of a low priority class and run until deleted, so they take
 * every GPU and the rest queue deep. Then one job of a high priority class (--preemptor-pods pods
 * of 1 GPU) is submitted to the first workspace, whose quota is full: it must preempt. Measures
 * the time from its create call to the last of its pods bound to a node, as a pod watch in this
 * process sees it (no controller counter is the measure).
 *
 *   npm run bench:admission -- --nodes 200 --jobs 2000 [--workspaces 50] [--run 10s] [--qps 300 --burst 500]
 *                              [--keep] [--scenario throughput|preemption] [--preemptor-pods 8] [--metrics-port 18089]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, CustomObjectsApi, KubeConfig, type KubernetesListObject, type KubernetesObject, type V1Pod } from '@kubernetes/client-node';
import { group, version, type Job } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { isTerminal, podRequests } from '../../controllers/cluster/nodes.js';
import { labels } from '../../controllers/job/pods.js';
import { kubeconfigPath } from '../../hack/cluster/paths.js';
import type { ControllerProcess } from '../harness/process.js';
import { benchOptions, gangSizes, interruptSignal, namespaces, procStats, resultStem, sourceState, writeJson } from './common.js';
import { measureJobs, runTable, startSubmitting } from './measure.js';
import { watch } from './observer.js';
import { createOctopusJob, octopusClientFlags, octopusJob, octopusSystem, withOctopus } from './octopus-runner.js';

const { workload: w, limits, extra, flags } = benchOptions({ strings: { scenario: 'throughput', 'preemptor-pods': '8', 'metrics-port': '18089' }, booleans: ['keep'] });
const scenario = extra.scenario!;
if (scenario !== 'throughput' && scenario !== 'preemption') throw new Error(`--scenario must be throughput or preemption, got "${scenario}"`);
const preemptorPods = Number(extra['preemptor-pods']);
const metricsPort = Number(extra['metrics-port']);
const classes = { low: 'bench-low', high: 'bench-high' };
const preemptorName = 'bench-urgent';

const kubeconfig = process.env.E2E_KUBECONFIG ?? kubeconfigPath();
const kc = new KubeConfig();
kc.loadFromFile(kubeconfig);
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const interrupted = interruptSignal();
const source = sourceState();

/** Job i of the preemption scenario: of the low class, its pods run until deleted, so the load stays. */
function lowPriorityJob(i: number): Job {
  return octopusJob(w, i, { annotations: { 'sim.octopus.openi.pcl.cn/outcome': 'Run' }, spec: { priorityClassName: classes.low } });
}

/** The controller's own counters: context for where its time went, never the measure. */
async function scrape(): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(octopus_admission_cycle_duration_seconds_(?:sum|count))\s+(\S+)/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
    const q = /^octopus_workqueue_(queue|work)_duration_seconds_(sum|count)\{name="(job|admission)"\}\s+(\S+)/.exec(line);
    if (q) out.set(`${q[3]}_${q[1]}_${q[2]}`, Number(q[4]));
  }
  return out;
}

function meanMs(m: Map<string, number>, queue: string, what: 'queue' | 'work'): number {
  return ((m.get(`${queue}_${what}_sum`) ?? 0) / Math.max(1, m.get(`${queue}_${what}_count`) ?? 0)) * 1000;
}

async function throughput(controller: ControllerProcess): Promise<void> {
  const run = await measureJobs({ kc, system: 'octopus', observed: octopusSystem(kc), process: controller, workload: w, create: (i) => createOctopusJob(kc, octopusJob(w, i)), signal: interrupted });
  const m = await scrape();
  const cycles = m.get('octopus_admission_cycle_duration_seconds_count') ?? 0;
  const context = {
    admissionCycles: cycles,
    meanCycleMs: ((m.get('octopus_admission_cycle_duration_seconds_sum') ?? 0) / Math.max(1, cycles)) * 1000,
    jobQueueWaitMs: meanMs(m, 'job', 'queue'),
    jobWorkMs: meanMs(m, 'job', 'work'),
    admissionQueueWaitMs: meanMs(m, 'admission', 'queue'),
    admissionWorkMs: meanMs(m, 'admission', 'work'),
  };
  const date = new Date().toISOString();
  console.table(
    runTable(run, {
      'admission cycles (mean ms), from its metrics': `${cycles} (${context.meanCycleMs.toFixed(1)})`,
      'job queue wait / work (mean ms), from its metrics': `${context.jobQueueWaitMs.toFixed(0)} / ${context.jobWorkMs.toFixed(0)}`,
      'admission queue wait / work (mean ms), from its metrics': `${context.admissionQueueWaitMs.toFixed(0)} / ${context.admissionWorkMs.toFixed(0)}`,
    }),
  );
  writeJson(`${resultStem('admission', w, date)}.json`, { date, source, workload: w, clientLimits: limits, octopusClientFlags: octopusClientFlags(limits), ...run, controllerMetrics: context });
}

/**
 * Objects under `path` as a watch in this process sees them, and when each was first seen, first
 * passed each of `marks`, and deleted (by UID; the last version is kept after deletion).
 */
async function follow<T extends KubernetesObject>(path: string, list: () => Promise<KubernetesListObject<T>>, marks: Record<string, (o: T) => boolean>) {
  const times = new Map<string, { seen: number } & Record<string, number | undefined>>();
  const last = new Map<string, T>();
  const live = new Set<string>();
  const watched = await watch<T>(kc, path, list, (o, deleted) => {
    const uid = o.metadata!.uid!;
    const t = times.get(uid) ?? { seen: Date.now() };
    for (const [mark, test] of Object.entries(marks)) if (t[mark] === undefined && test(o)) t[mark] = Date.now();
    if (deleted) t.deleted ??= Date.now();
    times.set(uid, t);
    last.set(uid, o);
    if (deleted) live.delete(uid);
    else live.add(uid);
  });
  return {
    /** The objects that exist now. */
    list: () => [...live].map((uid) => last.get(uid)!),
    /** Every object seen, with its times. */
    seen: () => [...last].map(([uid, object]) => ({ object, at: times.get(uid)! })),
    stop: watched.stop,
  };
}

/** Waits for `check` to return a value, polling every 200 ms, printing `what` every 10 s; throws after `timeoutMs`. */
async function waitFor<T>(what: () => string, check: () => T | undefined, timeoutMs: number): Promise<T> {
  const started = Date.now();
  let printed = started;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`gave up after ${timeoutMs / 1000}s: ${what()}`);
    if (Date.now() - printed >= 10_000) {
      console.log(`  ${Math.round((Date.now() - started) / 1000)}s: ${what()}`);
      printed = Date.now();
    }
    await sleep(200);
  }
}

async function preemption(controller: ControllerProcess): Promise<void> {
  const names = namespaces(w);
  const ns = names[0]!;
  const admitted = (j: Job) => j.status?.conditions?.find((c) => c.type === 'Admitted');
  const pods = await follow<V1Pod>('/api/v1/pods', () => core.listPodForAllNamespaces(), { bound: (p) => p.spec?.nodeName !== undefined });
  const jobsOfPreemptor = await follow<Job>(`/apis/${group}/${version}/namespaces/${ns}/jobs`, () => custom.listNamespacedCustomObject({ group, version, plural: 'jobs', namespace: ns }), {
    queued: (j) => j.status?.phase === 'Queued',
    preempting: (j) => admitted(j)?.reason === 'Preempting',
    preempted: (j) => j.status?.conditions?.some((c) => c.type === 'Preempted' && c.status === 'True') === true,
    admitted: (j) => j.status?.admission !== undefined,
  });
  try {
    const inBench = new Set(names);
    const capacity = w.nodes * 8;
    const gpusBound = () =>
      pods
        .list()
        .filter((p) => inBench.has(p.metadata!.namespace!) && p.spec?.nodeName && !isTerminal(p) && !p.metadata?.deletionTimestamp)
        .reduce((sum, p) => sum + Number(podRequests(p).get('nvidia.com/gpu') ?? 0n) / 1000, 0);
    const started = Date.now();
    const submitSeconds = ((await startSubmitting(w.jobs, (i) => createOctopusJob(kc, lowPriorityJob(i)), interrupted).done()) - started) / 1000;
    await waitFor(() => `${gpusBound()}/${capacity} GPUs bound`, () => (gpusBound() === capacity ? true : undefined), 1_800_000);
    const fillSeconds = (Date.now() - started) / 1000;
    const all = (await Promise.all(names.map((n) => custom.listNamespacedCustomObject({ group, version, plural: 'jobs', namespace: n })))).flatMap((l) => (l as { items: Job[] }).items);
    const queued = all.filter((j) => j.status?.phase === 'Queued').length;
    const before = await scrape();

    const createdAt = Date.now();
    await createOctopusJob(kc, octopusJob(w, 0, { name: preemptorName, pods: preemptorPods, annotations: { 'sim.octopus.openi.pcl.cn/outcome': 'Run' }, spec: { priorityClassName: classes.high } }));
    const preemptorPodsSeen = () => pods.seen().filter(({ object: p }) => p.metadata!.namespace === ns && p.metadata?.labels?.[labels.job] === preemptorName);
    await waitFor(
      () => `${preemptorName}: ${preemptorPodsSeen().filter(({ at }) => at.bound).length}/${preemptorPods} pods bound`,
      () => (preemptorPodsSeen().filter(({ at }) => at.bound).length === preemptorPods ? true : undefined),
      600_000,
    );
    const after = await scrape();

    // Milestones, in seconds from the create call, as the watches saw them.
    const since = (t: number | undefined) => (t === undefined ? undefined : (t - createdAt) / 1000);
    const latest = (ts: (number | undefined)[]) => (ts.length === 0 || ts.includes(undefined) ? undefined : Math.max(...(ts as number[])));
    const preemptor = jobsOfPreemptor.seen().find(({ object }) => object.metadata.name === preemptorName)!;
    const victimJobs = jobsOfPreemptor.seen().filter(({ at }) => at.preempted !== undefined && at.preempted >= createdAt);
    const victimNames = new Set(victimJobs.map(({ object }) => object.metadata.name!));
    const victimPods = pods.seen().filter(({ object: p, at }) => p.metadata!.namespace === ns && victimNames.has(p.metadata?.labels?.[labels.job] ?? '') && at.seen < createdAt);
    const ownPods = preemptorPodsSeen();
    const phases = {
      queued: since(preemptor.at.queued),
      preempting: since(preemptor.at.preempting),
      victimsPreempted: since(latest(victimJobs.map(({ at }) => at.preempted))),
      victimPodsGone: since(latest(victimPods.map(({ at }) => at.deleted))),
      admitted: since(preemptor.at.admitted),
      firstPodCreated: since(Math.min(...ownPods.map(({ at }) => at.seen))),
      allPodsBound: since(latest(ownPods.map(({ at }) => at.bound)))!,
    };
    const cycles = (m: Map<string, number>) => m.get('octopus_admission_cycle_duration_seconds_count') ?? 0;
    const cycleSeconds = (m: Map<string, number>) => m.get('octopus_admission_cycle_duration_seconds_sum') ?? 0;
    // Context, not the measure: how long work items waited and ran in the controller's queues meanwhile.
    const meanwhileMs = (queue: string, what: 'queue' | 'work') => {
      const count = (after.get(`${queue}_${what}_count`) ?? 0) - (before.get(`${queue}_${what}_count`) ?? 0);
      return (((after.get(`${queue}_${what}_sum`) ?? 0) - (before.get(`${queue}_${what}_sum`) ?? 0)) / Math.max(1, count)) * 1000;
    };
    const stats = procStats(controller.child.pid!);
    const result = {
      date: new Date().toISOString(),
      scenario: 'preemption',
      source,
      workload: w,
      clientLimits: limits,
      preemptorPods,
      gpusBoundAtSubmit: capacity,
      jobsQueuedAtSubmit: queued,
      jobsAdmittedAtSubmit: all.filter((j) => j.status?.admission).length,
      submitSeconds,
      fillSeconds,
      preemptToBoundSeconds: phases.allPodsBound,
      phases,
      victims: victimJobs.map(({ object }) => ({ name: object.metadata.name!, pods: object.spec.tasks[0]!.replicas ?? 1 })),
      admissionCyclesMeanwhile: cycles(after) - cycles(before),
      meanCycleMsMeanwhile: ((cycleSeconds(after) - cycleSeconds(before)) / Math.max(1, cycles(after) - cycles(before))) * 1000,
      admissionQueueWaitMsMeanwhile: meanwhileMs('admission', 'queue'),
      admissionWorkMsMeanwhile: meanwhileMs('admission', 'work'),
      jobQueueWaitMsMeanwhile: meanwhileMs('job', 'queue'),
      jobWorkMsMeanwhile: meanwhileMs('job', 'work'),
      controllerRssMiB: Math.round(stats.rssMiB),
      controllerPeakRssMiB: Math.round(stats.peakMiB),
    };
    console.table({
      'GPUs bound when submitted': `${capacity}/${capacity}`,
      'jobs admitted / queued then': `${result.jobsAdmittedAtSubmit} / ${queued}`,
      'load took (s)': fillSeconds.toFixed(1),
      'preemptor create → all pods bound (s)': result.preemptToBoundSeconds.toFixed(2),
      'milestones (s)': Object.entries(phases).map(([k, v]) => `${k} ${v?.toFixed(2) ?? '-'}`).join(', '),
      victims: result.victims.map((v) => `${v.name} (${v.pods} pods)`).join(', '),
      'admission cycles meanwhile (mean ms)': `${result.admissionCyclesMeanwhile} (${result.meanCycleMsMeanwhile.toFixed(1)})`,
      'admission queue wait / work meanwhile (mean ms)': `${result.admissionQueueWaitMsMeanwhile.toFixed(0)} / ${result.admissionWorkMsMeanwhile.toFixed(0)}`,
      'job queue wait / work meanwhile (mean ms)': `${result.jobQueueWaitMsMeanwhile.toFixed(0)} / ${result.jobWorkMsMeanwhile.toFixed(0)}`,
      'controller RSS / peak (MiB)': `${result.controllerRssMiB} / ${result.controllerPeakRssMiB}`,
    });
    writeJson(`${resultStem('admission-preemption', w, result.date)}.json`, result);
  } finally {
    await pods.stop();
    await jobsOfPreemptor.stop();
  }
}

async function main(): Promise<void> {
  console.log(`admission benchmark (${scenario}): ${w.nodes} nodes × 8 GPUs, ${w.jobs} jobs (gangs of ${gangSizes.join('/')} pods), ${w.workspaces} workspaces, pods run ${scenario === 'preemption' ? 'until deleted' : w.run}`);
  const priorityClasses = scenario === 'preemption' ? { [classes.low]: 100, [classes.high]: 1000 } : {};
  await withOctopus({ kc, kubeconfig, workload: w, limits, args: ['--metrics-port', String(metricsPort)], priorityClasses, keep: flags.keep }, (controller) =>
    scenario === 'preemption' ? preemption(controller) : throughput(controller),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
