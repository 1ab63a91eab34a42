/**
 * Sharing a cluster on the real plane (issue 12): preemption within a workspace, reclaim of quota
 * lent to a cohort, fair sharing between workspaces, and queue visibility. The controllers run in
 * this process and kwok plays the kubelet on simulated GPU nodes. Jobs, pods and Quotas are
 * recorded by watches from outside, so a state that came and went between two polls is judged too.
 */
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, CustomObjectsApi, EventsV1Api, PatchStrategy, setHeaderOptions, Watch, type KubeConfig, type KubernetesObject, type V1Pod } from '@kubernetes/client-node';
import { apiVersion, group, version, type Job, type Quota, type ResourcePool, type WorkloadPriorityClass, type Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { parseResources } from '../../apis/quantity.js';
import { installCrds } from '../../e2e/harness/crds.js';
import { createCluster, createPool, createSpec, deleteCluster, getNamespaced, job, sim, uniqueName, type TestPool } from '../../e2e/harness/fixtures.js';
import { deleteNamespace, eventually, testKubeConfig } from '../../e2e/harness/kube.js';
import { startOctopus, type RunningOctopus } from '../../e2e/harness/octopus.js';
import { labels } from '../job/pods.js';

const run = promisify(execFile);

let kc: KubeConfig;
let octopus: RunningOctopus;
/** One pod's worth: 4 GPUs, or 1 GPU. */
let gpu4: string;
let gpu1: string;
/** WorkloadPriorityClasses, all allowed in every workspace here: value 1000, the same but never preempting, and value 100. */
let high: string;
let highNeverPreempts: string;
let low: string;
const pools: TestPool[] = [];
const workspaces: string[] = [];
const watches: History<KubernetesObject>[] = [];

beforeAll(async () => {
  kc = testKubeConfig();
  await installCrds(kc);
  gpu4 = await createSpec(kc, { 'nvidia.com/gpu': 4, cpu: 8, memory: '32Gi' });
  gpu1 = await createSpec(kc, { 'nvidia.com/gpu': 1, cpu: 1, memory: '1Gi' });
  high = await priorityClass(1000);
  highNeverPreempts = await priorityClass(1000, 'Never');
  low = await priorityClass(100);
  octopus = await startOctopus(kc);
});

afterEach(() => {
  for (const w of watches.splice(0)) w.abort();
});

afterAll(async () => {
  await octopus?.stop();
  const custom = kc.makeApiClient(CustomObjectsApi);
  for (const name of workspaces) {
    // With the controller stopped, nobody would lift its finalizer.
    await custom.patchClusterCustomObject({ group, version, plural: 'workspaces', name, body: { metadata: { finalizers: null } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)).catch(() => undefined);
    await deleteCluster(kc, 'workspaces', name);
    await deleteNamespace(kc, name);
  }
  // Suites that follow run their own controllers over the whole cluster: hand them a quiet plane,
  // not hundreds of jobs and pods still being deleted with these namespaces.
  const core = kc.makeApiClient(CoreV1Api);
  for (const name of workspaces) {
    await eventually(`namespace ${name} deleted`, () => core.readNamespace({ name }).then(() => undefined, (err: { code?: number }) => (err.code === 404 ? true : undefined)), 150_000, 1_000);
  }
  for (const name of [high, highNeverPreempts, low]) if (name) await deleteCluster(kc, 'workloadpriorityclasses', name);
  for (const name of [gpu4, gpu1]) if (name) await deleteCluster(kc, 'resourcespecs', name);
  for (const pool of pools) await pool.cleanup();
});

async function priorityClass(value: number, preemptionPolicy: WorkloadPriorityClass['spec']['preemptionPolicy'] = 'PreemptLowerPriority'): Promise<string> {
  const name = uniqueName(`prio-${value}`);
  await createCluster<WorkloadPriorityClass>(kc, 'workloadpriorityclasses', { apiVersion, kind: 'WorkloadPriorityClass', metadata: { name }, spec: { value, preemptionPolicy } });
  return name;
}

/** A pool of its own nodes with `gpus` GPUs each, so nothing else competes for its room. */
async function gpuPool(nodes: number, gpus: number): Promise<TestPool> {
  const pool = await createPool(kc, { nodes, capacity: { 'nvidia.com/gpu': String(gpus) } });
  pools.push(pool);
  return pool;
}

/** A Workspace that may use `pool` and every class; its controller makes the namespace and the Quota "default" from `quota`. */
async function workspace(prefix: string, pool: TestPool, quota: NonNullable<Workspace['spec']['quota']>): Promise<string> {
  const name = uniqueName(prefix);
  workspaces.push(name);
  await createCluster<Workspace>(kc, 'workspaces', { apiVersion, kind: 'Workspace', metadata: { name }, spec: { pools: [pool.name], priorityClasses: [high, highNeverPreempts, low], quota } });
  // Pods are refused until the ServiceAccount exists; a Quota the controllers have not seen yet would leave the first jobs waiting with NoQuota.
  await eventually(`workspace ${name} ready for jobs`, async () => {
    await kc.makeApiClient(CoreV1Api).readNamespacedServiceAccount({ name: 'default', namespace: name });
    return (await getQuota(name)).status?.observedGeneration !== undefined ? true : undefined;
  });
  return name;
}

/** A job of `replicas` pods of `spec` whose simulated pods behave as `outcome` says. */
function gang(ns: string, name: string, pool: TestPool, opts: { spec: string; replicas?: number; priorityClass?: string; outcome: Record<string, string> }) {
  const b = job(ns, name)
    .pool(pool.name)
    .policy({ podsReadyTimeoutSeconds: 60 })
    .task({ name: 'w', replicas: opts.replicas ?? 1, resourceSpec: opts.spec, podMetadata: { annotations: opts.outcome } });
  return opts.priorityClass ? b.priorityClass(opts.priorityClass) : b;
}

const getJob = (ns: string, name: string) => getNamespaced<Job>(kc, 'jobs', ns, name);
const getQuota = (ns: string) => getNamespaced<Quota>(kc, 'quotas', ns, 'default');
const condition = (j: Job, type: string) => j.status?.conditions?.find((c) => c.type === type);

interface Seen<T> {
  type: string;
  object: T;
}

/**
 * Everything a watch on `path` delivers, in the apiserver's order: the objects there already, then
 * every change. The server may close a watch at any time; it is resumed from the last version seen,
 * so nothing is missed (or, when that version is too old, the record says it has a gap).
 */
class History<T extends KubernetesObject> {
  readonly seen: Seen<T>[] = [];
  private request?: AbortController;
  private resourceVersion?: string;
  private ended?: string;

  private constructor(private readonly path: string) {}

  static async watch<T extends KubernetesObject>(path: string): Promise<History<T>> {
    const h = new History<T>(path);
    watches.push(h as History<KubernetesObject>);
    await h.start();
    return h;
  }

  private async start(): Promise<void> {
    const from = this.resourceVersion === undefined ? {} : { resourceVersion: this.resourceVersion };
    this.request = await new Watch(kc).watch(
      this.path,
      { allowWatchBookmarks: true, ...from },
      (type, object: T & { message?: string }) => {
        if (type === 'ERROR') this.ended ??= `watch error: ${object.message}`;
        else {
          this.resourceVersion = object.metadata?.resourceVersion;
          if (type !== 'BOOKMARK') this.seen.push({ type, object });
        }
      },
      () => {
        if (this.ended === undefined) void sleep(100).then(() => (this.ended === undefined ? this.start() : undefined)).catch((err: unknown) => (this.ended ??= String(err)));
      },
    );
  }

  /** The versions of one object, oldest first; a watch that ended early left gaps, so nothing is judged from it. */
  of(namespace: string, name: string): T[] {
    if (this.ended !== undefined) throw new Error(`the watch ended early (${this.ended}): its record has gaps`);
    return this.seen.filter((s) => s.type !== 'DELETED' && s.object.metadata?.namespace === namespace && s.object.metadata.name === name).map((s) => s.object);
  }

  /** Waits for the first version of the object for which `test` holds. */
  first(namespace: string, name: string, what: string, test: (o: T) => boolean, timeoutMs = 60_000): Promise<T> {
    return eventually(`${namespace}/${name}: ${what}`, async () => this.of(namespace, name).find(test), timeoutMs);
  }

  abort(): void {
    this.ended ??= 'aborted';
    this.request?.abort();
  }
}

const jobsPath = (ns?: string) => `/apis/${group}/${version}${ns ? `/namespaces/${ns}` : ''}/jobs`;
const phase = (p: string) => (j: Job) => j.status?.phase === p;

/** Events the controller recorded about a Job (written in the background). */
async function jobEvents(ns: string, name: string, reason: string, count: number): Promise<string[]> {
  return eventually(`${count} ${reason} event(s) for ${ns}/${name}`, async () => {
    const list = (await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns })).items.filter((e) => e.regarding?.kind === 'Job' && e.regarding.name === name && e.reason === reason);
    return list.length >= count ? list.map((e) => `${e.type} ${e.note}`).sort() : undefined;
  });
}

