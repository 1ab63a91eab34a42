/**
 * The admission benchmark's twin for Kueue (a script, not a test): the same nodes, workspaces,
 * quotas and 1/2/4/8-pod gangs as admission.ts, admitted by Kueue's manager instead of
 * Octopus's controller, so DESIGN's "at least as fast as Kueue" has a number to compare with.
 *
 * Kueue is built from the Go module proxy into ~/.cache/octopus/kueue-<version> on first use
 * (OCTOPUS_KUEUE_BIN overrides) and runs as a local process against the local plane. Its
 * webhooks are not registered: Jobs are created the way its defaulting webhook leaves them
 * (suspended, with a queue-name label).
 *
 *   npm run bench:kueue -- --nodes 200 --jobs 2000 [--workspaces 50] [--run 10s] [--qps 50, 0 = unlimited] [--keep]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiextensionsV1Api, BatchV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions, type V1CustomResourceDefinition, type V1Job } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { resourceTagKey, simulatedNode } from '../../hack/cluster/nodes.js';
import { kubeconfigPath } from '../../hack/cluster/paths.js';
import { downloadModule, goEnv, run } from '../../hack/cluster/tools.js';
import { generateTlsBundle, type TlsBundle } from '../../webhooks/certs.js';
import { waitNodesUsable } from '../harness/fixtures.js';
import { eventually } from '../harness/kube.js';
import { benchOptions, commonResult, createBenchNamespace, followAdmissions, gangSizes, gpusPerWorkspace, inParallel, ignoreConflict, report, resultsDir, waitForServiceAccounts } from './common.js';

// Kueue's shipped manager config throttles its API client to 50 QPS (burst 100); 0 lifts the limit.
const values = benchOptions(18090, { qps: '50' });
const { nodes, jobs, workspaces, metricsPort } = values;
// Kueue takes a negative QPS as "no client-side limit" (0 would mean its default, 20).
const qps = Number(values.extra.qps) > 0 ? Number(values.extra.qps) : -1;

const kueueModule = 'sigs.k8s.io/kueue';
const kueueVersion = 'v0.17.0';
const kueueGroup = 'kueue.x-k8s.io';
const kueueApi = 'v1beta2';
const nodePrefix = 'kueue-gpu';
const resourceTag = 'kueue-bench';
const flavorName = 'kueue-bench-gpu';
const queueName = 'bench';
const benchLabel = { 'octopus.openi.pcl.cn/bench': 'kueue' };
// Without internal cert management Kueue reads its metrics certificate from this fixed path; nothing configures it.
const metricsCertRoot = '/etc/kueue';
const metricsCertDir = join(metricsCertRoot, 'metrics', 'certs');

const kubeconfig = process.env.E2E_KUBECONFIG ?? kubeconfigPath();
const kc = new KubeConfig();
kc.loadFromFile(kubeconfig);
const core = kc.makeApiClient(CoreV1Api);
const batch = kc.makeApiClient(BatchV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);

// ---------------------------------------------------------------- building Kueue

function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'octopus', `kueue-${kueueVersion}`);
}

/** Kueue's manager binary: OCTOPUS_KUEUE_BIN, else the cache, built there on first use. */
async function ensureKueue(): Promise<string> {
  const override = process.env.OCTOPUS_KUEUE_BIN;
  if (override) {
    if (!existsSync(override)) throw new Error(`OCTOPUS_KUEUE_BIN=${override} does not exist`);
    return override;
  }
  const bin = join(cacheDir(), 'bin', 'kueue');
  if (existsSync(bin)) return bin;
  const src = join(cacheDir(), 'src');
  mkdirSync(join(cacheDir(), 'bin'), { recursive: true });
  mkdirSync(src, { recursive: true });
  console.log(`building Kueue ${kueueVersion} into ${bin} (a cold build takes about 10 minutes on two cores)`);
  const started = Date.now();
  // At the lowest priority: the machine is shared.
  const go = (label: string, args: string[]) => run('nice', ['-n', '19', 'go', ...args], { cwd: src, env: goEnv(), label, log: console.log });
  if (!existsSync(join(src, 'go.mod'))) await go('go mod init', ['mod', 'init', 'octopus.local/tools/kueue']);
  await go('go get', ['get', `${kueueModule}/cmd/kueue@${kueueVersion}`]);
  // Built beside the target and renamed, so an interrupted build never leaves a binary that looks complete.
  await go('go build kueue', ['build', '-trimpath', '-ldflags', `-s -w -X ${kueueModule}/pkg/version.GitVersion=${kueueVersion}`, '-o', `${bin}.partial`, `${kueueModule}/cmd/kueue`]);
  renameSync(`${bin}.partial`, bin);
  console.log(`built Kueue in ${Math.round((Date.now() - started) / 1000)}s, ${(statSync(bin).size / 2 ** 20).toFixed(0)} MiB`);
  return bin;
}

