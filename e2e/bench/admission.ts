/**
 * Admission benchmark (a script, not a test): N simulated 8-GPU nodes, 50 workspaces with
 * quotas that together hold every GPU, M jobs of 1/2/4/8-pod gangs (1 GPU per pod). Prints a
 * table and writes JSON under e2e/bench/results/.
 *
 * Scenario throughput (the default): the jobs run for a while and finish. Measures the time
 * from the first submission to the last admission, pods created per second, and the controller
 * process's peak RSS and CPU. kueue.ts runs the same workload through Kueue.
 *
 * Scenario preemption: the jobs are of a low priority class and run until deleted, so they take
 * every GPU and the rest queue deep. Then one job of a high priority class (--preemptor-pods pods
 * of 1 GPU) is submitted to the first workspace, whose quota is full: it must preempt. Measures
 * the time from its create call to the last of its pods bound to a node, as a pod watch in this
 * process sees it (no controller counter is the measure).
 *
 *   npm run bench:admission -- --nodes 200 --jobs 2000 [--workspaces 50] [--run 10s] [--keep]
 *                              [--scenario throughput|preemption] [--preemptor-pods 8]
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, CustomObjectsApi, KubeConfig, makeInformer, type KubernetesListObject, type KubernetesObject, type V1Pod } from '@kubernetes/client-node';
import { group, version, type Job, type WorkloadPriorityClass } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { isTerminal, podRequests } from '../../controllers/cluster/nodes.js';
import { labels } from '../../controllers/job/pods.js';
import { resourceTagKey, simulatedNode } from '../../hack/cluster/nodes.js';
import { kubeconfigPath } from '../../hack/cluster/paths.js';
import { installCrds } from '../harness/crds.js';
import { waitNodesUsable } from '../harness/fixtures.js';
import { startControllerProcess } from '../harness/process.js';
import { benchOptions, commonResult, createBenchNamespace, followAdmissions, gangSizes, gpusPerWorkspace, ignoreConflict, inParallel, procStats, report, resultsDir, waitForServiceAccounts } from './common.js';

const values = benchOptions(18089, { scenario: 'throughput', 'preemptor-pods': '8' });
const { nodes, jobs, workspaces, metricsPort } = values;
const scenario = values.extra.scenario!;
if (scenario !== 'throughput' && scenario !== 'preemption') throw new Error(`--scenario must be throughput or preemption, got "${scenario}"`);
const preemptorPods = Number(values.extra['preemptor-pods']);
const poolName = 'bench';
const specName = 'bench-gpu-1x';
const classes = { low: 'bench-low', high: 'bench-high' };
const preemptorName = 'bench-urgent';

const kc = new KubeConfig();
kc.loadFromFile(process.env.E2E_KUBECONFIG ?? kubeconfigPath());
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);

async function setup(): Promise<string[]> {
  await installCrds(kc);
  const nodeList = Array.from({ length: nodes }, (_, i) => simulatedNode('gpu', i, { resourceTag: poolName, namePrefix: 'bench-gpu' }));
  await inParallel(nodeList, 16, (n) => ignoreConflict(core.createNode({ body: n })));
  await ignoreConflict(custom.createClusterCustomObject({ group, version, plural: 'resourcepools', body: { apiVersion: `${group}/${version}`, kind: 'ResourcePool', metadata: { name: poolName }, spec: {} } }));
  await ignoreConflict(
    custom.createClusterCustomObject({
      group,
      version,
      plural: 'resourcespecs',
      body: { apiVersion: `${group}/${version}`, kind: 'ResourceSpec', metadata: { name: specName }, spec: { resources: { requests: { 'nvidia.com/gpu': 1, cpu: 4, memory: '32Gi' } }, pricePerHour: '10' } },
    }),
  );
  if (scenario === 'preemption') {
    for (const [name, value] of [[classes.low, 100], [classes.high, 1000]] as const) {
      const body: WorkloadPriorityClass = { apiVersion: `${group}/${version}`, kind: 'WorkloadPriorityClass', metadata: { name }, spec: { value } };
      await ignoreConflict(custom.createClusterCustomObject({ group, version, plural: 'workloadpriorityclasses', body }));
    }
  }
  // As in kueue.ts: early pods would otherwise wait in the scheduler for the not-ready taint to lift.
  await waitNodesUsable(core, `${resourceTagKey}=${poolName}`, nodes, 300_000);
  const perWorkspace = gpusPerWorkspace(nodes, workspaces);
  const names = Array.from({ length: workspaces }, (_, i) => `bench-ws-${i}`);
  await inParallel(names, 8, async (ns) => {
    await createBenchNamespace(core, ns, { 'octopus.openi.pcl.cn/bench': 'true' });
    await ignoreConflict(
      custom.createNamespacedCustomObject({ group, version, plural: 'quotas', namespace: ns, body: { apiVersion: `${group}/${version}`, kind: 'Quota', metadata: { name: 'default', namespace: ns }, spec: { hard: { 'nvidia.com/gpu': perWorkspace } } } }),
    );
  });
  await waitForServiceAccounts(core, names);
  return names;
}

function jobBody(ns: string, name: string, replicas: number, extra: Partial<Job['spec']> = {}): Job {
  // Preemption: the load must stay, so pods run until deleted.
  const annotations: Record<string, string> =
    scenario === 'preemption' ? { 'sim.octopus.openi.pcl.cn/outcome': 'Run' } : { 'sim.octopus.openi.pcl.cn/outcome': 'Succeed', 'sim.octopus.openi.pcl.cn/duration': values.run };
  return {
    apiVersion: `${group}/${version}`,
    kind: 'Job',
    metadata: { name, namespace: ns },
    spec: {
      image: { reference: 'docker.io/library/python:3.12' },
      pool: poolName,
      tasks: [{ name: 'w', replicas, resourceSpec: specName, podMetadata: { annotations } }],
      // Finished jobs go, and their pods with them: the cluster stays the size of the running set.
      policy: { ttlSecondsAfterFinished: values.ttl },
      ...(scenario === 'preemption' ? { priorityClassName: classes.low } : {}),
      ...extra,
    },
  };
}

function submitAll(names: string[]): Promise<void> {
  return inParallel(Array.from({ length: jobs }, (_, i) => i), 16, async (i) => {
    const ns = names[i % names.length]!;
    await custom.createNamespacedCustomObject({ group, version, plural: 'jobs', namespace: ns, body: jobBody(ns, `bench-${i}`, gangSizes[i % gangSizes.length]!) });
  });
}

async function scrape(): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(octopus_admission_attempts_total\{result="admitted"[^}]*\}|octopus_admission_cycle_duration_seconds_(?:sum|count))\s+(\S+)/.exec(line);
    if (m) out.set(m[1]!.replace(/\{.*/, ''), Number(m[2]));
    const q = /^octopus_workqueue_(queue|work)_duration_seconds_(sum|count)\{name="(job|admission)"\}\s+(\S+)/.exec(line);
    if (q) out.set(`${q[3]}_${q[1]}_${q[2]}`, Number(q[4]));
  }
  return out;
}

