import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BatchV1Api, CoreV1Api, VersionApi, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { createTestNamespace, deleteNamespace, eventually, onLocalPlane, testKubeConfig } from '../../e2e/harness/kube.js';
import { resourceTagKey } from './nodes.js';
import { versions } from './versions.js';

const sim = (outcome: string, extra: Record<string, string> = {}) => ({
  'sim.octopus.openi.pcl.cn/outcome': outcome,
  'sim.octopus.openi.pcl.cn/duration': '500ms',
  ...extra,
});

function pod(name: string, annotations: Record<string, string>, resources: Record<string, string> = {}): V1Pod {
  return {
    metadata: { name, annotations },
    spec: {
      restartPolicy: 'Never',
      containers: [{ name: 'main', image: 'busybox', resources: { requests: resources, limits: resources } }],
    },
  };
}

// These exercise hack/'s plane specifically: kwok nodes and our pod stages.
const describeLocal = onLocalPlane() ? describe : describe.skip;

describeLocal('local control plane', () => {
  let kc: KubeConfig;
  let core: CoreV1Api;
  let ns: string;

  beforeAll(async () => {
    kc = testKubeConfig();
    core = kc.makeApiClient(CoreV1Api);
    ns = await createTestNamespace(kc, 'smoke');
  });
  afterAll(async () => {
    await deleteNamespace(kc, ns);
  });

  it('serves the pinned Kubernetes version, stamped at build time', async () => {
    const info = await kc.makeApiClient(VersionApi).getCode();
    expect(info.gitVersion).toBe(versions.kubernetes);
    expect(info.minor).toBe(versions.kubernetes.split('.')[1]);
  });

  it('has simulated GPU and NPU nodes labelled with the resource tag', async () => {
    // Only the plane's own nodes: suites add simulated nodes of their own while they run.
    const nodes = (await core.listNode({ labelSelector: 'type=kwok' })).items.filter((n) => /^kwok-(cpu|gpu|npu)-\d+$/.test(n.metadata!.name!));
    const gpu = nodes.filter((n) => n.status?.allocatable?.['nvidia.com/gpu'] === '8');
    const npu = nodes.filter((n) => n.status?.allocatable?.['huawei.com/Ascend910'] === '8');
    expect(gpu.length).toBeGreaterThan(0);
    expect(npu.length).toBeGreaterThan(0);
    for (const n of [...gpu, ...npu]) expect(n.metadata?.labels?.[resourceTagKey]).toMatch(/^(gpu|npu)-/);
  });

  it('binds a pod requesting 2 GPUs to a GPU node and runs it to Succeeded', async () => {
    const report = '{"size":"12Gi","files":3}';
    await core.createNamespacedPod({ namespace: ns, body: pod('gpu-ok', sim('Succeed', { 'sim.octopus.openi.pcl.cn/message': report }), { 'nvidia.com/gpu': '2' }) });
    const done = await eventually('pod gpu-ok Succeeded', async () => {
      const p = await core.readNamespacedPod({ name: 'gpu-ok', namespace: ns });
      return p.status?.phase === 'Succeeded' ? p : undefined;
    });
    const node = await core.readNode({ name: done.spec!.nodeName! });
    expect(node.status?.allocatable?.['nvidia.com/gpu']).toBe('8');
    expect(done.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
    expect(done.status?.containerStatuses?.[0]?.state?.terminated?.message).toBe(report);
  });

  it('fails a pod annotated to fail, with its exit code and message', async () => {
    const annotations = sim('Fail', { 'sim.octopus.openi.pcl.cn/exit-code': '3', 'sim.octopus.openi.pcl.cn/message': 'disk full' });
    await core.createNamespacedPod({ namespace: ns, body: pod('cpu-fail', annotations, { cpu: '1' }) });
    const failed = await eventually('pod cpu-fail Failed', async () => {
      const p = await core.readNamespacedPod({ name: 'cpu-fail', namespace: ns });
      return p.status?.phase === 'Failed' ? p : undefined;
    });
    const terminated = failed.status?.containerStatuses?.[0]?.state?.terminated;
    expect(terminated?.exitCode).toBe(3);
    expect(terminated?.message).toBe('disk full');
  });

  it('keeps an unannotated pod running', async () => {
    await core.createNamespacedPod({ namespace: ns, body: pod('runner', {}, { cpu: '1' }) });
    await eventually('pod runner Running', async () => {
      const p = await core.readNamespacedPod({ name: 'runner', namespace: ns });
      return p.status?.phase === 'Running' ? p : undefined;
    });
    // Well past the 500ms outcome delay of the annotated pods: still running.
    await new Promise((r) => setTimeout(r, 2000));
    const p = await core.readNamespacedPod({ name: 'runner', namespace: ns });
    expect(p.status?.phase).toBe('Running');
  });

  it('lets the controller manager drive a batch/v1 Job to Complete', async () => {
    const batch = kc.makeApiClient(BatchV1Api);
    await batch.createNamespacedJob({
      namespace: ns,
      body: {
        metadata: { name: 'batch-ok' },
        spec: {
          completions: 2,
          parallelism: 2,
          backoffLimit: 0,
          template: pod('unused', sim('Succeed')) as never,
        },
      },
    });
    const job = await eventually(
      'batch Job Complete',
      async () => {
        const j = await batch.readNamespacedJob({ name: 'batch-ok', namespace: ns });
        return j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True') ? j : undefined;
      },
      60_000,
    );
    expect(job.status?.succeeded).toBe(2);
  });

  it('binds a claim of the default StorageClass, so pods mounting it schedule', async () => {
    await core.createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: { metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '5Gi' } } } },
    });
    const bound = await eventually('claim Bound', async () => {
      const c = await core.readNamespacedPersistentVolumeClaim({ name: 'data', namespace: ns });
      return c.status?.phase === 'Bound' ? c : undefined;
    });
    expect(bound.spec?.storageClassName).toBe('standard');
    expect(bound.status?.capacity?.storage).toBe('5Gi');
    const withVolume = pod('mounts', sim('Succeed'), { cpu: '1' });
    withVolume.spec!.volumes = [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }];
    withVolume.spec!.containers[0]!.volumeMounts = [{ name: 'data', mountPath: '/data' }];
    await core.createNamespacedPod({ namespace: ns, body: withVolume });
    await eventually('pod mounting the claim Succeeded', async () => {
      const p = await core.readNamespacedPod({ name: 'mounts', namespace: ns });
      return p.status?.phase === 'Succeeded' ? p : undefined;
    });
  });

  it('removes what a namespace held when it is deleted', async () => {
    const doomed = await createTestNamespace(kc, 'doomed');
    await core.createNamespacedPod({ namespace: doomed, body: pod('held', {}, { cpu: '1' }) });
    await core.createNamespacedConfigMap({ namespace: doomed, body: { metadata: { name: 'held' }, data: { a: 'b' } } });
    await eventually('pod held Running', async () => {
      const p = await core.readNamespacedPod({ name: 'held', namespace: doomed });
      return p.status?.phase === 'Running' ? p : undefined;
    });
    await core.deleteNamespace({ name: doomed });
    await eventually(
      `namespace ${doomed} gone`,
      async () => {
        try {
          await core.readNamespace({ name: doomed });
          return undefined;
        } catch (err) {
          return (err as { code?: number }).code === 404 ? true : undefined;
        }
      },
      60_000,
    );
    const pods = await core.listPodForAllNamespaces({ fieldSelector: `metadata.namespace=${doomed}` });
    expect(pods.items).toHaveLength(0);
  });
});
