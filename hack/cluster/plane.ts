import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { CoreV1Api, KubeConfig, type V1Node } from '@kubernetes/client-node';
import { kubeconfigPath, ports, repoRoot, stateDir } from './paths.js';
import { ensureTools, resolveTool } from './tools.js';
import { healthy, ownedPid, startProcess, stopProcess, waitHealthy, type Log, type ManagedProcess } from './processes.js';
import { kwokNodeAnnotation, simulatedNodes, type NodeCounts } from './nodes.js';
import type { ToolName } from './versions.js';
import { readS3Access, s3AccessFile, s3DataDir, writeS3Access, type S3Access } from './s3.js';


type ComponentName = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kwok' | 'provisioner' | 's3' | 'pod-runner';

/** Start order; `down` stops in reverse. */
const componentOrder: readonly ComponentName[] = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok', 'provisioner', 's3', 'pod-runner'];

/** The provisioner and the pod runner are ours, in TypeScript: run by this Node.js through tsx. */
const provisionerScript = join(repoRoot, 'hack', 'cluster', 'provisioner.ts');
const podRunnerScript = join(repoRoot, 'hack', 'cluster', 'pod-runner.ts');
const scripts: Partial<Record<ComponentName, string>> = { provisioner: provisionerScript, 'pod-runner': podRunnerScript };

function component(name: ComponentName): ManagedProcess {
  const p = ports();
  const health: Record<ComponentName, string> = {
    etcd: `http://127.0.0.1:${p.etcdClient}/health`,
    'kube-apiserver': `https://127.0.0.1:${p.apiserver}/readyz`,
    'kube-controller-manager': `https://127.0.0.1:${p.controllerManager}/healthz`,
    'kube-scheduler': `https://127.0.0.1:${p.scheduler}/healthz`,
    kwok: `http://127.0.0.1:${p.kwok}/healthz`,
    provisioner: `http://127.0.0.1:${p.provisioner}/healthz`,
    s3: `http://127.0.0.1:${p.s3}/health`,
    'pod-runner': `http://127.0.0.1:${p.podRunner}/healthz`,
  };
  const script = scripts[name];
  const tool: Partial<Record<ComponentName, ToolName>> = { s3: 'versitygw' };
  return {
    name,
    command: script ? process.execPath : resolveTool(tool[name] ?? (name as ToolName)),
    args: args(name),
    ...(name === 's3' && existsSync(s3AccessFile()) ? { env: s3ServerEnv(readS3Access()) } : {}),
    identifies: (argv) => (script ? argv.includes(script) : (argv[0]?.endsWith(`/${tool[name] ?? name}`) ?? false)),
    healthUrl: health[name],
    ...(name === 'etcd' ? { healthyBody: (body: string) => /"health":\s*"true"/.test(body) } : {}),
  };
}

/** Static identities of the plane's own clients; tokens are random per plane. */
const identities = {
  admin: { user: 'octopus-admin', groups: ['system:masters'] },
  'kube-controller-manager': { user: 'system:kube-controller-manager', groups: [] },
  'kube-scheduler': { user: 'system:kube-scheduler', groups: [] },
  kwok: { user: 'kwok-controller', groups: ['system:masters'] },
} as const;
type Identity = keyof typeof identities;

interface Paths {
  state: string;
  logs: string;
  pids: string;
  pki: string;
  etcdData: string;
  apiserverCerts: string;
}

function paths(): Paths {
  const state = stateDir();
  return {
    state,
    logs: join(state, 'logs'),
    pids: join(state, 'pids'),
    pki: join(state, 'pki'),
    etcdData: join(state, 'etcd'),
    apiserverCerts: join(state, 'apiserver-certs'),
  };
}

function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Fails early and clearly when another plane (or anything else) holds our ports. */
async function assertPortsFree(): Promise<void> {
  const taken: string[] = [];
  for (const [name, port] of Object.entries(ports())) {
    if (await portInUse(port)) taken.push(`${name} ${port}`);
  }
  if (taken.length > 0) {
    throw new Error(
      `ports in use on 127.0.0.1: ${taken.join(', ')}. Another local plane from a different checkout? ` +
        'Stop it, or choose other ports with OCTOPUS_PORT_BASE.',
    );
  }
}

// ---------------------------------------------------------------- credentials

interface Credentials {
  tokens: Record<Identity, string>;
}