/** Waits until the Quota's status says exactly this. */
async function quotaIs(ns: string, want: Partial<NonNullable<Quota['status']>>): Promise<Quota> {
  return eventually(`Quota of ${ns} at ${JSON.stringify(want)}`, async () => {
    const q = await getQuota(ns);
    const got = Object.fromEntries(Object.keys(want).map((k) => [k, q.status?.[k as keyof typeof want]]));
    return JSON.stringify(got) === JSON.stringify(want) ? q : undefined;
  });
}

/** Per resource, the amounts over the limit in a ResourceList; empty when within. */
function beyond(used: Record<string, string | number> | undefined, hard: Record<string, string | number>): string[] {
  const u = parseResources(used);
  const h = parseResources(hard);
  return [...u].filter(([k, v]) => v > (h.get(k) ?? 0n)).map(([k]) => `${k} ${String(used![k])} > ${String(hard[k])}`);
}

/** `kubectl get` as a user runs it, each row as column → cell (cells cut at the header's column starts). */
async function kubectlTable(args: string[]): Promise<Record<string, string>[]> {
  const { stdout } = await run('kubectl', ['--kubeconfig', process.env.OCTOPUS_TEST_KUBECONFIG!, ...args]);
  const [header, ...rows] = stdout.trimEnd().split('\n');
  const columns = [...header!.matchAll(/\S+/g)].map((m) => ({ name: m[0], start: m.index }));
  return rows.map((row) => Object.fromEntries(columns.map((c, i) => [c.name, row.slice(c.start, columns[i + 1]?.start).trim()])));
}

