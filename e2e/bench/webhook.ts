/**
 * Benchmark (not a test): latency and throughput of `/validate/job` at fixed request rates.
 *
 *   npm run bench:webhook [-- --rates 250,500,1000,2000 --seconds 10 --warmup-seconds 3 --runs 5 --profile <dir>]
 *
 * The webhook server runs in a child process, pinned to one core with `taskset` when there is one to
 * spare (this process, the load generator, is pinned to another), with caches as a busy cluster has them:
 * 50 workspaces with Quotas and Datasets, the example DevicePolicy and ResourceSpecs. Each request is the
 * AdmissionReview the apiserver sends for `kubectl apply` of a 4-task PyTorch Job with datasets (one of
 * them Public in another namespace), a unique uid each. The validators are the served ones, which leave the
 * CRD schema to the apiserver (it applied the schema before calling the webhook). Requests are sent open-loop on a fixed schedule,
 * over keep-alive HTTPS connections; latency is from sending a request to its whole answer. Prints a
 * table and writes JSON to e2e/bench/results/. `--runs` repeats everything with a fresh server and reports each
 * run, its load average, and the median. `--profile` writes the server's V8 CPU profile to <dir>.
 *
 * The target (DESIGN.md): p99 ≤ 5 ms at 1,000 AdmissionReviews/s on one core.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { KubernetesObject } from '@kubernetes/client-node';
import { pino } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { kindByName, type Job } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { validatorFor } from '../../apis/octopus.openi.pcl.cn/v1alpha1/validation.js';
import { repoRoot } from '../../hack/cluster/paths.js';
import { generateTlsBundle, servingIdentity } from '../../webhooks/certs.js';
import { octopusAdmission } from '../../webhooks/kinds/index.js';
import { createWebhookServer } from '../../webhooks/server.js';
import { admissionReview, lookupsOf, makeDataset, makeQuota } from '../../webhooks/testing/octopus.js';
import { validExamples } from '../harness/examples.js';

const workspaces = 50;
const serverCore = 1;
const clientCore = 0;
/** Stands for each request's uid in the serialized review. */
const uidSlot = '<uid>';

// ---------------------------------------------------------------- the cluster as the caches hold it

/** The example DevicePolicy, ResourceSpecs, priority classes, Workspaces, Quota and assets, plus 50 workspaces' Quotas and Datasets. */
function cacheObjects(): KubernetesObject[] {
  const examples = validExamples()
    .flatMap((f) => f.documents)
    .filter((d) => ['DevicePolicy', 'ResourceSpec', 'WorkloadPriorityClass', 'Workspace', 'Quota', 'Dataset', 'Algorithm', 'Image', 'Model'].includes(d.kind));
  const perWorkspace = Array.from({ length: workspaces }, (_, i) => `team-${i}`).flatMap((ns) => [
    makeQuota('default', { hard: { 'nvidia.com/gpu': 64, cpu: 512, memory: '4Ti' }, budget: { resourceHours: { 'nvidia.com/gpu': 50_000 } } }, { used: { 'nvidia.com/gpu': 24, cpu: 200, memory: '1Ti' }, consumed: { 'nvidia.com/gpu': 1234 } }, ns),
    makeQuota('gpu-a100', { hard: {}, pools: [{ name: 'gpu-a100', hard: { 'nvidia.com/gpu': 32 } }] }, undefined, ns),
    ...['imagenet', 'coco', 'laion-400m', 'wikipedia'].map((name) => makeDataset(ns, name, name === 'coco' ? 'Public' : 'Private')),
  ]);
  return [
    ...examples,
    makeQuota('default', { hard: { 'nvidia.com/gpu': 16, cpu: 256, memory: '2Ti' }, budget: { resourceHours: { 'nvidia.com/gpu': 5000 } } }, { used: { 'nvidia.com/gpu': 4 }, consumed: { 'nvidia.com/gpu': 321 } }, 'team-a'),
    makeDataset('shared', 'coco', 'Public'),
    makeDataset('team-a', 'coco', 'Private'),
    ...perWorkspace,
  ];
}

