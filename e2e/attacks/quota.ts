/**
 * Attacks 2, 5 and 9: work that got past the workspace's limits. (2) A ModelService was never
 * admitted: 20 replicas of 8 GPUs started at once in a 16-GPU workspace. (5) Inline resources had no
 * price, pods without cpu/memory were BestEffort and counted as nothing, import pods were not counted.
 * (9) A resource no Quota named was unlimited. Each is tried again as the member.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { apiVersion, group, version, type Job, type ModelService, type Quota, type ResourcePool } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { addResources, parseResources, type Resources } from '../../apis/quantity.js';
import { podRequests } from '../../controllers/cluster/nodes.js';
import { eventually } from '../harness/kube.js';
import type { AttackWorld } from './tenants.js';

const keepRunning = { 'sim.octopus.openi.pcl.cn/outcome': 'Run' };
const succeedAtOnce = { 'sim.octopus.openi.pcl.cn/outcome': 'Succeed', 'sim.octopus.openi.pcl.cn/duration': '1s' };

type Task = Job['spec']['tasks'][number];
type Ref = { apiVersion: string; kind: string; metadata: { name: string; namespace: string } };

function job(ns: string, name: string, task: Partial<Task>, extra: Partial<Job['spec']> = {}): Job {
  const worker: Task = { name: 'worker', replicas: 1, podMetadata: { annotations: keepRunning }, ...task };
  return { apiVersion, kind: 'Job', metadata: { name, namespace: ns }, spec: { image: { reference: 'docker.io/library/python:3.12' }, pool: 'cpu', tasks: [worker], ...extra } };
}

function service(ns: string, name: string, spec: Partial<ModelService['spec']>): ModelService {
  return {
    apiVersion,
    kind: 'ModelService',
    metadata: { name, namespace: ns },
    spec: { model: { name: 'atk-model', version: 'atk-train' }, image: { reference: 'docker.io/pytorch/torchserve:0.12.0-cpu' }, pool: 'cpu', podMetadata: { annotations: keepRunning }, ...spec } as ModelService['spec'],
  };
}

const ref = (kind: string, ns: string, name: string): Ref => ({ apiVersion, kind, metadata: { name, namespace: ns } });
const plural: Record<string, string> = { Job: 'jobs', ModelService: 'modelservices', Dataset: 'datasets', Model: 'models' };

async function remove(w: AttackWorld, r: Ref): Promise<void> {
  await w.admin
    .makeApiClient(CustomObjectsApi)
    .deleteNamespacedCustomObject({ group, version, plural: plural[r.kind]!, namespace: r.metadata.namespace, name: r.metadata.name })
    .catch((err: { code?: number }) => {
      if (err.code !== 404) throw err;
    });
  await eventually(`${r.kind} ${r.metadata.name} gone`, async () => ((await w.read(r)) === undefined ? true : undefined), 60_000);
}

const condition = (obj: { status?: { conditions?: { type: string; reason: string; message: string }[] } } | undefined, type: string) => obj?.status?.conditions?.find((c) => c.type === type);

async function deployment(w: AttackWorld, name: string) {
  return w.admin
    .makeApiClient(AppsV1Api)
    .readNamespacedDeployment({ name, namespace: w.ns })
    .catch((err: { code?: number }) => {
      if (err.code === 404) return undefined;
      throw err;
    });
}

async function podsLabelled(w: AttackWorld, selector: string): Promise<V1Pod[]> {
  return (await w.admin.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: w.ns, labelSelector: selector })).items;
}

async function listed<T>(w: AttackWorld, plural: string): Promise<T[]> {
  return ((await w.admin.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group, version, plural, namespace: w.ns })) as { items: T[] }).items;
}

/**
 * What the Quota must report as used, computed from what the API shows (not from the controller's
 * code): every admitted job's and service's reservation, plus the requests of every unfinished pod
 * charged to the workspace.
 */
async function usedPerApi(w: AttackWorld): Promise<Resources> {
  const charged = (await podsLabelled(w, `octopus.openi.pcl.cn/charged-to=${w.ns}`)).filter((p) => p.status?.phase === 'Running' || p.status?.phase === 'Pending');
  const jobs = (await listed<Job>(w, 'jobs')).filter((j) => j.status?.admission && ['Admitted', 'Running', 'Restarting'].includes(j.status.phase ?? ''));
  const services = (await listed<ModelService>(w, 'modelservices')).filter((ms) => (ms.status?.admission?.replicas ?? 0) > 0);
  return addResources(...charged.map(podRequests), ...jobs.map((j) => parseResources(j.status!.admission!.total)), ...services.map((ms) => parseResources(ms.status!.admission!.total)));
}