function writeCredentials(): Credentials {
  const { pki } = paths();
  mkdirSync(pki, { recursive: true, mode: 0o700 });
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  writeFileSync(join(pki, 'sa.pub'), publicKey);
  writeFileSync(join(pki, 'sa.key'), privateKey, { mode: 0o600 });
  const tokens = Object.fromEntries(
    (Object.keys(identities) as Identity[]).map((id) => [id, randomBytes(24).toString('hex')]),
  ) as Record<Identity, string>;
  // token,user,uid,"group1,group2"
  const csv = (Object.keys(identities) as Identity[])
    .map((id) => {
      const { user, groups } = identities[id];
      return `${tokens[id]},${user},${user}${groups.length ? `,"${groups.join(',')}"` : ''}`;
    })
    .join('\n');
  writeFileSync(join(pki, 'tokens.csv'), csv + '\n', { mode: 0o600 });
  return { tokens };
}

/** The apiserver writes its self-signed serving certificate (and the CA that signed it) here. */
function apiserverCaFile(): string {
  return join(paths().apiserverCerts, 'apiserver.crt');
}

function kubeconfigFor(id: Identity, token: string): string {
  const server = `https://127.0.0.1:${ports().apiserver}`;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'octopus-local', cluster: { server, 'certificate-authority-data': readFileSync(apiserverCaFile()).toString('base64') } }],
    users: [{ name: identities[id].user, user: { token } }],
    contexts: [{ name: 'octopus-local', context: { cluster: 'octopus-local', user: identities[id].user } }],
    'current-context': 'octopus-local',
  });
}

function componentKubeconfig(id: Identity): string {
  return join(paths().pki, `${id}.kubeconfig`);
}

function writeKubeconfigs(tokens: Record<Identity, string>): void {
  for (const id of Object.keys(identities) as Identity[]) {
    const file = id === 'admin' ? kubeconfigPath() : componentKubeconfig(id);
    writeFileSync(file, kubeconfigFor(id, tokens[id]), { mode: 0o600 });
  }
}

/** versitygw reads its root keys from the environment, which other local users cannot read. */
function s3ServerEnv(access: S3Access): Record<string, string> {
  return { ROOT_ACCESS_KEY_ID: access.accessKeyID, ROOT_SECRET_ACCESS_KEY: access.secretAccessKey, VGW_REGION: access.region };
}

// ---------------------------------------------------------------- component arguments