function meanMs(m: Map<string, number>, queue: string, what: 'queue' | 'work'): number {
  return ((m.get(`${queue}_${what}_sum`) ?? 0) / Math.max(1, m.get(`${queue}_${what}_count`) ?? 0)) * 1000;
}

async function cleanup(names: string[]): Promise<void> {
  await inParallel(names, 8, (ns) => core.deleteNamespace({ name: ns }).then(() => undefined, () => undefined));
  await inParallel(Array.from({ length: nodes }, (_, i) => `bench-gpu-${i}`), 16, (name) => core.deleteNode({ name }).then(() => undefined, () => undefined));
  await custom.deleteClusterCustomObject({ group, version, plural: 'resourcepools', name: poolName }).catch(() => undefined);
  await custom.deleteClusterCustomObject({ group, version, plural: 'resourcespecs', name: specName }).catch(() => undefined);
  for (const name of Object.values(classes)) await custom.deleteClusterCustomObject({ group, version, plural: 'workloadpriorityclasses', name }).catch(() => undefined);
}

async function throughput(names: string[], pid: number): Promise<void> {
  const started = Date.now();
  let submittedAt = 0;
  const submit = submitAll(names).then(() => (submittedAt = Date.now()));
  const progress = await followAdmissions({ jobs, pid, started, who: 'controller', admittedCount: async () => (await scrape()).get('octopus_admission_attempts_total') ?? 0 });
  await submit;
  const cycles = await scrape();
  const result = {
    ...commonResult({ nodes, jobs, workspaces, podRunTime: values.run, started, submittedAt }, progress, pid),
    admissionCycles: cycles.get('octopus_admission_cycle_duration_seconds_count') ?? 0,
    meanCycleMs: ((cycles.get('octopus_admission_cycle_duration_seconds_sum') ?? 0) / Math.max(1, cycles.get('octopus_admission_cycle_duration_seconds_count') ?? 1)) * 1000,
    samples: progress.samples,
  };
  report('admission', result, {
    'jobs admitted': `${result.admitted}/${jobs}`,
    'time to admit all (s)': result.admitAllSeconds.toFixed(1),
    'submission took (s)': result.submitSeconds.toFixed(1),
    'jobs admitted/s': result.jobsAdmittedPerSecond.toFixed(1),
    'pods created/s': result.podsCreatedPerSecond.toFixed(1),
    'controller peak RSS (MiB)': result.controllerPeakRssMiB,
    'controller CPU (s, % of wall)': `${result.controllerCpuSeconds.toFixed(1)} (${result.controllerCpuPercent}%)`,
    'admission cycles (mean ms)': `${result.admissionCycles} (${result.meanCycleMs.toFixed(1)})`,
    'job queue wait / work (mean ms)': `${meanMs(cycles, 'job', 'queue').toFixed(0)} / ${meanMs(cycles, 'job', 'work').toFixed(0)}`,
    'admission queue wait / work (mean ms)': `${meanMs(cycles, 'admission', 'queue').toFixed(0)} / ${meanMs(cycles, 'admission', 'work').toFixed(0)}`,
  });
}

