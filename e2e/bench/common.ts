/**
 * What the admission benchmarks share, so a bare client, Octopus and Kueue are driven and
 * measured the same way: the options, the workload (nodes, workspace namespaces, 1/2/4/8-pod
 * gangs of one-GPU pods), creating and removing it, and reading a process's CPU and memory
 * from /proc.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CoreV1Api, V1PodSpec } from '@kubernetes/client-node';
import { resourceTagKey, simulatedNode } from '../../hack/cluster/nodes.js';
import { repoRoot } from '../../hack/cluster/paths.js';
import { ownedPid } from '../../hack/cluster/processes.js';
import { waitNodesUsable } from '../harness/fixtures.js';

// ---------------------------------------------------------------- options

export interface Workload {
  nodes: number;
  jobs: number;
  workspaces: number;
  /** How long each pod runs before it succeeds (a Go duration, for the simulated kubelet). */
  run: string;
  /** Seconds a finished job stays before it is deleted with its pods. */
  ttl: number;
}

/** The client rate limit every admitting controller gets, the same for each. */
export interface ClientLimits {
  qps: number;
  burst: number;
}

/**
 * The options every admission benchmark takes, plus string options (name → default) and
 * boolean flags of one of them in `extra`.
 */
export function benchOptions(extra: { strings?: Record<string, string>; booleans?: string[] } = {}) {
  const strings: Record<string, string> = { nodes: '200', jobs: '2000', workspaces: '50', run: '10s', ttl: '0', qps: '300', burst: '500', ...extra.strings };
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, value] of Object.entries(strings)) options[name] = { type: 'string', default: value };
  for (const name of extra.booleans ?? []) options[name] = { type: 'boolean', default: false };
  const { values } = parseArgs({ options });
  const text = (name: string) => String(values[name]);
  const workload: Workload = { nodes: Number(text('nodes')), jobs: Number(text('jobs')), workspaces: Number(text('workspaces')), run: text('run'), ttl: Number(text('ttl')) };
  parseDuration(workload.run);
  return {
    workload,
    limits: { qps: Number(text('qps')), burst: Number(text('burst')) } satisfies ClientLimits,
    extra: Object.fromEntries(Object.keys(extra.strings ?? {}).map((name) => [name, text(name)])),
    flags: Object.fromEntries((extra.booleans ?? []).map((name) => [name, values[name] === true])),
  };
}

/** Milliseconds of a Go duration such as 10s, 1m30s or 500ms (the simulated kubelet's format). */
export function parseDuration(text: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) throw new Error(`--run must be a duration such as 10s or 1m30s, got "${text}"`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]!]!, 0);
}

// ---------------------------------------------------------------- the workload

/** Pods per job, in turn; one GPU each. */
export const gangSizes = [1, 2, 4, 8];

/** What every benchmark pod asks for, whoever creates it. */
export const podRequests = { 'nvidia.com/gpu': '1', cpu: '4', memory: '32Gi' };

/** Every system's objects carry these names and labels, so each run starts from and returns to the same plane. */
export const bench = {
  label: { 'octopus.openi.pcl.cn/bench': 'true' },
  labelSelector: 'octopus.openi.pcl.cn/bench=true',
  nodePrefix: 'bench-gpu',
  /** The resource tag of the benchmark's nodes: Octopus's pool, Kueue's flavor and the bare pods all select it. */
  resourceTag: 'bench',
  /** The job name of submission i. */
  jobName: (i: number) => `bench-${i}`,
};

export function namespaces(w: Workload): string[] {
  return Array.from({ length: w.workspaces }, (_, i) => `bench-ws-${i}`);
}

/** Submission i goes to workspace i mod W, as a gang of gangSizes[i mod 4] pods. */
export function submission(w: Workload, i: number): { namespace: string; name: string; pods: number } {
  return { namespace: `bench-ws-${i % w.workspaces}`, name: bench.jobName(i), pods: gangSizes[i % gangSizes.length]! };
}