/** Waits until the Quota's used cpu equals what the API shows; returns it. */
async function quotaMatchesApi(w: AttackWorld): Promise<bigint> {
  return eventually('Quota used cpu = reservations + charged pods', async () => {
    const want = (await usedPerApi(w)).get('cpu') ?? 0n;
    const q = await w.read<Quota & Ref>(ref('Quota', w.ns, 'default'));
    return (parseResources(q?.status?.used).get('cpu') ?? 0n) === want ? want : undefined;
  }, 60_000);
}

/** A Model version the member's services can serve: what a short training Job registers. */
async function trainModel(w: AttackWorld): Promise<void> {
  const train = job(w.ns, 'atk-train', { resources: { requests: { cpu: '100m', memory: '64Mi' } }, podMetadata: { annotations: succeedAtOnce } }, { output: { model: { name: 'atk-model' } } });
  expect(await w.tryApply(train)).toBeUndefined();
  await eventually('Model atk-model version atk-train Ready', async () => {
    const m = await w.read<{ status?: { versions?: { name: string; phase?: string }[] } } & Ref>(ref('Model', w.ns, 'atk-model'));
    return m?.status?.versions?.some((v) => v.name === 'atk-train' && v.phase === 'Ready') ? true : undefined;
  }, 120_000);
}