/**
 * Objects under `path` as a watch in this process sees them, and when each was first seen, first
 * passed each of `marks`, and deleted (by UID; the last version is kept after deletion).
 */
async function follow<T extends KubernetesObject>(path: string, list: () => Promise<unknown>, marks: Record<string, (o: T) => boolean>) {
  const informer = makeInformer<T>(kc, path, list as () => Promise<KubernetesListObject<T>>);
  const times = new Map<string, { seen: number } & Record<string, number | undefined>>();
  const last = new Map<string, T>();
  const note = (o: T, deleted = false) => {
    const uid = o.metadata!.uid!;
    const t = times.get(uid) ?? { seen: Date.now() };
    for (const [mark, test] of Object.entries(marks)) if (t[mark] === undefined && test(o)) t[mark] = Date.now();
    if (deleted) t.deleted ??= Date.now();
    times.set(uid, t);
    last.set(uid, o);
  };
  let stopped = false;
  informer.on('add', (o) => note(o));
  informer.on('update', (o) => note(o));
  informer.on('delete', (o) => note(o, true));
  // The list-watch stops on any error but an expired version: start it again, unless stopped on purpose.
  informer.on('error', () => void sleep(1000).then(() => (stopped ? undefined : informer.start())));
  await informer.start();
  return {
    list: () => informer.list(),
    /** Every object seen, with its times. */
    seen: () => [...last].map(([uid, object]) => ({ object, at: times.get(uid)! })),
    stop: async () => {
      stopped = true;
      await informer.stop();
    },
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

async function preemption(names: string[], pid: number): Promise<void> {
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
    const capacity = nodes * 8;
    const gpusBound = () =>
      pods
        .list()
        .filter((p) => inBench.has(p.metadata!.namespace!) && p.spec?.nodeName && !isTerminal(p) && !p.metadata?.deletionTimestamp)
        .reduce((sum, p) => sum + Number(podRequests(p).get('nvidia.com/gpu') ?? 0n) / 1000, 0);
    const started = Date.now();
    await submitAll(names);
    const submitSeconds = (Date.now() - started) / 1000;
    await waitFor(() => `${gpusBound()}/${capacity} GPUs bound`, () => (gpusBound() === capacity ? true : undefined), 1_800_000);
    const fillSeconds = (Date.now() - started) / 1000;
    const all = (await Promise.all(names.map((n) => custom.listNamespacedCustomObject({ group, version, plural: 'jobs', namespace: n })))).flatMap((l) => (l as { items: Job[] }).items);
    const queued = all.filter((j) => j.status?.phase === 'Queued').length;
    const before = await scrape();

    const createdAt = Date.now();
    await custom.createNamespacedCustomObject({ group, version, plural: 'jobs', namespace: ns, body: jobBody(ns, preemptorName, preemptorPods, { priorityClassName: classes.high }) });
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
    const stats = procStats(pid);
    const result = {
      date: new Date().toISOString(),
      scenario: 'preemption',
      nodes,
      jobs,
      workspaces,
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
    report('admission-preemption', result, {
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
  } finally {
    await pods.stop();
    await jobsOfPreemptor.stop();
  }
}

async function main(): Promise<void> {
  console.log(`admission benchmark (${scenario}): ${nodes} nodes × 8 GPUs, ${jobs} jobs (gangs of ${gangSizes.join('/')} pods), ${workspaces} workspaces, pods run ${scenario === 'preemption' ? 'until deleted' : values.run}`);
  const names = await setup();
  const controller = startControllerProcess(process.env.E2E_KUBECONFIG ?? kubeconfigPath(), ['--no-leader-elect', '--metrics-port', String(metricsPort), '--log-level', 'warn', '--workers', '8'], join(resultsDir, 'admission-controller.log'));
  // Whatever happens, the controller stops and the cluster is left as it was found.
  try {
    const pid = controller.child.pid!;
    while (!(await scrape().catch(() => undefined))) await sleep(200);
    await (scenario === 'preemption' ? preemption(names, pid) : throughput(names, pid));
  } finally {
    await controller.kill('SIGTERM');
    if (!values.keep) await cleanup(names);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