export function totalPods(w: Workload): number {
  return Array.from({ length: w.jobs }, (_, i) => submission(w, i).pods).reduce((a, b) => a + b, 0);
}

/** The pool's GPUs shared evenly, so each workspace's queue drains through its own limit. */
export function gpusPerWorkspace(w: Workload): number {
  return Math.max(8, Math.floor((w.nodes * 8) / w.workspaces));
}

/** The most times any workspace's quota must fill and drain to run all its jobs' GPUs. */
export function quotaWaves(w: Workload): number {
  const gpus = new Map<string, number>();
  for (let i = 0; i < w.jobs; i++) {
    const s = submission(w, i);
    gpus.set(s.namespace, (gpus.get(s.namespace) ?? 0) + s.pods);
  }
  return Math.max(0, ...[...gpus.values()].map((g) => Math.ceil(g / gpusPerWorkspace(w))));
}

/** The sim annotations every benchmark pod carries: it runs for `run`, then succeeds. */
export function simAnnotations(w: Workload): Record<string, string> {
  return { 'sim.octopus.openi.pcl.cn/outcome': 'Succeed', 'sim.octopus.openi.pcl.cn/duration': w.run };
}

/** The pod a bare client or a batch/v1 Job runs: one container asking for podRequests. */
export function benchPodSpec(): V1PodSpec {
  return {
    restartPolicy: 'Never',
    // Kubernetes wants an extended resource's limit set (equal to its request).
    containers: [{ name: 'w', image: 'docker.io/library/python:3.12', resources: { requests: { ...podRequests }, limits: { 'nvidia.com/gpu': podRequests['nvidia.com/gpu'] } } }],
  };
}

export function nodeSelector(): Record<string, string> {
  return { [resourceTagKey]: bench.resourceTag };
}

// ---------------------------------------------------------------- creating and removing it

export async function ignoreConflict(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
}

