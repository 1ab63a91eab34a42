/**
 * The local platform: the control plane from hack/cluster, the Octopus CRDs, the webhook
 * server and the controller as local processes (no image needed), and the examples applied.
 *
 *   npm run up     # everything, then waits for the example Job to succeed
 *   npm run down   # stops Octopus and the plane, removes their state
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AdmissionregistrationV1Api, CoreV1Api, CustomObjectsApi, KubernetesObjectApi, PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { group, version, type Job, type Model } from '../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { buildsNamespace } from '../controllers/image/build.js';
import { parseOptions } from '../controllers/options.js';
import { userClusterRoles } from '../controllers/workspace/roles.js';
import { validExamples } from '../e2e/harness/examples.js';
import { installCrds } from '../e2e/harness/crds.js';
import { adminKubeConfig, down as planeDown, up as planeUp } from './cluster/plane.js';
import { hostImage } from './cluster/pod-runner.js';
import { readS3Access, s3AccessFile } from './cluster/s3.js';
import { prepareExampleData } from './example-data.js';
import { defaultNodeCounts } from './cluster/nodes.js';
import { kubeconfigPath, ports, repoRoot } from './cluster/paths.js';
import { logFile, startProcess, stopProcess, waitHealthy, type Log, type ManagedProcess } from './cluster/processes.js';

export const systemNamespace = 'octopus-system';
const webhookConfigName = 'octopus-webhooks';
const exampleJob = { namespace: 'team-a', name: 'resnet50-run1' };
/** The registry local builds push under (simulated: nothing is pushed); the examples' Image pushes to registry.example.com/team-a/. */
export const localBuildRegistry = 'registry.example.com';

function octopusProcess(name: 'octopus-webhooks' | 'octopus-controller'): ManagedProcess {
  const script = join(repoRoot, name === 'octopus-webhooks' ? 'webhooks' : 'controllers', 'main.ts');
  const port = name === 'octopus-webhooks' ? ports().webhooks : ports().controllerMetrics;
  const args =
    name === 'octopus-webhooks'
      ? ['--mode=local', `--kubeconfig=${kubeconfigPath()}`, `--namespace=${systemNamespace}`, `--port=${port}`, `--config-name=${webhookConfigName}`, `--build-registry=${localBuildRegistry}`]
      : [
          `--kubeconfig=${kubeconfigPath()}`,
          `--lease-namespace=${systemNamespace}`,
          `--metrics-port=${port}`,
          `--build-registry=${localBuildRegistry}`,
          // Imports run octopus-data for real, as host processes (hack/cluster/pod-runner.ts), from the plane's S3 server by default.
          `--importer-image=${hostImage}`,
          // Absent on a stopped plane (stopping needs no endpoint) or another cluster (E2E_KUBECONFIG).
          ...(existsSync(s3AccessFile()) ? [`--s3-endpoint=${readS3Access().endpoint}`] : []),
        ];
  return {
    name,
    command: process.execPath,
    args: ['--import', import.meta.resolve('tsx'), script, ...args],
    identifies: (argv) => argv.includes(script),
    healthUrl: `${name === 'octopus-webhooks' ? 'https' : 'http'}://127.0.0.1:${port}/readyz`,
  };
}

const octopusProcesses = () => [octopusProcess('octopus-webhooks'), octopusProcess('octopus-controller')];

/**
 * Stops the local Octopus processes and removes the webhook configurations pointing at them
 * (failurePolicy Fail would otherwise refuse every Octopus object). Safe when none run.
 */
export async function stopOctopus(kc: KubeConfig | undefined, log: Log): Promise<void> {
  for (const p of [...octopusProcesses()].reverse()) await stopProcess(p, log);
  if (!kc) return;
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  await api.deleteValidatingWebhookConfiguration({ name: webhookConfigName }).catch(() => undefined);
  await api.deleteMutatingWebhookConfiguration({ name: webhookConfigName }).catch(() => undefined);
}

async function ensureNamespace(kc: KubeConfig, name: string): Promise<void> {
  await kc
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name } } })
    .catch((err: { code?: number }) => {
      if (err.code !== 409) throw err;
    });
}

async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await sleep(500);
  }
}

/**
 * Server-side applies every example in order: admin objects, then assets, then workloads. An asset
 * reading the plane's S3 server gets its Secret and, when its prefix is empty, a small sample first.
 */
export async function applyExamples(kc: KubeConfig, log: Log): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  const core = kc.makeApiClient(CoreV1Api);
  for (const file of validExamples()) {
    for (const doc of file.documents) {
      // Namespaced examples land in the Workspace's namespace, which its controller creates.
      if (doc.metadata.namespace) {
        await waitFor(`namespace ${doc.metadata.namespace}`, 60_000, async () => {
          await core.readNamespacedServiceAccount({ name: 'default', namespace: doc.metadata.namespace! });
          return true;
        });
      }
      await prepareExampleData(kc, doc);
      await api.patch(doc as KubernetesObject, undefined, undefined, 'octopus-examples', true, PatchStrategy.ServerSideApply);
    }
    log(`applied ${file.file}`);
  }
}