/** Kueue's own CRDs, from its module in the Go module cache (fetched through the proxy if absent). */
async function kueueCrds(): Promise<V1CustomResourceDefinition[]> {
  mkdirSync(cacheDir(), { recursive: true });
  const dir = join((await downloadModule(kueueModule, kueueVersion, cacheDir(), console.log)).dir, 'config', 'components', 'crd', 'bases');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => parse(readFileSync(join(dir, f), 'utf8')) as V1CustomResourceDefinition);
}

// ---------------------------------------------------------------- running Kueue

interface KueueProcess {
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * The manager's Configuration for a local, out-of-cluster run: no cert management, no leader
 * election, no visibility API server (it wants an APIService and serves on a fixed port), only
 * batch/v1 Jobs, and the client and worker settings of Kueue's shipped manager config.
 */
function kueueConfig(webhookCertDir: string): string {
  return stringify({
    apiVersion: `config.${kueueGroup}/v1beta2`,
    kind: 'Configuration',
    health: { healthProbeBindAddress: '0' },
    metrics: { bindAddress: `127.0.0.1:${metricsPort}` },
    webhook: { host: '127.0.0.1', port: metricsPort + 1, certDir: webhookCertDir },
    leaderElection: { leaderElect: false },
    internalCertManagement: { enable: false },
    manageJobsWithoutQueueName: false,
    integrations: { frameworks: ['batch/job'] },
    featureGates: { VisibilityOnDemand: false },
    clientConnection: { qps, burst: Math.max(1, qps * 2) },
    controller: {
      groupKindConcurrency: {
        'Job.batch': 5,
        Pod: 5,
        'Workload.kueue.x-k8s.io': 5,
        'LocalQueue.kueue.x-k8s.io': 1,
        'Cohort.kueue.x-k8s.io': 1,
        'ClusterQueue.kueue.x-k8s.io': 1,
        'ResourceFlavor.kueue.x-k8s.io': 1,
      },
    },
  });
}

function writeTls(dir: string, tls: TlsBundle): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'tls.crt'), tls.cert);
  writeFileSync(join(dir, 'tls.key'), tls.key, { mode: 0o600 });
}