export async function ignoreNotFound(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if ((err as { code?: number }).code !== 404) throw err;
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

/**
 * The benchmark's nodes, Ready and untainted, and its workspace namespaces with their default
 * ServiceAccount. Early pods would otherwise wait in the scheduler for the not-ready taint to
 * lift, and pods are refused until a namespace's ServiceAccount exists.
 */
export async function createNodesAndNamespaces(core: CoreV1Api, w: Workload): Promise<void> {
  const nodeList = Array.from({ length: w.nodes }, (_, i) => simulatedNode('gpu', i, { resourceTag: bench.resourceTag, namePrefix: bench.nodePrefix }));
  await inParallel(nodeList, 16, (n) => ignoreConflict(core.createNode({ body: n })));
  await waitNodesUsable(core, `${resourceTagKey}=${bench.resourceTag}`, w.nodes, 300_000);
  await inParallel(namespaces(w), 8, (name) => ignoreConflict(core.createNamespace({ body: { metadata: { name, labels: bench.label } } })));
  for (const namespace of namespaces(w)) {
    while (!(await core.readNamespacedServiceAccount({ name: 'default', namespace }).catch(() => undefined))) await sleep(200);
  }
}

/** Removes the namespaces and nodes an interrupted earlier run may have left, so a run starts clean. */
export async function clearNamespacesAndNodes(core: CoreV1Api): Promise<void> {
  await deleteNamespaces(core);
  await deleteNodes(core);
}

/**
 * An abort signal for Ctrl-C and SIGTERM: the run stops measuring, removes what it created and
 * stops its processes. A second signal exits at once (process.ts kills what still runs).
 */
export function interruptSignal(): AbortSignal {
  const interrupted = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: cleaning up and stopping what this run started (${signal} again to kill it at once)`);
      interrupted.abort(new Error(`interrupted by ${signal}`));
      process.once(signal, () => process.exit(130));
    });
  }
  return interrupted.signal;
}

/**
 * Polls `remaining` until it is 0; throws after 10 minutes, naming `what` and how many remain,
 * or when `check` throws (e.g. the process whose finalizers hold them has died).
 */
export async function waitGone(what: string, remaining: () => Promise<number>, check?: () => void): Promise<void> {
  const deadline = Date.now() + 600_000;
  for (let left = await remaining(); left > 0; left = await remaining()) {
    check?.();
    if (Date.now() > deadline) throw new Error(`${left} ${what} still there after 10 minutes`);
    await sleep(1000);
  }
}

/**
 * Deletes every benchmark namespace and waits until they are gone, with everything in them. A
 * system whose finalizers hold its objects (Kueue's Workloads) must still run meanwhile.
 */
export async function deleteNamespaces(core: CoreV1Api, check?: () => void): Promise<void> {
  const listed = async () => (await core.listNamespace({ labelSelector: bench.labelSelector })).items;
  await inParallel(await listed(), 8, (ns) => ignoreNotFound(core.deleteNamespace({ name: ns.metadata!.name! })));
  await waitGone('benchmark namespaces', async () => (await listed()).length, check);
}

/** Deletes the benchmark's nodes and waits until they are gone (their pods went with the namespaces). */
export async function deleteNodes(core: CoreV1Api): Promise<void> {
  const labelSelector = `${resourceTagKey}=${bench.resourceTag}`;
  const listed = async () => (await core.listNode({ labelSelector })).items;
  await inParallel(await listed(), 16, (n) => ignoreNotFound(core.deleteNode({ name: n.metadata!.name! })));
  await waitGone('benchmark nodes', async () => (await listed()).length);
}

// ---------------------------------------------------------------- processes, from /proc

export interface ProcStats {
  rssMiB: number;
  /** VmHWM: the most the process ever held. */
  peakMiB: number;
  /** utime + stime. */
  cpuSeconds: number;
}

export function procStats(pid: number): ProcStats {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(stat[11]) + Number(stat[12]);
  return { rssMiB: kb('VmRSS') / 1024, peakMiB: kb('VmHWM') / 1024, cpuSeconds: ticks / 100 };
}

const planeComponents = ['kube-apiserver', 'etcd', 'kube-scheduler', 'kube-controller-manager', 'kwok'] as const;

/** CPU seconds each component of the local plane has used so far (from its pid file); absent when it is not ours. */
export function planeCpuSeconds(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of planeComponents) {
    const pid = ownedPid({ name, identifies: (argv) => argv[0]?.endsWith(`/${name}`) ?? false });
    if (pid !== undefined) out[name] = procStats(pid).cpuSeconds;
  }
  return out;
}

export function planeCpuSince(before: Record<string, number>): Record<string, number> {
  const now = planeCpuSeconds();
  return Object.fromEntries(Object.entries(now).map(([name, cpu]) => [name, round(cpu - (before[name] ?? 0), 1)]));
}

// ---------------------------------------------------------------- numbers and files

export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** The nearest-rank percentile (0 < p ≤ 1); undefined for no values. */
export function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
}

export function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const resultsDir = join(repoRoot, 'e2e', 'bench', 'results');

/** The commit measured, and the controller's source files that differ from it (it runs from the working tree). */
export function sourceState(): { commit: string; uncommitted: string[] } {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).stdout.trim();
  return { commit: git('rev-parse', '--short', 'HEAD'), uncommitted: git('status', '--porcelain', '--', 'controllers', 'apis').split('\n').filter(Boolean) };
}

/** `<prefix>-<nodes>n-<jobs>j-<date>`, the stem of a run's result files. */
export function resultStem(prefix: string, w: Workload, date: string): string {
  return join(resultsDir, `${prefix}-${w.nodes}n-${w.jobs}j-${date.replace(/[:.]/g, '-')}`);
}

/** Writes `data` indented, or on one line when `compact` (per-job series: indented, each number takes a line). */
export function writeJson(file: string, data: unknown, compact = false): void {
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(file, JSON.stringify(data, null, compact ? undefined : 2) + '\n');
  console.log(`wrote ${file}`);
}