/** The Job as `kubectl apply` sends it: defaults applied, last-applied annotation and managed fields. */
function benchJob(): Job {
  const task = (name: string, replicas: number, main = false) => ({
    name,
    replicas,
    resourceSpec: 'gpu-1x',
    command: ['torchrun', '--nproc-per-node=1', 'train.py', '--data=/dataset/imagenet', '--output=/model'],
    env: [
      { name: 'NCCL_DEBUG', value: 'INFO' },
      { name: 'WANDB_API_KEY', secretKeyRef: { name: 'wandb', key: 'api-key' } },
    ],
    completion: { minSucceeded: replicas, maxFailed: 0 },
    main,
    podMetadata: { labels: { experiment: 'resnet50' }, annotations: { 'sim.octopus.openi.pcl.cn/outcome': 'Succeed' } },
  });
  const spec = {
    image: { name: 'pytorch-2-4' },
    algorithm: { name: 'resnet', version: 'v2' },
    datasets: [{ name: 'imagenet', version: 'v1' }, { name: 'coco', namespace: 'shared' }, { name: 'laion-400m' }],
    pool: 'gpu-a100',
    priorityClassName: 'urgent',
    distribution: 'PyTorch' as const,
    tasks: [task('master', 1, true), task('worker', 3), task('eval', 1), task('tb', 1)],
    policy: { maxRetries: 3, activeDeadlineSeconds: 86400, podsReadyTimeoutSeconds: 300, ttlSecondsAfterFinished: 604800 },
    output: { model: { name: 'resnet50' } },
  };
  const applied = { apiVersion: 'octopus.openi.pcl.cn/v1alpha1', kind: 'Job', metadata: { name: 'resnet50-run1', namespace: 'team-a' }, spec };
  const job = validatorFor(kindByName('Job')!).withDefaults(applied) as Job;
  job.metadata = {
    ...job.metadata,
    uid: '0d9b3a4e-5f7c-4b1e-9a2d-8c6f1e3b7a90',
    generation: 1,
    creationTimestamp: new Date('2025-06-01T08:00:00Z'),
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify(applied) },
    managedFields: [{ manager: 'kubectl-client-side-apply', operation: 'Update', apiVersion: 'octopus.openi.pcl.cn/v1alpha1', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { '.': {}, 'f:tasks': {} } } }],
  };
  return job;
}

// ---------------------------------------------------------------- server (child process)

async function serve(): Promise<void> {
  const tls = await generateTlsBundle({ identity: servingIdentity({ service: 's', namespace: 'n', local: true }), now: new Date(), validityDays: 1 });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'bench_' });
  const server = createWebhookServer({ ...octopusAdmission(lookupsOf(cacheObjects())), tls, logger: pino({ level: 'silent' }), registry });
  const { port } = await server.listen(0, '127.0.0.1');
  process.stdout.write(JSON.stringify({ port, ca: tls.caBundle }) + '\n');
  process.once('SIGTERM', () => void server.close(0).then(() => process.exit(0)));
}

// ---------------------------------------------------------------- load generator (this process)

interface RateResult {
  rate: number;
  seconds: number;
  sent: number;
  completed: number;
  errors: number;
  throughput: number;
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number };
  /** How late the generator sent its latest request: large values mean the client, not the server, was the limit. */
  maxSendLagMs: number;
  /** Share of one core the server process used. */
  serverCpu: number;
  /** Server CPU time per answered request: what bounds throughput on one core. */
  serverCpuMsPerRequest: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function post(agent: Agent, port: number, body: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/validate/job', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 && (JSON.parse(Buffer.concat(chunks).toString()) as { response?: { allowed?: boolean } }).response?.allowed === true);
        } catch {
          resolve(false);
        }
      });
      res.on('error', () => resolve(false));
    });
    req.on('error', () => resolve(false));
    req.end(body);
  });
}

