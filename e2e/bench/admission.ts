/**
 * Admission benchmark (a script, not a test): N simulated 8-GPU nodes, 50 workspaces with
 * quotas, M jobs of 1/2/4/8-pod gangs (1 GPU per pod) that run for a while and finish.
 * Measures the time from the first submission to the last admission, pods created per
 * second, and the controller process's peak RSS and CPU. Prints a table and writes JSON
 * under e2e/bench/results/.
 *
 *   npm run bench:admission -- --nodes 200 --jobs 2000 [--workspaces 50] [--run 10s] [--keep]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { group, version, type Job } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { simulatedNode } from '../../hack/cluster/nodes.js';
import { kubeconfigPath, repoRoot } from '../../hack/cluster/paths.js';
import { installCrds } from '../harness/crds.js';
import { startControllerProcess } from '../harness/process.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '200' },
    jobs: { type: 'string', default: '2000' },
    workspaces: { type: 'string', default: '50' },
    run: { type: 'string', default: '10s' },
    'metrics-port': { type: 'string', default: '18089' },
    ttl: { type: 'string', default: '0' },
    keep: { type: 'boolean', default: false },
  },
});
const nodes = Number(values.nodes);
const jobs = Number(values.jobs);
const workspaces = Number(values.workspaces);
const metricsPort = Number(values['metrics-port']);
const poolName = 'bench';
const specName = 'bench-gpu-1x';
const gangSizes = [1, 2, 4, 8];

const kc = new KubeConfig();
kc.loadFromFile(process.env.E2E_KUBECONFIG ?? kubeconfigPath());
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);

async function ignoreConflict(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
}

async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: limit }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
  }));
}

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
  // Quotas share the pool's GPUs evenly, so each workspace's queue drains through its own limit.
  const perWorkspace = Math.max(8, Math.floor((nodes * 8) / workspaces));
  const names = Array.from({ length: workspaces }, (_, i) => `bench-ws-${i}`);
  await inParallel(names, 8, async (ns) => {
    // A previous run's namespaces may still be terminating.
    for (;;) {
      const existing = await core.readNamespace({ name: ns }).catch(() => undefined);
      if (!existing?.metadata?.deletionTimestamp) break;
      await sleep(500);
    }
    await ignoreConflict(core.createNamespace({ body: { metadata: { name: ns, labels: { 'octopus.openi.pcl.cn/bench': 'true' } } } }));
    await ignoreConflict(
      custom.createNamespacedCustomObject({ group, version, plural: 'quotas', namespace: ns, body: { apiVersion: `${group}/${version}`, kind: 'Quota', metadata: { name: 'default', namespace: ns }, spec: { hard: { 'nvidia.com/gpu': perWorkspace } } } }),
    );
  });
  // Pods are refused until a namespace's default ServiceAccount exists.
  for (const ns of names) {
    for (;;) {
      try {
        await core.readNamespacedServiceAccount({ name: 'default', namespace: ns });
        break;
      } catch {
        await sleep(200);
      }
    }
  }
  return names;
}

function jobBody(ns: string, i: number): Job {
  const replicas = gangSizes[i % gangSizes.length]!;
  return {
    apiVersion: `${group}/${version}`,
    kind: 'Job',
    metadata: { name: `bench-${i}`, namespace: ns },
    spec: {
      image: { reference: 'docker.io/library/python:3.12' },
      pool: poolName,
      tasks: [
        {
          name: 'w',
          replicas,
          resourceSpec: specName,
          podMetadata: { annotations: { 'sim.octopus.openi.pcl.cn/outcome': 'Succeed', 'sim.octopus.openi.pcl.cn/duration': values.run! } },
        },
      ],
      // Finished jobs go, and their pods with them: the cluster stays the size of the running set.
      policy: { ttlSecondsAfterFinished: Number(values.ttl) },
    },
  };
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

function procStats(pid: number): { rssMiB: number; peakMiB: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(stat[11]) + Number(stat[12]);
  return { rssMiB: kb('VmRSS') / 1024, peakMiB: kb('VmHWM') / 1024, cpuSeconds: ticks / 100 };
}

async function cleanup(names: string[]): Promise<void> {
  await inParallel(names, 8, (ns) => core.deleteNamespace({ name: ns }).then(() => undefined, () => undefined));
  await inParallel(Array.from({ length: nodes }, (_, i) => `bench-gpu-${i}`), 16, (name) => core.deleteNode({ name }).then(() => undefined, () => undefined));
  await custom.deleteClusterCustomObject({ group, version, plural: 'resourcepools', name: poolName }).catch(() => undefined);
  await custom.deleteClusterCustomObject({ group, version, plural: 'resourcespecs', name: specName }).catch(() => undefined);
}

async function main(): Promise<void> {
  console.log(`admission benchmark: ${nodes} nodes × 8 GPUs, ${jobs} jobs (gangs of ${gangSizes.join('/')} pods), ${workspaces} workspaces, pods run ${values.run}`);
  const names = await setup();
  const resultsDir = join(repoRoot, 'e2e', 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const controller = startControllerProcess(process.env.E2E_KUBECONFIG ?? kubeconfigPath(), ['--no-leader-elect', '--metrics-port', String(metricsPort), '--log-level', 'warn', '--workers', '8'], join(resultsDir, 'admission-controller.log'));
  // Whatever happens, the controller stops and the cluster is left as it was found.
  try {
    const pid = controller.child.pid!;
    for (;;) {
      try {
        await scrape();
        break;
      } catch {
        await sleep(200);
      }
    }
    const started = Date.now();
    let submittedAt = 0;
    const submit = inParallel(Array.from({ length: jobs }, (_, i) => i), 16, async (i) => {
      await custom.createNamespacedCustomObject({ group, version, plural: 'jobs', namespace: names[i % names.length]!, body: jobBody(names[i % names.length]!, i) });
    }).then(() => (submittedAt = Date.now()));

    let peak = 0;
    let failedScrapes = 0;
    let admitted = 0;
    let lastProgress = started;
    let lastAdmitted = 0;
    const samples: { t: number; admitted: number; rssMiB: number }[] = [];
    while (admitted < jobs) {
      await sleep(1000);
      // A busy controller may drop a scrape; the next one counts the same totals.
      const m = await scrape().catch((err: unknown) => {
        failedScrapes++;
        console.error(`  metrics scrape failed: ${(err as Error).message}`);
        return undefined;
      });
      if (!m) continue;
      admitted = m.get('octopus_admission_attempts_total') ?? 0;
      const p = procStats(pid);
      peak = Math.max(peak, p.peakMiB);
      samples.push({ t: (Date.now() - started) / 1000, admitted, rssMiB: Math.round(p.rssMiB) });
      if (admitted !== lastAdmitted) {
        lastAdmitted = admitted;
        lastProgress = Date.now();
      }
      if (samples.length % 10 === 0) console.log(`  ${Math.round((Date.now() - started) / 1000)}s: ${admitted}/${jobs} admitted, controller RSS ${Math.round(p.rssMiB)} MiB`);
      if (Date.now() - lastProgress > 180_000) {
        console.error('no admission for 3 minutes; giving up');
        break;
      }
    }
    const admittedAt = Date.now();
    await submit;
    const cycles = await scrape();
    const stats = procStats(pid);
    const seconds = (admittedAt - started) / 1000;
    const pods = jobs * (gangSizes.reduce((a, b) => a + b, 0) / gangSizes.length);
    const result = {
      date: new Date().toISOString(),
      nodes,
      jobs,
      workspaces,
      podRunTime: values.run,
      admitted,
      complete: admitted >= jobs,
      submitSeconds: (submittedAt - started) / 1000,
      admitAllSeconds: seconds,
      jobsAdmittedPerSecond: admitted / seconds,
      podsCreatedPerSecond: pods / seconds,
      controllerPeakRssMiB: Math.round(peak),
      controllerCpuSeconds: stats.cpuSeconds,
      controllerCpuPercent: Math.round((stats.cpuSeconds / seconds) * 100),
      failedScrapes,
      admissionCycles: cycles.get('octopus_admission_cycle_duration_seconds_count') ?? 0,
      meanCycleMs: ((cycles.get('octopus_admission_cycle_duration_seconds_sum') ?? 0) / Math.max(1, cycles.get('octopus_admission_cycle_duration_seconds_count') ?? 1)) * 1000,
      samples,
    };
    const file = join(resultsDir, `admission-${nodes}n-${jobs}j-${result.date.replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
    console.table({
      'jobs admitted': `${admitted}/${jobs}`,
      'time to admit all (s)': seconds.toFixed(1),
      'submission took (s)': result.submitSeconds.toFixed(1),
      'jobs admitted/s': result.jobsAdmittedPerSecond.toFixed(1),
      'pods created/s': result.podsCreatedPerSecond.toFixed(1),
      'controller peak RSS (MiB)': result.controllerPeakRssMiB,
      'controller CPU (s, % of wall)': `${stats.cpuSeconds.toFixed(1)} (${result.controllerCpuPercent}%)`,
      'admission cycles (mean ms)': `${result.admissionCycles} (${result.meanCycleMs.toFixed(1)})`,
      'job queue wait / work (mean ms)': `${meanMs(cycles, 'job', 'queue').toFixed(0)} / ${meanMs(cycles, 'job', 'work').toFixed(0)}`,
      'admission queue wait / work (mean ms)': `${meanMs(cycles, 'admission', 'queue').toFixed(0)} / ${meanMs(cycles, 'admission', 'work').toFixed(0)}`,
    });
    console.log(`wrote ${file}`);
  } finally {
    await controller.kill('SIGTERM');
    if (!values.keep) await cleanup(names);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