/**
 * Deletes what applyExamples applied, workloads first; cluster-wide objects (pools, policies) included,
 * and the Models the example Jobs registered: the example Workspace retains its namespace, and a Model
 * left there would keep the output claim a new run of the same Job must create as its own.
 */
export async function deleteExamples(kc: KubeConfig): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  for (const file of validExamples().reverse()) {
    for (const doc of [...file.documents].reverse()) {
      await api.delete(doc as KubernetesObject).catch(() => undefined);
      const output = doc.kind === 'Job' ? (doc as unknown as Job).spec.output?.model?.name : undefined;
      if (output) await api.delete({ apiVersion: `${group}/${version}`, kind: 'Model', metadata: { name: output, namespace: doc.metadata.namespace } }).catch(() => undefined);
    }
  }
}

function printOctopusObjects(): void {
  try {
    const out = execFileSync('kubectl', ['get', 'octopus', '-A'], { env: { ...process.env, KUBECONFIG: kubeconfigPath() }, encoding: 'utf8' });
    console.log(`\n$ kubectl get octopus -A\n${out}`);
  } catch {
    console.log('\n(kubectl not found: install it to run `kubectl get octopus -A`)');
  }
}

/** The ClusterRoles Workspace members are bound to, as the chart ships them. */
export async function installUserRoles(kc: KubeConfig): Promise<void> {
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  for (const role of userClusterRoles()) {
    await rbac.patchClusterRole({ name: role.metadata!.name!, body: role, fieldManager: 'octopus-local', force: true }, setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply));
  }
}

/** Removes what installUserRoles created, so a Helm release can own those roles later. */
export async function deleteUserRoles(kc: KubeConfig): Promise<void> {
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  for (const role of userClusterRoles()) await rbac.deleteClusterRole({ name: role.metadata!.name! }).catch(() => undefined);
}

/** CRDs and user roles installed, then the webhook server and the controller started as local processes. */
export async function startOctopus(kc: KubeConfig, log: Log): Promise<void> {
  await stopOctopus(kc, () => {});
  await installCrds(kc);
  await installUserRoles(kc);
  await ensureNamespace(kc, systemNamespace);
  // The chart creates it in a cluster; image builds run there, never in a workspace. Applied, so its Pod Security labels are always current.
  const builds = parseOptions([], {}).buildNamespace;
  await kc.makeApiClient(CoreV1Api).patchNamespace({ name: builds, body: buildsNamespace(builds), fieldManager: 'octopus-local', force: true }, setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply));
  for (const p of octopusProcesses()) {
    startProcess(p);
    await waitHealthy(p, 120_000);
    log(`${p.name} ready (log: ${logFile(p.name)})`);
  }
}

export async function up(log: Log = console.log): Promise<void> {
  const started = Date.now();
  await planeUp({ nodes: defaultNodeCounts, log });
  const kc = adminKubeConfig();
  await startOctopus(kc, log);
  await applyExamples(kc, log);
  const custom = kc.makeApiClient(CustomObjectsApi);
  log(`waiting for Job ${exampleJob.namespace}/${exampleJob.name} to succeed (simulated pods run 5 s)`);
  const job = await waitFor('the example Job to succeed', 300_000, async () => {
    const j = (await custom.getNamespacedCustomObject({ group, version, plural: 'jobs', ...exampleJob })) as Job;
    if (j.status?.phase === 'Failed') throw new Error(`the example Job failed: ${JSON.stringify(j.status.conditions)}`);
    return j.status?.phase === 'Succeeded' ? j : undefined;
  });
  const output = job.status?.output;
  if (output) {
    const model = (await custom.getNamespacedCustomObject({ group, version, plural: 'models', namespace: exampleJob.namespace, name: output.model })) as Model;
    const v = model.status?.versions?.find((x) => x.name === output.version);
    log(`Model ${output.model} version ${output.version}: ${v?.phase ?? 'not registered'}, lineage job ${v?.lineage?.job.name ?? '-'}`);
  }
  printOctopusObjects();
  console.log(`\nOctopus is up in ${((Date.now() - started) / 1000).toFixed(0)}s. Use it with:\n  export KUBECONFIG=${kubeconfigPath()}\n  kubectl get ojob -A\nStop everything with: npm run down`);
}

export async function down(log: Log = console.log): Promise<void> {
  await stopOctopus(undefined, log);
  await planeDown(log);
}

async function main(command: string | undefined): Promise<void> {
  switch (command) {
    case 'up':
      return up();
    case 'down':
      return down();
    default:
      throw new Error('usage: tsx hack/platform.ts up|down');
  }
}

if (process.argv[1]?.endsWith('platform.ts')) {
  main(process.argv[2]).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