async function serverCpuSeconds(agent: Agent, port: number): Promise<number> {
  const text = await new Promise<string>((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics', agent }, (res) => {
      let t = '';
      res.on('data', (c: Buffer) => (t += c.toString()));
      res.on('end', () => resolve(t));
    })
      .on('error', reject)
      .end();
  });
  return Number(/^bench_process_cpu_seconds_total (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
}

/** Sends `rate` requests a second for `seconds`, each at its scheduled time, whatever answers are outstanding. */
async function runRate(agent: Agent, port: number, bodies: (i: number) => string, rate: number, seconds: number): Promise<RateResult> {
  const total = Math.round(rate * seconds);
  const latencies = new Float64Array(total);
  let sent = 0;
  let completed = 0;
  let errors = 0;
  let maxLag = 0;
  const cpuBefore = await serverCpuSeconds(agent, port);
  const start = performance.now();
  let lastDone = start;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - start) * rate) / 1000) + 1);
      while (sent < due) {
        const i = sent++;
        const sentAt = performance.now();
        maxLag = Math.max(maxLag, sentAt - (start + (i * 1000) / rate));
        void post(agent, port, bodies(i)).then((ok) => {
          lastDone = performance.now();
          latencies[i] = lastDone - sentAt;
          if (!ok) errors++;
          if (++completed === total) resolve();
        });
      }
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
  const elapsed = (lastDone - start) / 1000;
  const cpuAfter = await serverCpuSeconds(agent, port);
  const sorted = latencies.sort();
  const ms = (p: number) => Math.round(percentile(sorted, p) * 1000) / 1000;
  return {
    rate,
    seconds,
    sent,
    completed,
    errors,
    throughput: Math.round(completed / elapsed),
    latencyMs: { p50: ms(50), p90: ms(90), p99: ms(99), p999: ms(99.9), max: ms(100) },
    maxSendLagMs: Math.round(maxLag * 1000) / 1000,
    serverCpu: Math.round(((cpuAfter - cpuBefore) / elapsed) * 100) / 100,
    serverCpuMsPerRequest: Math.round(((cpuAfter - cpuBefore) / completed) * 1e6) / 1e3,
  };
}

function pin(core: number, pid: number): boolean {
  return spawnSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' }).status === 0;
}

