import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1PersistentVolumeClaim, type V1Pod } from '@kubernetes/client-node';
import { apiVersion, group, version, type Dataset, type Job, type Model, type Quota } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { sharedClaimName } from '../assets/share.js';
import { installCrds } from '../../e2e/harness/crds.js';
import { createNamespaced, createPool, createQuota, createSpec, deleteCluster, getNamespaced, job, patchNamespaced, sim, type TestPool } from '../../e2e/harness/fixtures.js';
import { createTestNamespace, deleteNamespace, eventually, testKubeConfig } from '../../e2e/harness/kube.js';
import { startOctopus, type RunningOctopus } from '../../e2e/harness/octopus.js';
import { labels } from './pods.js';

let kc: KubeConfig;
let octopus: RunningOctopus;
let pool: TestPool;
let gpu1: string;
let gpu4: string;
const namespaces: string[] = [];
const specs: string[] = [];

beforeAll(async () => {
  kc = testKubeConfig();
  await installCrds(kc);
  pool = await createPool(kc, { nodes: 4 });
  gpu1 = await createSpec(kc, { 'nvidia.com/gpu': 1, cpu: 4, memory: '16Gi' });
  gpu4 = await createSpec(kc, { 'nvidia.com/gpu': 4, cpu: 16, memory: '64Gi' });
  specs.push(gpu1, gpu4);
  octopus = await startOctopus(kc);
});

afterAll(async () => {
  await octopus?.stop();
  for (const ns of namespaces) await deleteNamespace(kc, ns);
  for (const spec of specs) await deleteCluster(kc, 'resourcespecs', spec);
  await pool?.cleanup();
});

async function namespace(prefix: string): Promise<string> {
  const ns = await createTestNamespace(kc, prefix);
  namespaces.push(ns);
  return ns;
}

const getJob = (ns: string, name: string) => getNamespaced<Job>(kc, 'jobs', ns, name);

async function waitPhase(ns: string, name: string, phase: string, timeoutMs = 60_000): Promise<Job> {
  return eventually(`${ns}/${name} ${phase}`, async () => {
    const j = await getJob(ns, name);
    return j.status?.phase === phase ? j : undefined;
  }, timeoutMs);
}

async function jobPods(ns: string, name: string): Promise<V1Pod[]> {
  return (await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns, labelSelector: `${labels.job}=${name}` })).items;
}

const condition = (j: Job, type: string) => j.status?.conditions?.find((c) => c.type === type);