function args(name: ComponentName): string[] {
  const p = ports();
  const dir = paths();
  switch (name) {
    case 'etcd':
      return [
        '--name=octopus-local',
        `--data-dir=${dir.etcdData}`,
        `--listen-client-urls=http://127.0.0.1:${p.etcdClient}`,
        `--advertise-client-urls=http://127.0.0.1:${p.etcdClient}`,
        `--listen-peer-urls=http://127.0.0.1:${p.etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${p.etcdPeer}`,
        `--initial-cluster=octopus-local=http://127.0.0.1:${p.etcdPeer}`,
        // A throwaway test store: favour speed over durability.
        '--unsafe-no-fsync',
        '--quota-backend-bytes=8589934592',
        '--log-level=warn',
      ];
    case 'kube-apiserver':
      return [
        `--etcd-servers=http://127.0.0.1:${p.etcdClient}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${p.apiserver}`,
        `--cert-dir=${dir.apiserverCerts}`,
        `--token-auth-file=${join(dir.pki, 'tokens.csv')}`,
        '--authorization-mode=Node,RBAC',
        `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
        `--service-account-key-file=${join(dir.pki, 'sa.pub')}`,
        `--service-account-signing-key-file=${join(dir.pki, 'sa.key')}`,
        '--api-audiences=https://kubernetes.default.svc.cluster.local',
        '--service-cluster-ip-range=10.96.0.0/16',
        '--allow-privileged=true',
        '--profiling=false',
        // Room for benchmarks that create thousands of objects quickly.
        '--max-requests-inflight=1600',
        '--max-mutating-requests-inflight=800',
        '--v=1',
      ];
    case 'kube-controller-manager':
      return [
        `--kubeconfig=${componentKubeconfig('kube-controller-manager')}`,
        `--authentication-kubeconfig=${componentKubeconfig('kube-controller-manager')}`,
        `--authorization-kubeconfig=${componentKubeconfig('kube-controller-manager')}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${p.controllerManager}`,
        '--leader-elect=false',
        `--service-account-private-key-file=${join(dir.pki, 'sa.key')}`,
        `--root-ca-file=${apiserverCaFile()}`,
        '--use-service-account-credentials=true',
        '--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-route',
        '--kube-api-qps=200',
        '--kube-api-burst=400',
        '--v=1',
      ];
    case 'kube-scheduler':
      return [
        `--kubeconfig=${componentKubeconfig('kube-scheduler')}`,
        `--authentication-kubeconfig=${componentKubeconfig('kube-scheduler')}`,
        `--authorization-kubeconfig=${componentKubeconfig('kube-scheduler')}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${p.scheduler}`,
        '--leader-elect=false',
        '--kube-api-qps=200',
        '--kube-api-burst=400',
        '--v=1',
      ];
    case 'kwok':
      return [
        `--kubeconfig=${componentKubeconfig('kwok')}`,
        `--config=${join(repoRoot, 'hack', 'cluster', 'kwok-stages.yaml')}`,
        `--config=${join(repoRoot, 'hack', 'cluster', 'kwok-config.yaml')}`,
        `--manage-nodes-with-annotation-selector=${kwokNodeAnnotation.key}=${kwokNodeAnnotation.value}`,
        `--server-address=127.0.0.1:${p.kwok}`,
        // The default /24 runs out of pod IPs in the admission benchmark.
        '--cidr=10.128.0.1/10',
        '--node-lease-duration-seconds=40',
        '--node-ip=10.0.0.1',
      ];
    case 's3':
      return [`--port=127.0.0.1:${p.s3}`, '--health=/health', '--quiet', 'posix', s3DataDir()];
    case 'provisioner':
      // An absolute loader URL: the process runs in the state folder, which may be outside the repository.
      return ['--import', import.meta.resolve('tsx'), provisionerScript, '--kubeconfig', kubeconfigPath(), '--port', String(p.provisioner)];
    case 'pod-runner':
      return ['--import', import.meta.resolve('tsx'), podRunnerScript, '--kubeconfig', kubeconfigPath(), '--port', String(p.podRunner), '--state', join(dir.state, 'pod-runner')];
  }
}

// ---------------------------------------------------------------- cluster objects

export function adminKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath());
  return kc;
}

async function createNodes(nodes: V1Node[]): Promise<void> {
  const core = adminKubeConfig().makeApiClient(CoreV1Api);
  const queue = [...nodes];
  // A few creates in flight: fast enough for a thousand benchmark nodes, gentle on the apiserver.
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let node = queue.shift(); node; node = queue.shift()) {
        try {
          await core.createNode({ body: node });
        } catch (err) {
          if ((err as { code?: number }).code !== 409) throw new Error(`create node ${node.metadata?.name}`, { cause: err });
        }
      }
    }),
  );
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(250);
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
}

async function waitNodesReady(names: string[]): Promise<void> {
  const core = adminKubeConfig().makeApiClient(CoreV1Api);
  const wanted = new Set(names);
  await waitFor(`${names.length} simulated nodes to be Ready`, 60_000, async () => {
    const list = await core.listNode({ labelSelector: 'type=kwok' });
    const ready = list.items.filter(
      (n) => wanted.has(n.metadata?.name ?? '') && n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    );
    return ready.length === wanted.size;
  });
}

/** Pods are refused in a namespace until its "default" ServiceAccount exists. */
async function waitDefaultServiceAccount(): Promise<void> {
  const core = adminKubeConfig().makeApiClient(CoreV1Api);
  await waitFor('the default ServiceAccount (controller manager working)', 60_000, async () => {
    await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
    return true;
  });
}

// ---------------------------------------------------------------- commands

export interface ComponentStatus {
  name: ComponentName;
  pid?: number;
  healthy: boolean;
}

export async function status(): Promise<ComponentStatus[]> {
  return Promise.all(
    componentOrder.map(async (name) => {
      const pid = ownedPid(component(name));
      const s: ComponentStatus = { name, healthy: pid !== undefined && (await healthy(component(name))) };
      if (pid !== undefined) s.pid = pid;
      return s;
    }),
  );
}

export async function isHealthy(): Promise<boolean> {
  return existsSync(kubeconfigPath()) && (await status()).every((s) => s.healthy);
}

export async function down(log: Log = console.log): Promise<void> {
  for (const name of [...componentOrder].reverse()) await stopProcess(component(name), log);
  // Kill strays from a plane whose pid files were lost is not our business: we only stop what we started.
  const { state } = paths();
  if (existsSync(state)) {
    for (const entry of readdirSync(state)) rmSync(join(state, entry), { recursive: true, force: true });
  }
}

/** Components beside Kubernetes itself: started alone when missing from a running plane. */
const addOns: readonly ComponentName[] = ['s3', 'pod-runner'];

/** The digest of kwok's configuration files, recorded when kwok starts. */
function kwokStagesDigest(): string {
  const hash = createHash('sha256');
  for (const file of ['kwok-stages.yaml', 'kwok-config.yaml']) hash.update(readFileSync(join(repoRoot, 'hack', 'cluster', file)));
  return hash.digest('hex');
}

function kwokStagesFile(): string {
  return join(paths().state, 'kwok-stages.sha256');
}

function kwokStagesCurrent(): boolean {
  return existsSync(kwokStagesFile()) && readFileSync(kwokStagesFile(), 'utf8').trim() === kwokStagesDigest();
}

async function startAddOn(name: ComponentName, log: Log): Promise<void> {
  await stopProcess(component(name), () => {});
  if (name === 's3' && !existsSync(s3AccessFile())) writeS3Access();
  if (name === 'kwok') writeFileSync(kwokStagesFile(), kwokStagesDigest() + '\n');
  const pid = startProcess(component(name));
  await waitHealthy(component(name), 30_000);
  log(`${name} healthy (pid ${pid})`);
}

export interface UpOptions {
  nodes: NodeCounts;
  log?: Log;
}

export interface UpResult {
  kubeconfig: string;
  reused: boolean;
  seconds: number;
}

export async function up(opts: UpOptions): Promise<UpResult> {
  const log = opts.log ?? console.log;
  const started = Date.now();
  await ensureTools(log);
  const existing = await status();
  const kubernetesHealthy = existsSync(kubeconfigPath()) && existing.filter((s) => !addOns.includes(s.name)).every((s) => s.healthy);
  if (kubernetesHealthy) {
    // A plane started before an add-on existed (or whose add-on died) gets it started, not a restart.
    for (const s of existing.filter((c) => addOns.includes(c.name) && !c.healthy)) await startAddOn(s.name, log);
    if (!kwokStagesCurrent()) {
      // Stages kwok started with are not the checkout's (e.g. the pod runner's image exclusion is new): kwok alone restarts.
      await startAddOn('kwok', log);
      log('kwok restarted: its pod stages changed');
    }
    log('local plane already running and healthy; reusing it');
    await createNodes(simulatedNodes(opts.nodes));
    return { kubeconfig: kubeconfigPath(), reused: true, seconds: (Date.now() - started) / 1000 };
  }
  if (existing.some((s) => s.pid !== undefined) || existsSync(kubeconfigPath())) {
    log('found a stale plane (' + existing.map((s) => `${s.name}:${s.healthy ? 'ok' : 'down'}`).join(' ') + '); cleaning it first');
  }
  await down(() => {});
  await assertPortsFree();

  const dir = paths();
  for (const d of [dir.state, dir.logs, dir.pids, dir.etcdData, dir.apiserverCerts]) mkdirSync(d, { recursive: true });
  const { tokens } = writeCredentials();
  writeS3Access();

  const timeouts: Record<ComponentName, number> = {
    etcd: 30_000,
    'kube-apiserver': 90_000,
    'kube-controller-manager': 60_000,
    'kube-scheduler': 60_000,
    kwok: 30_000,
    provisioner: 30_000,
    s3: 30_000,
    'pod-runner': 30_000,
  };
  try {
    for (const name of componentOrder) {
      const t0 = Date.now();
      if (name === 'kwok') writeFileSync(kwokStagesFile(), kwokStagesDigest() + '\n');
      const pid = startProcess(component(name));
      await waitHealthy(component(name), timeouts[name]);
      log(`${name} healthy (pid ${pid}, ${((Date.now() - t0) / 1000).toFixed(1)}s)`);
      if (name === 'kube-apiserver') writeKubeconfigs(tokens);
    }
    const nodes = simulatedNodes(opts.nodes);
    await createNodes(nodes);
    await waitNodesReady(nodes.map((n) => n.metadata!.name!));
    await waitDefaultServiceAccount();
  } catch (err) {
    log(String(err instanceof Error ? err.message : err));
    log('start-up failed; stopping what was started (logs kept in ' + dir.logs + ')');
    for (const name of [...componentOrder].reverse()) await stopProcess(component(name), () => {});
    throw err;
  }
  const seconds = (Date.now() - started) / 1000;
  log(`local plane up in ${seconds.toFixed(1)}s`);
  return { kubeconfig: kubeconfigPath(), reused: false, seconds };
}