describe('sharing a GPU cluster on the real plane', () => {
  it('a high-priority 8-GPU job preempts two 4-GPU low-priority jobs of its workspace in a full pool; they requeue, run again when room returns and finish; the Quota is exact throughout', async () => {
    const pool = await gpuPool(2, 4);
    const hard = { 'nvidia.com/gpu': 8, cpu: 64, memory: '256Gi' };
    const ns = await workspace('preempt', pool, { hard });
    const jobs = await History.watch<Job>(jobsPath(ns));
    const pods = await History.watch<V1Pod>(`/api/v1/namespaces/${ns}/pods`);
    const quotas = await History.watch<Quota>(`/apis/${group}/${version}/namespaces/${ns}/quotas`);
    const eightGpus = { cpu: '16', memory: '64Gi', 'nvidia.com/gpu': '8' };
    const victims = ['low-1', 'low-2'];

    // Long enough to be caught running, short enough to finish once readmitted.
    for (const name of victims) await gang(ns, name, pool, { spec: gpu4, priorityClass: low, outcome: sim('Succeed', { duration: '15s' }) }).create(kc);
    const before = new Map<string, Job>();
    for (const name of victims) before.set(name, await jobs.first(ns, name, 'Running', phase('Running')));
    await quotaIs(ns, { used: eightGpus, admitted: 2, queued: 0 });

    await gang(ns, 'urgent', pool, { spec: gpu4, replicas: 2, priorityClass: high, outcome: sim('Succeed', { duration: '3s' }) }).create(kc);
    for (const name of victims) {
      const preempted = await jobs.first(ns, name, 'Preempted', (j) => condition(j, 'Preempted')?.status === 'True');
      expect(condition(preempted, 'Preempted')).toMatchObject({
        reason: 'LowerPriority',
        message: `preempted by Job ${ns}/urgent (priority 1000): it needed the room and this workload's priority (100) is lower`,
      });
      // Requeued at once, as a new attempt; a preemption is neither a failure nor a retry.
      expect(preempted.status).toMatchObject({ phase: 'Queued', preemptions: 1, attempt: (before.get(name)!.status?.attempt ?? 0) + 1 });
      expect(preempted.status?.admission).toBeUndefined();
      expect(preempted.status?.backoffUntil).toBeUndefined();
      expect(preempted.status?.retries).toBe(before.get(name)!.status?.retries);
    }
    const preempting = await jobs.first(ns, 'urgent', 'Preempting', (j) => condition(j, 'Admitted')?.reason === 'Preempting');
    expect(condition(preempting, 'Admitted')?.message).toMatch(new RegExp(`^preempting 2 workloads \\(Job ${ns}/low-[12], Job ${ns}/low-[12]\\); the room in pool ${pool.name} is held for it until their pods are gone$`));

    const urgent = await jobs.first(ns, 'urgent', 'Running', phase('Running'));
    expect(urgent.status?.admission?.total).toEqual(eightGpus);
    // While it runs, the victims wait behind it for the quota, first-come first.
    for (const [i, name] of victims.entries()) {
      await jobs.first(ns, name, `waiting at position ${i + 1}`, (j) =>
        j.status?.phase === 'Queued' && j.status.position === i + 1 && condition(j, 'Admitted')?.reason === 'QuotaExceeded' && condition(j, 'Admitted')?.message === 'waiting for Quota default: nvidia.com/gpu 8 in use + 4 requested > 8 hard',
      );
    }
    await quotaIs(ns, { used: eightGpus, admitted: 1, queued: 2, headOfLine: 'Job/low-1' });

    for (const name of victims) {
      const again = await jobs.first(ns, name, 'Running again', (j) => phase('Running')(j) && (j.status?.attempt ?? 0) > (before.get(name)!.status?.attempt ?? 0));
      expect(condition(again, 'Preempted')).toMatchObject({ status: 'False', reason: 'Readmitted' });
    }
    await quotaIs(ns, { used: eightGpus, admitted: 2, queued: 0 });
    for (const name of victims) {
      const done = await jobs.first(ns, name, 'Succeeded', phase('Succeeded'));
      expect(done.status).toMatchObject({ preemptions: 1, attempt: (before.get(name)!.status?.attempt ?? 0) + 1 });
      expect(done.status?.retries).toBe(before.get(name)!.status?.retries);
    }
    expect((await jobs.first(ns, 'urgent', 'Succeeded', phase('Succeeded'))).status?.preemptions).toBeUndefined();
    await quotaIs(ns, { used: {}, admitted: 0, queued: 0 });

    // Room held while the victims terminate: not one of the preemptor's pods existed beside a victim's first-attempt pod.
    const live = new Set<string>();
    const besideVictims: string[][] = [];
    for (const { type, object } of pods.seen) {
      const l = object.metadata!.labels ?? {};
      if (l[labels.job] === 'urgent' && type === 'ADDED') besideVictims.push([...live]);
      if (victims.includes(l[labels.job]!) && l[labels.attempt] === '0') {
        if (type === 'DELETED') live.delete(object.metadata!.name!);
        else live.add(object.metadata!.name!);
      }
    }
    expect(besideVictims).toEqual([[], []]);
    // Never more than hard, at any version the Quota had.
    const usedSeen = quotas.of(ns, 'default').map((q) => q.status?.used);
    expect(usedSeen).toContainEqual(eightGpus);
    expect(usedSeen.flatMap((used) => beyond(used, hard))).toEqual([]);

    // One per victim, and one for the wait itself.
    const preemptingEvents = await jobEvents(ns, 'urgent', 'Preempting', 3);
    expect(preemptingEvents.slice(0, 2)).toEqual([`Normal preempted Job ${ns}/low-1 (LowerPriority)`, `Normal preempted Job ${ns}/low-2 (LowerPriority)`]);
    expect(preemptingEvents[2]).toBe(`Normal ${condition(preempting, 'Admitted')!.message!}`);
    for (const name of victims) {
      expect(await jobEvents(ns, name, 'Preempted', 1)).toEqual([`Warning preempted by Job ${ns}/urgent (priority 1000): it needed the room and this workload's priority (100) is lower`]);
    }
  });

  it("reclaims borrowed GPUs in one cycle when the lender submits; the borrower's jobs within its own quota are never touched", async () => {
    const pool = await gpuPool(2, 4);
    const quota = { hard: { 'nvidia.com/gpu': 4, cpu: 32, memory: '128Gi' }, cohort: uniqueName('cohort') };
    const a = await workspace('borrower', pool, quota);
    const b = await workspace('lender', pool, quota);
    const jobs = await History.watch<Job>(jobsPath());
    const podsOfA = await History.watch<V1Pod>(`/api/v1/namespaces/${a}/pods`);

    // The lowest priority of all: were reclaim to pick victims by priority rather than by borrowing, this one would go.
    // (The borrowing job's class never preempts, or once reclaimed it would take its own workspace's room from this one.)
    await gang(a, 'own', pool, { spec: gpu4, priorityClass: low, outcome: sim('Run') }).create(kc);
    const own = await jobs.first(a, 'own', 'Running', phase('Running'));
    expect(own.status?.admission?.borrowed).toBeUndefined();
    await gang(a, 'borrowing', pool, { spec: gpu4, priorityClass: highNeverPreempts, outcome: sim('Run') }).create(kc);
    const borrowing = await jobs.first(a, 'borrowing', 'Running', phase('Running'));
    expect(borrowing.status?.admission?.borrowed).toBe(true);
    await quotaIs(a, { used: { cpu: '16', memory: '64Gi', 'nvidia.com/gpu': '8' }, borrowed: { 'nvidia.com/gpu': '4' } });

    // No class: value 0, below both of A's jobs. Reclaim does not ask.
    await gang(b, 'mine', pool, { spec: gpu4, outcome: sim('Succeed', { duration: '3s' }) }).create(kc);
    const reclaimed = await jobs.first(a, 'borrowing', 'Preempted', (j) => condition(j, 'Preempted')?.status === 'True');
    expect(condition(reclaimed, 'Preempted')).toMatchObject({
      reason: 'QuotaReclaimed',
      message: `preempted by Job ${b}/mine (priority 0): workspace ${b} needed its lent quota back, and workspace ${a} was borrowing it in their cohort`,
    });
    expect(reclaimed.status).toMatchObject({ phase: 'Queued', preemptions: 1 });
    const mine = await jobs.first(b, 'mine', 'Running', phase('Running'));
    expect(mine.status?.admission?.borrowed).toBeUndefined();
    // One cycle: the first verdict on the lender's job was to preempt; it never waited on quota or room first.
    const verdicts = jobs.of(b, 'mine').map((j) => condition(j, 'Admitted')?.reason).filter((r, i, all) => r !== undefined && r !== all[i - 1]);
    expect(verdicts.slice(0, verdicts.indexOf('QuotaReserved') + 1)).toEqual(['Pending', 'Preempting', 'QuotaReserved']);
    expect(await jobEvents(b, 'mine', 'Preempting', 2)).toEqual([
      `Normal preempted Job ${a}/borrowing (QuotaReclaimed)`,
      `Normal preempting 1 workload (Job ${a}/borrowing); the room in pool ${pool.name} is held for it until their pods are gone`,
    ]);

    // Once the lender's job is done, the quota is idle again and the borrower borrows it anew.
    await jobs.first(b, 'mine', 'Succeeded', phase('Succeeded'));
    const again = await jobs.first(a, 'borrowing', 'Running again', (j) => phase('Running')(j) && j.status?.attempt === (borrowing.status?.attempt ?? 0) + 1);
    expect(again.status?.admission?.borrowed).toBe(true);

    const ownSince = jobs.of(a, 'own').slice(jobs.of(a, 'own').findIndex(phase('Running')));
    expect(ownSince.filter((j) => j.status?.phase !== 'Running' || j.status.attempt !== own.status?.attempt || condition(j, 'Preempted') !== undefined)).toEqual([]);
    const ownPods = podsOfA.seen.filter((s) => s.object.metadata?.labels?.[labels.job] === 'own');
    expect(new Set(ownPods.map((s) => s.object.metadata!.uid)).size).toBe(1);
    expect(ownPods.filter((s) => s.type === 'DELETED' || s.object.metadata?.deletionTimestamp)).toEqual([]);
  });

  it("one workspace's 200 queued jobs do not starve another's 5, submitted after them: the 5 go to the head of the line and are admitted as soon as room frees", async () => {
    // Ten 1-GPU pods at a time, and each workspace's quota alone would let it fill the pool: only the queue order decides.
    const pool = await gpuPool(2, 5);
    const quota = { hard: { 'nvidia.com/gpu': 10, cpu: 10, memory: '10Gi' }, weight: 1 };
    const flood = await workspace('flood', pool, quota);
    const few = await workspace('few', pool, quota);
    const jobs = await History.watch<Job>(jobsPath());
    // Long enough that the pool is still full of the first ten when the five arrive, however slowly
    // the 200 are created on a busy plane (at 20 s the first ten had once finished by then).
    const outcome = sim('Succeed', { duration: '60s' });
    const floodNames = Array.from({ length: 200 }, (_, i) => `f-${String(i).padStart(3, '0')}`);
    for (let i = 0; i < floodNames.length; i += 10) await Promise.all(floodNames.slice(i, i + 10).map((name) => gang(flood, name, pool, { spec: gpu1, outcome }).create(kc)));
    await quotaIs(flood, { used: { cpu: '10', memory: '10Gi', 'nvidia.com/gpu': '10' } });
    const fewNames = Array.from({ length: 5 }, (_, i) => `s-${i}`);
    for (const name of fewNames) await gang(few, name, pool, { spec: gpu1, outcome }).create(kc);

    for (const name of fewNames) await jobs.first(few, name, 'admitted', (j) => j.status?.admission !== undefined, 120_000);
    const order: string[] = [];
    for (const { object } of jobs.seen) {
      const key = `${object.metadata!.namespace}/${object.metadata!.name}`;
      if ([flood, few].includes(object.metadata!.namespace!) && object.status?.admission && !order.includes(key)) order.push(key);
    }
    // Without fair sharing the first 200 admissions would all be the flood's, oldest first. With it, at
    // worst the two alternate once the flood's first ten finish (a tie goes to the older job): 10 + 5 + 5.
    expect(order.slice(0, 20).filter((k) => k.startsWith(`${few}/`))).toHaveLength(5);
    // While they waited, the five were first in the pool's queue, ahead of the flood's 190.
    const positions = fewNames.flatMap((name) => jobs.of(few, name).flatMap((j) => (j.status?.position === undefined ? [] : [j.status.position])));
    expect(positions.length).toBeGreaterThan(0);
    expect(positions.filter((p) => p > fewNames.length)).toEqual([]);

    // The rest of the flood need not run: leave the plane quiet for the next test.
    const custom = kc.makeApiClient(CustomObjectsApi);
    for (const ns of [flood, few]) await custom.deleteCollectionNamespacedCustomObject({ group, version, plural: 'jobs', namespace: ns });
  });

  it('a waiting job shows its place in the queue and what holds it back; kubectl get ojob prints the position; the Quota and the pool name the head of the line', async () => {
    const pool = await gpuPool(1, 4);
    const ns = await workspace('queue', pool, { hard: { 'nvidia.com/gpu': 8, cpu: 64, memory: '256Gi' } });
    await gang(ns, 'running', pool, { spec: gpu4, outcome: sim('Run') }).create(kc);
    await eventually('running Running', async () => ((await getJob(ns, 'running')).status?.phase === 'Running' ? true : undefined));
    // The quota has room for both; the pool's one node has none.
    for (const name of ['waits-1', 'waits-2']) await gang(ns, name, pool, { spec: gpu4, outcome: sim('Run') }).create(kc);
    const message = `pool ${pool.name} has no room now for the whole gang of 1 pods: it needs 4 nvidia.com/gpu, 0 are free on its nodes together`;
    for (const [position, name] of ['waits-1', 'waits-2'].entries()) {
      const waiting = await eventually(`${name} at position ${position + 1}`, async () => {
        const j = await getJob(ns, name);
        return j.status?.position === position + 1 ? j : undefined;
      });
      expect(waiting.status?.phase).toBe('Queued');
      expect(condition(waiting, 'Admitted')).toMatchObject({ status: 'False', reason: 'InsufficientCapacity', message });
    }

    const table = await kubectlTable(['get', 'ojob', '-n', ns]);
    expect(table.map((row) => [row.NAME, row.PHASE, row.POSITION])).toEqual([
      ['running', 'Running', ''],
      ['waits-1', 'Queued', '1'],
      ['waits-2', 'Queued', '2'],
    ]);
    await quotaIs(ns, { admitted: 1, queued: 2, headOfLine: 'Job/waits-1' });
    await eventually(`pool ${pool.name} names its head of line`, async () => {
      const p = await kc.makeApiClient(CustomObjectsApi).getClusterCustomObject({ group, version, plural: 'resourcepools', name: pool.name }) as ResourcePool;
      return p.status?.pending === 2 && p.status.headOfLine === `Job ${ns}/waits-1: ${message}` ? true : undefined;
    });
  });
});