describe('Job admission and pods on the real plane', () => {
  it('admits a 4-worker PyTorch job as one gang; every pod lands on a GPU node with its rank', async () => {
    const ns = await namespace('job-pytorch');
    await job(ns, 'ddp').pool(pool.name).distribution('PyTorch').task({ name: 'worker', replicas: 4, resourceSpec: gpu1, podMetadata: { annotations: sim('Run') } }).create(kc);
    const running = await waitPhase(ns, 'ddp', 'Running');
    expect(running.status?.admission?.total).toMatchObject({ 'nvidia.com/gpu': '4' });
    expect(running.status?.pods).toBe('4/4');
    const pods = await jobPods(ns, 'ddp');
    expect(pods.map((p) => p.metadata!.name).sort()).toEqual(['ddp-worker-0', 'ddp-worker-1', 'ddp-worker-2', 'ddp-worker-3']);
    for (const p of pods) {
      expect(pool.nodes).toContain(p.spec!.nodeName);
      const env = Object.fromEntries(p.spec!.containers[0]!.env!.map((e) => [e.name, e.value]));
      expect(env).toMatchObject({ WORLD_SIZE: '4', MASTER_ADDR: 'ddp-worker-0.ddp', RANK: p.metadata!.labels![labels.index] });
    }
    await patchNamespaced(kc, 'jobs', ns, 'ddp', { spec: { suspend: true } });
    await waitPhase(ns, 'ddp', 'Stopped');
  });

  it('quota of 8 GPUs and three 4-GPU jobs: two run, one waits naming the quota, and is admitted when one finishes', async () => {
    const ns = await namespace('job-quota');
    await createQuota(kc, ns, { 'nvidia.com/gpu': 8 });
    // a finishes on its own a while after the other two are placed.
    await job(ns, 'a').pool(pool.name).task({ name: 'w', resourceSpec: gpu4, podMetadata: { annotations: sim('Succeed', { duration: '15s' }) } }).create(kc);
    await waitPhase(ns, 'a', 'Running');
    await job(ns, 'b').pool(pool.name).task({ name: 'w', resourceSpec: gpu4, podMetadata: { annotations: sim('Run') } }).create(kc);
    await waitPhase(ns, 'b', 'Running');
    await job(ns, 'c').pool(pool.name).task({ name: 'w', resourceSpec: gpu4, podMetadata: { annotations: sim('Run') } }).create(kc);
    const waiting = await eventually('c waits for quota', async () => {
      const j = await getJob(ns, 'c');
      return condition(j, 'Admitted')?.reason === 'QuotaExceeded' ? j : undefined;
    });
    expect(waiting.status?.phase).toBe('Queued');
    expect(condition(waiting, 'Admitted')?.message).toBe('waiting for Quota default: nvidia.com/gpu 8 in use + 4 requested > 8 hard');
    const quota = await eventually('quota used 8', async () => {
      const q = await getNamespaced<Quota>(kc, 'quotas', ns, 'default');
      return q.status?.used?.['nvidia.com/gpu'] === '8' ? q : undefined;
    });
    expect(quota.status?.queued).toBe(1);
    await waitPhase(ns, 'a', 'Succeeded');
    await waitPhase(ns, 'c', 'Running');
    for (const name of ['b', 'c']) await patchNamespaced(kc, 'jobs', ns, name, { spec: { suspend: true } });
  });

  it('does not admit a pod needing 8 GPUs to a pool whose nodes each have 4, though 8 are free in total', async () => {
    const small = await createPool(kc, { nodes: 2, capacity: { 'nvidia.com/gpu': '4' } });
    try {
      const ns = await namespace('job-fit');
      const gpu8 = await createSpec(kc, { 'nvidia.com/gpu': 8, cpu: 8 });
      specs.push(gpu8);
      await job(ns, 'big').pool(small.name).task({ name: 'w', resourceSpec: gpu8 }).create(kc);
      // Until the controller has seen both new nodes it reports the pool-wide shortfall instead.
      const waiting = await eventually('big waits for a node with 8 GPUs', async () => {
        const j = await getJob(ns, 'big');
        return condition(j, 'Admitted')?.message?.includes('on one of 2 nodes') ? j : undefined;
      });
      expect(condition(waiting, 'Admitted')).toMatchObject({
        status: 'False',
        reason: 'InsufficientCapacity',
        message: expect.stringContaining('no node can fit pod w-0 (8 nvidia.com/gpu); the most free on one of 2 nodes is 4 nvidia.com/gpu'),
      });
      expect(waiting.status?.phase).toBe('Queued');
      expect(await jobPods(ns, 'big')).toHaveLength(0);
    } finally {
      await small.cleanup();
    }
  });

  it('restarts the whole gang when a worker fails, counting retries, and fails past maxRetries', async () => {
    const ns = await namespace('job-retry');
    await job(ns, 'flaky')
      .pool(pool.name)
      .policy({ maxRetries: 2 })
      .task({ name: 'w', replicas: 2, resourceSpec: gpu1, podMetadata: { annotations: sim('Fail', { duration: '1s', 'exit-code': '3', message: 'NCCL timeout' }) } })
      .create(kc);
    const failed = await waitPhase(ns, 'flaky', 'Failed', 120_000);
    expect(failed.status?.retries).toBe(2);
    expect(failed.status?.attempt).toBe(2);
    expect(condition(failed, 'Failed')).toMatchObject({ reason: 'MaxRetriesExceeded' });
    expect(condition(failed, 'Failed')?.message).toContain('NCCL timeout');
  });

  it('main role decides: a chief that succeeds ends the job while parameter servers still run', async () => {
    const ns = await namespace('job-main');
    await job(ns, 'tf')
      .pool(pool.name)
      .distribution('TensorFlow')
      .task({ name: 'chief', resourceSpec: gpu1, main: true, podMetadata: { annotations: sim('Succeed', { duration: '2s' }) } })
      .task({ name: 'ps', replicas: 2, resourceSpec: gpu1, podMetadata: { annotations: sim('Run') } })
      .create(kc);
    const done = await waitPhase(ns, 'tf', 'Succeeded', 90_000);
    expect(condition(done, 'Succeeded')?.message).toBe('task chief completed');
    await eventually('ps pods deleted', async () => ((await jobPods(ns, 'tf')).filter((p) => p.metadata?.labels?.[labels.task] === 'ps' && !p.metadata.deletionTimestamp).length === 0 ? true : undefined));
  });

  it('fails a job past activeDeadlineSeconds', async () => {
    const ns = await namespace('job-deadline');
    await job(ns, 'slow').pool(pool.name).policy({ activeDeadlineSeconds: 3 }).task({ name: 'w', resourceSpec: gpu1, podMetadata: { annotations: sim('Run') } }).create(kc);
    const failed = await waitPhase(ns, 'slow', 'Failed', 60_000);
    expect(condition(failed, 'Failed')?.reason).toBe('DeadlineExceeded');
  });

  it('suspend stops and releases; resume requeues and runs again', async () => {
    const ns = await namespace('job-suspend');
    await createQuota(kc, ns, { 'nvidia.com/gpu': 4 });
    await job(ns, 'pausable').pool(pool.name).task({ name: 'w', resourceSpec: gpu1, podMetadata: { annotations: sim('Run') } }).create(kc);
    await waitPhase(ns, 'pausable', 'Running');
    await patchNamespaced(kc, 'jobs', ns, 'pausable', { spec: { suspend: true } });
    const stopped = await waitPhase(ns, 'pausable', 'Stopped');
    expect(stopped.status?.admission).toBeUndefined();
    await eventually('pods gone', async () => ((await jobPods(ns, 'pausable')).length === 0 ? true : undefined));
    await eventually('quota released', async () => {
      const q = await getNamespaced<Quota>(kc, 'quotas', ns, 'default');
      return Object.keys(q.status?.used ?? {}).length === 0 && q.status?.admitted === 0 ? true : undefined;
    });
    await patchNamespaced(kc, 'jobs', ns, 'pausable', { spec: { suspend: false } });
    await waitPhase(ns, 'pausable', 'Running');
    await patchNamespaced(kc, 'jobs', ns, 'pausable', { spec: { suspend: true } });
  });

  it('registers a Model version with lineage when a job with output succeeds', async () => {
    const ns = await namespace('job-output');
    await job(ns, 'train')
      .pool(pool.name)
      .task({ name: 'w', replicas: 2, resourceSpec: gpu1, podMetadata: { annotations: sim('Succeed', { duration: '1s' }) } })
      .with({ output: { model: { name: 'resnet' } } })
      .create(kc);
    const done = await waitPhase(ns, 'train', 'Succeeded', 90_000);
    expect(done.status?.output).toEqual({ model: 'resnet', version: 'train' });
    const model = await eventually('model version', async () => {
      const m = await getNamespaced<Model>(kc, 'models', ns, 'resnet');
      return m.status?.versions?.some((v) => v.name === 'train') ? m : undefined;
    });
    const v = model.status!.versions!.find((x) => x.name === 'train')!;
    expect(v.origin).toBe('Job');
    expect(v.claimName).toBe('train-output');
    expect(v.lineage).toMatchObject({ job: { name: 'train', namespace: ns, uid: done.metadata.uid }, attempt: 0, image: 'docker.io/library/python:3.12' });
  });

  it('mounts a Public dataset of another namespace through a read-only claim pair on the same volume, gone with the job', async () => {
    const owner = await namespace('job-share-src');
    const ns = await namespace('job-share');
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedPersistentVolumeClaim({ namespace: owner, body: { metadata: { name: 'imagenet' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } } });
    const source = await eventually('source claim bound', async () => {
      const c = await core.readNamespacedPersistentVolumeClaim({ name: 'imagenet', namespace: owner });
      return c.status?.phase === 'Bound' ? c : undefined;
    });
    const sourceVolume = await core.readPersistentVolume({ name: source.spec!.volumeName! });
    await createNamespaced<Dataset>(kc, 'datasets', { apiVersion, kind: 'Dataset', metadata: { name: 'imagenet', namespace: owner }, spec: { visibility: 'Public', versions: [{ name: 'v1', source: { pvc: { claimName: 'imagenet' } } }] } });
    await job(ns, 'reader')
      .pool(pool.name)
      .with({ datasets: [{ name: 'imagenet', namespace: owner, version: 'v1' }] })
      .task({ name: 'w', resourceSpec: gpu1, podMetadata: { annotations: sim('Run') } })
      .create(kc);
    await waitPhase(ns, 'reader', 'Running');

    const claimName = sharedClaimName({ namespace: owner, claimName: 'imagenet' });
    const [pod] = await jobPods(ns, 'reader');
    const volume = pod!.spec!.volumes!.find((v) => v.persistentVolumeClaim?.claimName === claimName);
    expect(volume).toBeDefined();
    expect(pod!.spec!.containers[0]!.volumeMounts!.find((m) => m.name === volume!.name)).toMatchObject({ readOnly: true });
    const claim: V1PersistentVolumeClaim = await eventually('shared claim bound', async () => {
      const c = await core.readNamespacedPersistentVolumeClaim({ name: claimName, namespace: ns });
      return c.status?.phase === 'Bound' ? c : undefined;
    });
    expect(claim.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'Job', name: 'reader' })]);
    const shared = await core.readPersistentVolume({ name: claim.spec!.volumeName! });
    // The same storage, read-only, and nothing copied: no Secret appeared in the consumer namespace.
    expect(shared.spec?.hostPath?.path).toBe(sourceVolume.spec?.hostPath?.path);
    expect(shared.spec).toMatchObject({ accessModes: ['ReadOnlyMany'], persistentVolumeReclaimPolicy: 'Retain' });
    expect((await core.listNamespacedSecret({ namespace: ns })).items).toEqual([]);

    await kc.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({ group, version, plural: 'jobs', namespace: ns, name: 'reader' });
    await eventually(
      'shared claim and volume removed',
      async () => {
        const left = await Promise.all([
          core.readNamespacedPersistentVolumeClaim({ name: claimName, namespace: ns }).then(() => 'claim', () => undefined),
          core.readPersistentVolume({ name: shared.metadata!.name! }).then(() => 'volume', () => undefined),
        ]);
        return left.every((x) => x === undefined) ? true : undefined;
      },
      90_000,
    );
    // The source is untouched.
    expect((await core.readPersistentVolume({ name: sourceVolume.metadata!.name! })).status?.phase).toBe('Bound');
  });
});