function startKueue(bin: string, configFile: string, log: string): KueueProcess {
  const out = openSync(log, 'a');
  // Info logs are per workload; errors only, like the Octopus controller's `--log-level warn`.
  const child = spawn(bin, ['--config', configFile, '--zap-log-level=error'], { env: { ...process.env, KUBECONFIG: kubeconfig }, stdio: ['ignore', out, out] });
  closeSync(out);
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function running(kueue: KueueProcess): boolean {
  return kueue.child.exitCode === null && kueue.child.signalCode === null;
}

function assertRunning(kueue: KueueProcess, log: string): void {
  if (!running(kueue)) {
    const tail = readFileSync(log, 'utf8').split('\n').slice(-20).join('\n');
    throw new Error(`kueue exited (${kueue.child.exitCode ?? kueue.child.signalCode}); last lines of ${log}:\n${tail}`);
  }
}

/** Kueue's metrics endpoint is HTTPS and checks a bearer token against the apiserver: the kubeconfig's own token passes. */
function scrape(tls: TlsBundle, token: string): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: metricsPort, path: '/metrics', ca: tls.caBundle, headers: { authorization: `Bearer ${token}` }, timeout: 5000 }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`metrics: HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
        const out = new Map<string, number>();
        for (const line of text.split('\n')) {
          // Series differ by queue, priority class and result; the benchmark wants their sums.
          const m = /^(kueue_admitted_workloads_total|kueue_admission_attempt_duration_seconds_(?:sum|count))\{[^}]*\}\s+(\S+)/.exec(line);
          if (m) out.set(m[1]!, (out.get(m[1]!) ?? 0) + Number(m[2]));
        }
        resolve(out);
      });
    });
    req.on('timeout', () => req.destroy(new Error('metrics: timed out')));
    req.on('error', reject);
    req.end();
  });
}

// ---------------------------------------------------------------- the workload

const names = Array.from({ length: workspaces }, (_, i) => `kueue-ws-${i}`);
const nodeNames = Array.from({ length: nodes }, (_, i) => `${nodePrefix}-${i}`);

async function installKueueCrds(crds: V1CustomResourceDefinition[]): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const apply = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
  for (const crd of crds) await api.patchCustomResourceDefinition({ name: crd.metadata!.name!, body: crd, fieldManager: 'octopus-bench', force: true }, apply);
  for (const crd of crds) {
    await eventually(`CRD ${crd.metadata!.name} Established`, async () => {
      const got = await api.readCustomResourceDefinition({ name: crd.metadata!.name! });
      return got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ? true : undefined;
    });
  }
}

function createKueueObject(plural: string, body: object, namespace?: string): Promise<unknown> {
  return namespace
    ? custom.createNamespacedCustomObject({ group: kueueGroup, version: kueueApi, plural, namespace, body })
    : custom.createClusterCustomObject({ group: kueueGroup, version: kueueApi, plural, body });
}

async function setup(): Promise<void> {
  const nodeList = Array.from({ length: nodes }, (_, i) => simulatedNode('gpu', i, { resourceTag, namePrefix: nodePrefix }));
  await inParallel(nodeList, 16, (n) => ignoreConflict(core.createNode({ body: n })));
  // Pods of early-admitted jobs would wait in the scheduler for the not-ready taint to lift, holding quota longer.
  await waitNodesUsable(core, `${resourceTagKey}=${resourceTag}`, nodes, 300_000);
  // Kueue puts the flavor's node labels into the pods' nodeSelector when it admits a job: they land on the benchmark's nodes.
  await ignoreConflict(createKueueObject('resourceflavors', { apiVersion: `${kueueGroup}/${kueueApi}`, kind: 'ResourceFlavor', metadata: { name: flavorName, labels: benchLabel }, spec: { nodeLabels: { [resourceTagKey]: resourceTag } } }));
  // As in admission.ts: the GPUs are shared evenly and each workspace drains through its own
  // limit (no cohort, so no borrowing). cpu and memory get the GPUs' share of a node (8 cpu and
  // 64Gi per GPU); Kueue only admits resources a ClusterQueue covers, and the pods ask for half that.
  const perWorkspace = gpusPerWorkspace(nodes, workspaces);
  if (perWorkspace * workspaces > nodes * 8) {
    console.log(`note: quotas add up to ${perWorkspace * workspaces} GPUs on ${nodes * 8}; Kueue (no topology-aware scheduling) admits past what the nodes hold, Octopus does not`);
  }
  await inParallel(names, 8, async (ns) => {
    await createBenchNamespace(core, ns, benchLabel);
    await ignoreConflict(
      createKueueObject('clusterqueues', {
        apiVersion: `${kueueGroup}/${kueueApi}`,
        kind: 'ClusterQueue',
        metadata: { name: ns, labels: benchLabel },
        spec: {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
          resourceGroups: [
            {
              coveredResources: ['nvidia.com/gpu', 'cpu', 'memory'],
              flavors: [
                {
                  name: flavorName,
                  resources: [
                    { name: 'nvidia.com/gpu', nominalQuota: perWorkspace },
                    { name: 'cpu', nominalQuota: perWorkspace * 8 },
                    { name: 'memory', nominalQuota: `${perWorkspace * 64}Gi` },
                  ],
                },
              ],
            },
          ],
        },
      }),
    );
    await ignoreConflict(createKueueObject('localqueues', { apiVersion: `${kueueGroup}/${kueueApi}`, kind: 'LocalQueue', metadata: { name: queueName, namespace: ns }, spec: { clusterQueue: ns } }, ns));
  });
  await waitForServiceAccounts(core, names);
}

function jobBody(ns: string, i: number): V1Job {
  const replicas = gangSizes[i % gangSizes.length]!;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    // Suspended and labelled: what Kueue's defaulting webhook makes of a Job with a queue name.
    metadata: { name: `bench-${i}`, namespace: ns, labels: { 'kueue.x-k8s.io/queue-name': queueName } },
    spec: {
      suspend: true,
      parallelism: replicas,
      completions: replicas,
      // Finished jobs go, and their pods and Workloads with them, as in admission.ts.
      ttlSecondsAfterFinished: values.ttl,
      template: {
        metadata: { annotations: { 'sim.octopus.openi.pcl.cn/outcome': 'Succeed', 'sim.octopus.openi.pcl.cn/duration': values.run } },
        spec: {
          restartPolicy: 'Never',
          containers: [
            {
              name: 'w',
              image: 'docker.io/library/python:3.12',
              // Kubernetes wants an extended resource's limit set (equal to its request).
              resources: { requests: { 'nvidia.com/gpu': '1', cpu: '4', memory: '32Gi' }, limits: { 'nvidia.com/gpu': '1' } },
            },
          ],
        },
      },
    },
  };
}

async function allQueuesActive(): Promise<boolean> {
  const list = (await custom.listClusterCustomObject({ group: kueueGroup, version: kueueApi, plural: 'clusterqueues', labelSelector: 'octopus.openi.pcl.cn/bench=kueue' })) as {
    items: { status?: { conditions?: { type: string; status: string }[] } }[];
  };
  const active = list.items.filter((cq) => cq.status?.conditions?.some((c) => c.type === 'Active' && c.status === 'True'));
  return active.length === workspaces;
}

/** Kueue holds finalizers on Workloads, ClusterQueues and the flavor, so it must run until they are gone. */
async function cleanup(kueue: KueueProcess | undefined): Promise<void> {
  await inParallel(names, 8, (ns) => core.deleteNamespace({ name: ns }).then(() => undefined, () => undefined));
  await inParallel(names, 8, (name) => custom.deleteClusterCustomObject({ group: kueueGroup, version: kueueApi, plural: 'clusterqueues', name }).then(() => undefined, () => undefined));
  await custom.deleteClusterCustomObject({ group: kueueGroup, version: kueueApi, plural: 'resourceflavors', name: flavorName }).catch(() => undefined);
  await inParallel(nodeNames, 16, (name) => core.deleteNode({ name }).then(() => undefined, () => undefined));
  const left = async () => {
    const nsList = await core.listNamespace({ labelSelector: 'octopus.openi.pcl.cn/bench=kueue' });
    const kueueObjects = await Promise.all(
      ['clusterqueues', 'resourceflavors'].map(async (plural) => ((await custom.listClusterCustomObject({ group: kueueGroup, version: kueueApi, plural, labelSelector: 'octopus.openi.pcl.cn/bench=kueue' })) as { items: unknown[] }).items.length),
    );
    return nsList.items.length + kueueObjects.reduce((a, b) => a + b, 0);
  };
  const deadline = Date.now() + 600_000;
  for (let remaining = await left(); remaining > 0; remaining = await left()) {
    if (Date.now() > deadline || (kueue && !running(kueue))) {
      console.error(`cleanup incomplete: ${remaining} benchmark namespaces, ClusterQueues or flavors remain (Kueue's finalizers need Kueue running to go)`);
      return;
    }
    await sleep(2000);
  }
}