export function describeQuotaAttacks(world: () => AttackWorld): void {
  describe('2. ModelService skips admission', () => {
    it('refuses 20 replicas × 8 GPUs in a 16-GPU workspace, and a service without a pool; no Deployment appears', async () => {
      const w = world();
      const huge = await w.tryApply(service(w.ns, 'atk-serve-huge', { pool: 'gpu-a100', replicas: 20, resourceSpec: 'gpu-8x' }));
      expect(huge).toContain('spec.resourceSpec: requests 160 nvidia.com/gpu, more than the 16 that Quota default allows');
      const poolless = service(w.ns, 'atk-serve-anywhere', { replicas: 1, resourceSpec: 'cpu-4c' });
      delete (poolless.spec as Partial<ModelService['spec']>).pool;
      expect(await w.tryApply(poolless)).toContain('spec.pool: Required value');
      expect(await w.read(ref('ModelService', w.ns, 'atk-serve-huge'))).toBeUndefined();
      expect(await deployment(w, 'atk-serve-huge')).toBeUndefined();
      expect(await deployment(w, 'atk-serve-anywhere')).toBeUndefined();
    });

    it('keeps a service that does not fit now waiting, with no serving pod, until it fits; then counts it in the Quota', async () => {
      const w = world();
      await trainModel(w);
      // Two 20-CPU pods: one on each 32-CPU node of the pool.
      const filler = job(w.ns, 'atk-fill-cpu', { replicas: 2, resources: { requests: { cpu: 20, memory: '1Gi' } } });
      const waiting = service(w.ns, 'atk-serve-wait', { replicas: 2, resources: { requests: { cpu: 16, memory: '1Gi' } } });
      try {
        expect(await w.tryApply(filler)).toBeUndefined();
        await eventually('the filler admitted', async () => ((await w.read<Job & Ref>(ref('Job', w.ns, 'atk-fill-cpu')))?.status?.admission ? true : undefined), 90_000);
        // At least 40 CPUs held + 2 × 16 asked > 64: it must wait, serving nothing.
        expect(await w.tryApply(waiting)).toBeUndefined();
        const held = await eventually('the service waits on quota', async () => {
          const ms = await w.read<ModelService & Ref>(ref('ModelService', w.ns, 'atk-serve-wait'));
          return condition(ms, 'Admitted')?.reason === 'QuotaExceeded' ? ms : undefined;
        }, 90_000);
        expect(condition(held, 'Admitted')?.message).toMatch(/^waiting for Quota default: cpu [0-9.]+m? in use \+ 32 requested > 64 hard$/);
        expect(held.status?.admission).toBeUndefined();
        expect(await deployment(w, 'atk-serve-wait')).toBeUndefined();
        expect(await podsLabelled(w, 'octopus.openi.pcl.cn/modelservice=atk-serve-wait')).toEqual([]);

        await remove(w, ref('Job', w.ns, 'atk-fill-cpu'));
        const admitted = await eventually('the service admitted and running', async () => {
          const ms = await w.read<ModelService & Ref>(ref('ModelService', w.ns, 'atk-serve-wait'));
          return ms?.status?.admission?.replicas === 2 && ms.status.readyReplicas === 2 ? ms : undefined;
        }, 120_000);
        expect(admitted.status?.admission?.total).toMatchObject({ cpu: '32' });
        expect(await quotaMatchesApi(w)).toBeGreaterThanOrEqual(32_000n);
      } finally {
        await remove(w, ref('ModelService', w.ns, 'atk-serve-wait'));
        await remove(w, ref('Job', w.ns, 'atk-fill-cpu'));
      }
    });
  });

  describe('5. Zero-cost and uncounted work', () => {
    it("prices inline resources with the pool's prices, and gives pods without cpu or memory requests, so none is BestEffort", async () => {
      const w = world();
      const pools = w.admin.makeApiClient(CustomObjectsApi);
      const before = (await pools.getClusterCustomObject({ group, version, plural: 'resourcepools', name: 'cpu' })) as ResourcePool;
      type Terms = { pricesPerHour: Record<string, string> | null; defaultRequests: Record<string, string | number> | null };
      const patch = (spec: Terms) => pools.patchClusterCustomObject({ group, version, plural: 'resourcepools', name: 'cpu', body: { spec } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
      await patch({ pricesPerHour: { cpu: '0.05', memory: '0.01' }, defaultRequests: { cpu: '250m', memory: '512Mi' } });
      const bare = job(w.ns, 'atk-free-ride', { resources: { limits: {} } });
      try {
        expect(await w.tryApply(bare)).toBeUndefined();
        const admitted = await eventually('the job admitted', async () => {
          const j = await w.read<Job & Ref>(ref('Job', w.ns, 'atk-free-ride'));
          return j?.status?.admission ? j : undefined;
        }, 90_000);
        // The pool's default requests, priced: 0.25 × 0.05 + 0.5 × 0.01 = 0.0175, rounded up to a thousandth.
        expect(admitted.status?.admission?.podSets[0]).toMatchObject({ resources: { cpu: '250m', memory: '512Mi' }, pricePerHour: '0.018' });
        const [pod] = await eventually('its pod', async () => {
          const pods = await podsLabelled(w, 'octopus.openi.pcl.cn/job=atk-free-ride');
          return pods.length === 1 ? pods : undefined;
        }, 60_000);
        expect(pod!.spec?.containers[0]?.resources?.requests).toMatchObject({ cpu: '250m', memory: '512Mi' });
        expect(pod!.status?.qosClass === undefined || pod!.status.qosClass !== 'BestEffort').toBe(true);
      } finally {
        await remove(w, ref('Job', w.ns, 'atk-free-ride'));
        await patch({ pricesPerHour: before.spec.pricesPerHour ?? null, defaultRequests: before.spec.defaultRequests ?? null });
      }
    });

    it("counts a running import pod against the workspace's Quota", async () => {
      const w = world();
      // A source that accepts and never answers keeps the import pod Running (the plane runs it for
      // real): an unreachable host would fail it within a second, before the Quota is due to count it.
      const held = new Set<Socket>();
      const silent = createServer((socket) => held.add(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const dataset = {
        apiVersion,
        kind: 'Dataset',
        metadata: { name: 'atk-import', namespace: w.ns },
        spec: { versions: [{ name: 'v1', source: { http: { url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/corpus.tar.gz` } } }] },
      };
      try {
        expect(await w.tryApply(dataset)).toBeUndefined();
        const charged = `octopus.openi.pcl.cn/charged-to=${w.ns}`;
        const pods = await eventually('a running import pod charged to the workspace', async () => {
          const found = (await podsLabelled(w, charged)).filter((p) => p.status?.phase === 'Running');
          return found.length > 0 ? found : undefined;
        }, 90_000);
        expect(pods.every((p) => Object.keys(p.spec?.containers[0]?.resources?.requests ?? {}).includes('cpu'))).toBe(true);
        const importCpu = addResources(...pods.map(podRequests)).get('cpu') ?? 0n;
        expect(await quotaMatchesApi(w)).toBeGreaterThanOrEqual(importCpu);
      } finally {
        await remove(w, ref('Dataset', w.ns, 'atk-import'));
        for (const socket of held) socket.destroy();
        silent.close();
      }
    });
  });

  describe('9. Fail-open quota', () => {
    it('keeps a job asking for a resource no Quota names waiting (NoQuota), warning at apply time; no pod starts', async () => {
      const w = world();
      const name = 'atk-unlimited';
      const manifest = JSON.stringify(job(w.ns, name, { resources: { requests: { cpu: '100m', memory: '64Mi', 'ephemeral-storage': '500Gi' } } }));
      try {
        const applied = w.kubectl(['apply', '-f', '-'], manifest);
        expect(applied.status).toBe(0);
        expect(applied.output).toContain(`Warning: spec.tasks: waits (NoQuota): no Quota in namespace ${w.ns} limits ephemeral-storage`);
        const waiting = await eventually('the job waits with NoQuota', async () => {
          const j = await w.read<Job & Ref>(ref('Job', w.ns, name));
          return condition(j, 'Admitted')?.reason === 'NoQuota' ? j : undefined;
        }, 90_000);
        expect(condition(waiting, 'Admitted')?.message).toBe(`no Quota in namespace ${w.ns} limits ephemeral-storage: Workspace ${w.ns} requires one for every requested resource (spec.requireQuota)`);
        expect(waiting.status?.admission).toBeUndefined();
        expect(await podsLabelled(w, `octopus.openi.pcl.cn/job=${name}`)).toEqual([]);
      } finally {
        await remove(w, ref('Job', w.ns, name));
      }
    });
  });
}
