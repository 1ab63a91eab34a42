/**
 * Kueue v0.17 as a benchmark's system under test, on the same nodes, workspaces and quotas as
 * Octopus: a ResourceFlavor on the benchmark's nodes, a ClusterQueue and LocalQueue per
 * workspace, batch/v1 Jobs, and Kueue's manager as a local process against the local plane.
 *
 * Kueue is built from the Go module proxy into ~/.cache/octopus/kueue-<version> on first use
 * (OCTOPUS_KUEUE_BIN overrides). Its webhooks are not registered: Jobs are created the way its
 * defaulting webhook leaves them (suspended, with a queue-name label).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, type KubernetesObject, type V1CustomResourceDefinition, type V1Job } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { resourceTagKey } from '../../hack/cluster/nodes.js';
import { downloadModule, goEnv, run } from '../../hack/cluster/tools.js';
import { generateTlsBundle, type TlsBundle } from '../../webhooks/certs.js';
import { applyCrds } from '../harness/crds.js';
import { assertAlive, startProcess, type ControllerProcess } from '../harness/process.js';
import { bench, clearNamespacesAndNodes, benchPodSpec, createNodesAndNamespaces, deleteNamespaces, deleteNodes, gpusPerWorkspace, ignoreConflict, ignoreNotFound, inParallel, namespaces, resultsDir, simAnnotations, submission, waitGone, type ClientLimits, type Workload } from './common.js';
import type { ObservedSystem } from './observer.js';

export const kueueVersion = 'v0.17.0';
const kueueModule = 'sigs.k8s.io/kueue';
const kueueGroup = 'kueue.x-k8s.io';
const kueueApi = 'v1beta2';
const flavorName = 'bench-gpu';
const queueName = 'bench';
// Without internal cert management Kueue reads its metrics certificate from this fixed path,
// even when the metrics server is off; nothing configures it.
const metricsCertRoot = '/etc/kueue';
const metricsCertDir = join(metricsCertRoot, 'metrics', 'certs');

// ---------------------------------------------------------------- building Kueue

function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'octopus', `kueue-${kueueVersion}`);
}

/** Kueue's manager binary: OCTOPUS_KUEUE_BIN, else the cache, built there on first use. */
export async function ensureKueue(): Promise<string> {
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

/** A loopback port nothing listens on now, for Kueue's webhook server (it starts one even with no webhook registered). */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  return port;
}

/**
 * The manager's Configuration for a local, out-of-cluster run: no cert management, no leader
 * election, no metrics or health server (the observer reads the API, not Kueue), no visibility
 * API server (it wants an APIService and serves on a fixed port), only batch/v1 Jobs, the
 * benchmark's client limits, and the worker settings of Kueue's shipped manager config.
 */