// ---------------------------------------------------------------- the run

async function main(): Promise<void> {
  const token = kc.getCurrentUser()?.token;
  if (!token) throw new Error(`the kubeconfig ${kubeconfig} has no bearer token; Kueue's metrics endpoint authenticates only tokens`);
  const bin = await ensureKueue();
  console.log(`Kueue ${kueueVersion} admission benchmark: ${nodes} nodes × 8 GPUs, ${jobs} jobs (gangs of ${gangSizes.join('/')} pods), ${workspaces} workspaces, pods run ${values.run}, client QPS ${qps < 0 ? 'unlimited' : qps}`);
  const crds = await kueueCrds();
  mkdirSync(resultsDir, { recursive: true });
  const log = join(resultsDir, 'kueue-manager.log');
  const work = mkdtempSync(join(tmpdir(), 'octopus-kueue-'));
  const ownsMetricsCertRoot = !existsSync(metricsCertRoot);
  let kueue: KueueProcess | undefined;
  try {
    const tls = await generateTlsBundle({ identity: { commonName: 'kueue-bench', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }, now: new Date(), validityDays: 7 });
    writeTls(join(work, 'webhook-certs'), tls);
    try {
      writeTls(metricsCertDir, tls);
    } catch (err) {
      throw new Error(`Kueue reads its metrics certificate from ${metricsCertDir} only; this user cannot write there`, { cause: err });
    }
    const configFile = join(work, 'config.yaml');
    writeFileSync(configFile, kueueConfig(join(work, 'webhook-certs')));
    await installKueueCrds(crds);
    await setup();
    kueue = startKueue(bin, configFile, log);
    const running = kueue;
    const pid = running.child.pid!;
    await eventually(
      'Kueue serving metrics and every ClusterQueue Active',
      async () => {
        assertRunning(running, log);
        await scrape(tls, token);
        return (await allQueuesActive()) ? true : undefined;
      },
      120_000,
      500,
    ).catch((err: unknown) => {
      assertRunning(running, log);
      throw err;
    });

    const started = Date.now();
    let submittedAt = 0;
    const submit = inParallel(Array.from({ length: jobs }, (_, i) => i), 16, async (i) => {
      const ns = names[i % names.length]!;
      await batch.createNamespacedJob({ namespace: ns, body: jobBody(ns, i) });
    }).then(() => (submittedAt = Date.now()));
    const progress = await followAdmissions({
      jobs,
      pid,
      started,
      who: 'kueue',
      check: () => assertRunning(running, log),
      admittedCount: async () => (await scrape(tls, token)).get('kueue_admitted_workloads_total') ?? 0,
    });
    await submit;
    const cycles = await scrape(tls, token);
    const result = {
      ...commonResult({ nodes, jobs, workspaces, podRunTime: values.run, started, submittedAt }, progress, pid),
      kueueVersion,
      clientQps: qps > 0 ? qps : 'unlimited',
      // One Kueue admission attempt pops one head Workload per ClusterQueue and tries to admit them.
      admissionCycles: cycles.get('kueue_admission_attempt_duration_seconds_count') ?? 0,
      meanCycleMs: ((cycles.get('kueue_admission_attempt_duration_seconds_sum') ?? 0) / Math.max(1, cycles.get('kueue_admission_attempt_duration_seconds_count') ?? 1)) * 1000,
      samples: progress.samples,
    };
    // Kubernetes' Job controller creates the pods after Kueue unsuspends a job: pods created/s is pods over time, as in admission.ts.
    report('kueue', result, {
      'jobs admitted': `${result.admitted}/${jobs}`,
      'time to admit all (s)': result.admitAllSeconds.toFixed(1),
      'submission took (s)': result.submitSeconds.toFixed(1),
      'jobs admitted/s': result.jobsAdmittedPerSecond.toFixed(1),
      'pods created/s': result.podsCreatedPerSecond.toFixed(1),
      'kueue peak RSS (MiB)': result.controllerPeakRssMiB,
      'kueue CPU (s, % of wall)': `${result.controllerCpuSeconds.toFixed(1)} (${result.controllerCpuPercent}%)`,
      'admission attempts (mean ms)': `${result.admissionCycles} (${result.meanCycleMs.toFixed(1)})`,
    });
  } finally {
    if (!values.keep) await cleanup(kueue);
    await kueue?.stop();
    rmSync(work, { recursive: true, force: true });
    if (ownsMetricsCertRoot) rmSync(metricsCertRoot, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