async function startServer(pinned: boolean, profileDir: string | undefined): Promise<{ child: ChildProcess; port: number; ca: string }> {
  const self = fileURLToPath(import.meta.url);
  const profile = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  const node = [process.execPath, ...profile, '--import', 'tsx', self, '--serve'];
  const [command, ...args] = pinned ? ['taskset', '-c', String(serverCore), ...node] : node;
  const child = spawn(command!, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the webhook server exited with ${code} before it listened`)));
  });
  const { port, ca } = JSON.parse(first) as { port: number; ca: string };
  return { child, port, ca };
}

interface Run {
  /** The machine's 1-minute load average around the run: other work shares the cores and makes every number worse. */
  loadAverage1m: { before: number; after: number };
  results: RateResult[];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** One run: a fresh server, a warm-up, then each rate in turn. */
async function run(pinned: boolean, profileDir: string | undefined, rates: number[], seconds: number, warmup: number, bodies: (i: number) => string): Promise<Run> {
  const before = loadavg()[0]!;
  const { child, port, ca } = await startServer(pinned, profileDir);
  const agent = new Agent({ ca, keepAlive: true, maxSockets: 64 });
  try {
    if (!(await post(agent, port, bodies(0)))) throw new Error('the benchmark Job is not admitted: the review or the caches are wrong');
    if (warmup > 0) await runRate(agent, port, bodies, rates[0]!, warmup);
    const results: RateResult[] = [];
    for (const rate of rates) results.push(await runRate(agent, port, bodies, rate, seconds));
    return { loadAverage1m: { before, after: loadavg()[0]! }, results };
  } finally {
    agent.destroy();
    // Waiting lets the server write its profile.
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      serve: { type: 'boolean' },
      profile: { type: 'string' },
      rates: { type: 'string', default: '250,500,1000,2000' },
      seconds: { type: 'string', default: '10' },
      'warmup-seconds': { type: 'string', default: '3' },
      runs: { type: 'string', default: '1' },
    },
  });
  if (values.serve) return serve();
  const rates = values.rates.split(',').map(Number);
  const seconds = Number(values.seconds);
  const warmup = Number(values['warmup-seconds']);
  const runs = Number(values.runs);
  if (rates.some((r) => !(r > 0)) || !(seconds > 0) || !(warmup >= 0) || !Number.isInteger(runs) || runs < 1) {
    throw new Error('--rates must be positive numbers, --seconds positive, --warmup-seconds at least 0, --runs a whole number of at least 1');
  }

  const hasTaskset = spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
  // Counted before pinning, which narrows what this process may use.
  const cores = availableParallelism();
  const pinned = hasTaskset && cores >= 2 && pin(clientCore, process.pid);
  const job = benchJob();
  // Serialized once: building 5 KB of JSON per request would load the client, not the server.
  const template = JSON.stringify(admissionReview(job, undefined, uidSlot));
  const bodies = (i: number) => template.replace(uidSlot, `bench-${i}`);
  const size = Buffer.byteLength(bodies(0));
  console.log(`webhook benchmark: /validate/job, ${size} B AdmissionReview, server ${pinned ? `pinned to core ${serverCore}` : 'not pinned (no taskset or one core)'}, ${runs} run(s)`);
  const columns = ['run', 'load 1m', 'rate/s', 'achieved/s', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'errors', 'server CPU', 'CPU ms/req', 'max send lag ms'];
  const row = (cells: (string | number)[]) => cells.map((c, i) => String(c).padStart(Math.max(columns[i]!.length, 9) + 2)).join('');
  console.log('\n' + row(columns));
  const done: Run[] = [];
  for (let n = 1; n <= runs; n++) {
    const r = await run(pinned, values.profile, rates, seconds, warmup, bodies);
    done.push(r);
    const load = `${r.loadAverage1m.before.toFixed(2)}-${r.loadAverage1m.after.toFixed(2)}`;
    for (const x of r.results) console.log(row([n, load, x.rate, x.throughput, x.latencyMs.p50, x.latencyMs.p90, x.latencyMs.p99, x.latencyMs.p999, x.latencyMs.max, x.errors, x.serverCpu, x.serverCpuMsPerRequest, x.maxSendLagMs]));
  }
  const byRate = rates.map((rate) => {
    const each = done.map((r) => r.results.find((x) => x.rate === rate)!);
    return {
      rate,
      p99Ms: each.map((x) => x.latencyMs.p99),
      medianP99Ms: median(each.map((x) => x.latencyMs.p99)),
      serverCpuMsPerRequest: each.map((x) => x.serverCpuMsPerRequest),
      medianServerCpuMsPerRequest: median(each.map((x) => x.serverCpuMsPerRequest)),
      errors: each.reduce((sum, x) => sum + x.errors, 0),
    };
  });
  console.log('');
  for (const b of byRate) console.log(`${b.rate}/s: p99 ${b.p99Ms.join(', ')} ms, median ${b.medianP99Ms} ms; server CPU ${b.medianServerCpuMsPerRequest} ms per review (median)`);
  const at1000 = byRate.find((b) => b.rate === 1000);
  if (at1000) console.log(`\np99 at 1,000 requests/s, median of ${runs}: ${at1000.medianP99Ms} ms (target ≤ 5 ms): ${at1000.medianP99Ms <= 5 && at1000.errors === 0 ? 'met' : 'MISSED'}`);
  const dir = join(repoRoot, 'e2e', 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `webhook-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).stdout.trim();
  const environment = {
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores,
    serverPinnedToCore: pinned ? serverCore : null,
    clientPinnedToCore: pinned ? clientCore : null,
  };
  const report = { benchmark: 'webhook /validate/job', date: new Date().toISOString(), commit, environment, reviewBytes: size, caches: { workspaces, objects: cacheObjects().length }, summary: byRate, runs: done };
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  console.log(`wrote ${file}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