function kueueConfig(webhookCertDir: string, webhookPort: number, limits: ClientLimits): string {
  return stringify({
    apiVersion: `config.${kueueGroup}/v1beta2`,
    kind: 'Configuration',
    health: { healthProbeBindAddress: '0' },
    metrics: { bindAddress: '0' },
    webhook: { host: '127.0.0.1', port: webhookPort, certDir: webhookCertDir },
    leaderElection: { leaderElect: false },
    internalCertManagement: { enable: false },
    manageJobsWithoutQueueName: false,
    integrations: { frameworks: ['batch/job'] },
    featureGates: { VisibilityOnDemand: false },
    clientConnection: { qps: limits.qps, burst: limits.burst },
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

// ---------------------------------------------------------------- the workload

function kueueObjects(custom: CustomObjectsApi) {
  return {
    create: (plural: string, body: object, namespace?: string) =>
      ignoreConflict(
        namespace ? custom.createNamespacedCustomObject({ group: kueueGroup, version: kueueApi, plural, namespace, body }) : custom.createClusterCustomObject({ group: kueueGroup, version: kueueApi, plural, body }),
      ),
    /** The benchmark's cluster-scoped Kueue objects; none when Kueue's CRDs are not installed. */
    list: async (plural: string) =>
      ((await custom.listClusterCustomObject({ group: kueueGroup, version: kueueApi, plural, labelSelector: bench.labelSelector }).catch((err: unknown) => {
        if ((err as { code?: number }).code === 404) return { items: [] };
        throw err;
      })) as { items: (KubernetesObject & { status?: { conditions?: { type: string; status: string }[] } })[] }).items,
  };
}

async function createObjects(kc: KubeConfig, w: Workload): Promise<void> {
  const objects = kueueObjects(kc.makeApiClient(CustomObjectsApi));
  // Kueue puts the flavor's node labels into the pods' nodeSelector when it admits a job: they land on the benchmark's nodes.
  await objects.create('resourceflavors', { apiVersion: `${kueueGroup}/${kueueApi}`, kind: 'ResourceFlavor', metadata: { name: flavorName, labels: bench.label }, spec: { nodeLabels: { [resourceTagKey]: bench.resourceTag } } });
  // As for Octopus: the GPUs are shared evenly and each workspace drains through its own limit
  // (no cohort, so no borrowing). cpu and memory get the GPUs' share of a node (8 cpu and 64Gi
  // per GPU); Kueue only admits resources a ClusterQueue covers, and the pods ask for half that.
  const perWorkspace = gpusPerWorkspace(w);
  await inParallel(namespaces(w), 8, async (ns) => {
    await objects.create('clusterqueues', {
      apiVersion: `${kueueGroup}/${kueueApi}`,
      kind: 'ClusterQueue',
      metadata: { name: ns, labels: bench.label },
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
    });
    await objects.create('localqueues', { apiVersion: `${kueueGroup}/${kueueApi}`, kind: 'LocalQueue', metadata: { name: queueName, namespace: ns }, spec: { clusterQueue: ns } }, ns);
  });
}

/** Deletes the benchmark's ClusterQueues and flavor and waits until they are gone: Kueue's finalizers need Kueue running. */
export async function deleteKueueObjects(kc: KubeConfig, check?: () => void): Promise<void> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const objects = kueueObjects(custom);
  const plurals = ['clusterqueues', 'resourceflavors'];
  for (const plural of plurals) {
    await inParallel(await objects.list(plural), 8, (o) => ignoreNotFound(custom.deleteClusterCustomObject({ group: kueueGroup, version: kueueApi, plural, name: o.metadata!.name! })));
  }
  await waitGone('Kueue ClusterQueues and flavors', async () => (await Promise.all(plurals.map(objects.list))).reduce((sum, items) => sum + items.length, 0), check);
}

/** Submission i of the workload, as a batch/v1 Job. */
export function kueueJob(w: Workload, i: number): V1Job {
  const s = submission(w, i);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    // Suspended and labelled: what Kueue's defaulting webhook makes of a Job with a queue name.
    metadata: { name: s.name, namespace: s.namespace, labels: { 'kueue.x-k8s.io/queue-name': queueName } },
    spec: {
      suspend: true,
      parallelism: s.pods,
      completions: s.pods,
      // Finished jobs go, and their pods and Workloads with them, as Octopus's do.
      ttlSecondsAfterFinished: w.ttl,
      template: { metadata: { annotations: simAnnotations(w) }, spec: benchPodSpec() },
    },
  };
}

export function createKueueJob(kc: KubeConfig, job: V1Job): Promise<unknown> {
  return kc.makeApiClient(BatchV1Api).createNamespacedJob({ namespace: job.metadata!.namespace!, body: job });
}

interface KueueWorkload extends KubernetesObject {
  status?: { admission?: object };
}

/**
 * batch/v1 Jobs as the observer reads them. Admitted when the job's Workload has
 * `status.admission`: Kueue's decision, as Octopus's `status.admission` is its own; unsuspending
 * the Job follows from it.
 */
export function kueueSystem(kc: KubeConfig): ObservedSystem<V1Job, KueueWorkload> {
  const batch = kc.makeApiClient(BatchV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  return {
    jobs: { path: '/apis/batch/v1/jobs', list: () => batch.listJobForAllNamespaces() },
    pods: (job) => job.spec?.parallelism ?? 1,
    finished: (job) => job.status?.conditions?.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True') === true,
    podJobLabel: 'batch.kubernetes.io/job-name',
    admissions: {
      path: `/apis/${kueueGroup}/${kueueApi}/workloads`,
      list: () => custom.listClusterCustomObject({ group: kueueGroup, version: kueueApi, plural: 'workloads' }),
      admitted: (wl) => wl.status?.admission !== undefined,
    },
  };
}

/**
 * Creates the nodes, namespaces and Kueue's objects, starts Kueue and waits until every
 * ClusterQueue is Active; runs `body`; then deletes everything while Kueue runs (its
 * finalizers) and waits until it is gone, and stops Kueue while the apiserver is up (it was
 * seen to ignore SIGTERM once the apiserver was gone).
 */
export async function withKueue<T>(opts: { kc: KubeConfig; kubeconfig: string; workload: Workload; limits: ClientLimits; keep?: boolean }, body: (kueue: ControllerProcess) => Promise<T>): Promise<T> {
  const { kc, workload: w } = opts;
  const core = kc.makeApiClient(CoreV1Api);
  const bin = await ensureKueue();
  const crds = await kueueCrds();
  const work = mkdtempSync(join(tmpdir(), 'octopus-kueue-'));
  const ownsMetricsCertRoot = !existsSync(metricsCertRoot);
  let kueue: ControllerProcess | undefined;
  try {
    const tls = await generateTlsBundle({ identity: { commonName: 'kueue-bench', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }, now: new Date(), validityDays: 7 });
    writeTls(join(work, 'webhook-certs'), tls);
    try {
      writeTls(metricsCertDir, tls);
    } catch (err) {
      throw new Error(`Kueue reads its metrics certificate from ${metricsCertDir} only; this user cannot write there`, { cause: err });
    }
    const configFile = join(work, 'config.yaml');
    writeFileSync(configFile, kueueConfig(join(work, 'webhook-certs'), await freePort(), opts.limits));
    await applyCrds(kc, crds, 'octopus-bench');
    await clearNamespacesAndNodes(core);
    await createNodesAndNamespaces(core, w);
    await createObjects(kc, w);
    mkdirSync(resultsDir, { recursive: true });
    // Info logs are per workload; errors only, like the Octopus controller's `--log-level warn`.
    const started = startProcess(bin, ['--config', configFile, '--zap-log-level=error'], { log: join(resultsDir, 'kueue-manager.log'), env: { ...process.env, KUBECONFIG: opts.kubeconfig } });
    kueue = started;
    const objects = kueueObjects(kc.makeApiClient(CustomObjectsApi));
    const deadline = Date.now() + 120_000;
    for (;;) {
      assertAlive(started);
      const queues = await objects.list('clusterqueues');
      if (queues.filter((cq) => cq.status?.conditions?.some((c) => c.type === 'Active' && c.status === 'True')).length === w.workspaces) break;
      if (Date.now() > deadline) throw new Error(`not every ClusterQueue Active after 2 minutes; see ${started.log}`);
      await sleep(500);
    }
    return await body(started);
  } finally {
    try {
      if (!opts.keep) {
        const alive = () => kueue && assertAlive(kueue);
        await deleteNamespaces(core, alive);
        await deleteKueueObjects(kc, alive);
      }
    } finally {
      await kueue?.stop();
      if (!opts.keep) await deleteNodes(core);
      rmSync(work, { recursive: true, force: true });
      if (ownsMetricsCertRoot) rmSync(metricsCertRoot, { recursive: true, force: true });
    }
  }
}
