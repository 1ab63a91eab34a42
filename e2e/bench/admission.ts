/**
 * Admission benchmark (a script, not a test): N simulated 8-GPU nodes, 50 workspaces with
 * quotas, M jobs of 1/2/4/8-pod gangs (1 GPU per pod) that run for a while and finish.
 * Measures the time from the first submission to the last admission, pods created per
 * second, and the controller process's peak RSS and CPU. Prints a table and writes JSON
 * under e2e/bench/results/. kueue.ts runs the same workload through Kueue.
 *
 *   npm run bench:admission -- --nodes 200 --jobs 2000 [--workspaces 50] [--run 10s] [--keep]
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { group, version, type Job } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { resourceTagKey, simulatedNode } from '../../hack/cluster/nodes.js';
import { kubeconfigPath } from '../../hack/cluster/paths.js';
import { installCrds } from '../harness/crds.js';
import { waitNodesUsable } from '../harness/fixtures.js';
import { startControllerProcess } from '../harness/process.js';
import { benchOptions, commonResult, createBenchNamespace, followAdmissions, gangSizes, gpusPerWorkspace, ignoreConflict, inParallel, report, resultsDir, waitForServiceAccounts } from './common.js';

const values = benchOptions(18089);
const { nodes, jobs, workspaces, metricsPort } = values;
const poolName = 'bench';
const specName = 'bench-gpu-1x';

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
          podMetadata: { annotations: { 'sim.octopus.openi.pcl.cn/outcome': 'Succeed', 'sim.octopus.openi.pcl.cn/duration': values.run } },
        },
      ],
      // Finished jobs go, and their pods with them: the cluster stays the size of the running set.
      policy: { ttlSecondsAfterFinished: values.ttl },
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

async function cleanup(names: string[]): Promise<void> {
  await inParallel(names, 8, (ns) => core.deleteNamespace({ name: ns }).then(() => undefined, () => undefined));
  await inParallel(Array.from({ length: nodes }, (_, i) => `bench-gpu-${i}`), 16, (name) => core.deleteNode({ name }).then(() => undefined, () => undefined));
  await custom.deleteClusterCustomObject({ group, version, plural: 'resourcepools', name: poolName }).catch(() => undefined);
  await custom.deleteClusterCustomObject({ group, version, plural: 'resourcespecs', name: specName }).catch(() => undefined);
}

async function main(): Promise<void> {
  console.log(`admission benchmark: ${nodes} nodes × 8 GPUs, ${jobs} jobs (gangs of ${gangSizes.join('/')} pods), ${workspaces} workspaces, pods run ${values.run}`);
  const names = await setup();
  const controller = startControllerProcess(process.env.E2E_KUBECONFIG ?? kubeconfigPath(), ['--no-leader-elect', '--metrics-port', String(metricsPort), '--log-level', 'warn', '--workers', '8'], join(resultsDir, 'admission-controller.log'));
  // Whatever happens, the controller stops and the cluster is left as it was found.
  try {
    const pid = controller.child.pid!;
    while (!(await scrape().catch(() => undefined))) await sleep(200);
    const started = Date.now();
    let submittedAt = 0;
    const submit = inParallel(Array.from({ length: jobs }, (_, i) => i), 16, async (i) => {
      await custom.createNamespacedCustomObject({ group, version, plural: 'jobs', namespace: names[i % names.length]!, body: jobBody(names[i % names.length]!, i) });
    }).then(() => (submittedAt = Date.now()));
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
  } finally {
    await controller.kill('SIGTERM');
    if (!values.keep) await cleanup(names);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
