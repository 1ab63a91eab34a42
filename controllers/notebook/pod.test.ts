import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { lastActivityAnnotation, type Notebook, type ResourcePool } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { Lookups, ResolvedReferences } from '../job/references.js';
import { buildNotebookPod, desiredHomeClaim, observeNotebookPod, resolveNotebookReferences, type NotebookAdmission } from './pod.js';

function makeNotebook(spec: Partial<Notebook['spec']> = {}): Notebook {
  return {
    apiVersion: 'octopus.openi.pcl.cn/v1alpha1',
    kind: 'Notebook',
    metadata: { name: 'dev', namespace: 'team-a', uid: 'uid-1', generation: 1 },
    spec: { image: { reference: 'jupyter:1' }, pool: 'gpu', resourceSpec: 'gpu-1x', ...spec },
  };
}

const admission: NotebookAdmission = { pool: 'gpu', admittedAt: '2026-01-01T00:00:00Z', resources: { 'nvidia.com/gpu': '1', cpu: '8', memory: '32Gi' }, shmSize: '8Gi', nodeSelector: { 'nvidia.com/gpu.product': 'A100' } };
const refs: ResolvedReferences = {
  image: 'registry.test/jupyter@sha256:abc',
  imagePullSecret: 'regcred',
  code: { configMapName: 'resnet-v1-files' },
  datasets: [{ name: 'imagenet', claimName: 'imagenet-v1', subPath: 'train' }],
  pretrainedModel: { claimName: 'resnet-base' },
  pool: { nodeSelector: { 'octopus.pcl.ac.cn/resource': 'gpu' }, tolerations: [{ key: 'gpu', operator: 'Exists' }] },
  specs: new Map(),
  lineage: { datasets: [] },
};

describe('buildNotebookPod', () => {
  const pod = buildNotebookPod({ notebook: makeNotebook({ env: [{ name: 'WANDB_MODE', value: 'offline' }], podMetadata: { labels: { team: 'vision' }, annotations: { a: 'b' } } }), admission, refs, runAsUser: 1000 });
  const c = pod.spec!.containers[0]!;

  it('has a stable name and the notebook label admission counts it by', () => {
    expect(pod.metadata).toEqual({
      name: 'dev-0',
      namespace: 'team-a',
      labels: { team: 'vision', 'octopus.openi.pcl.cn/notebook': 'dev', 'app.kubernetes.io/managed-by': 'octopus' },
      annotations: { a: 'b' },
      ownerReferences: [{ apiVersion: 'octopus.openi.pcl.cn/v1alpha1', kind: 'Notebook', name: 'dev', uid: 'uid-1', controller: true, blockOwnerDeletion: true }],
    });
  });

  it("mounts what a Job mounts, plus /userhome, with /model kept in the home claim", () => {
    expect(c.volumeMounts?.map((m) => [m.name, m.mountPath, m.readOnly ?? false, m.subPath])).toEqual([
      ['code', '/code', true, undefined],
      ['dataset-0', '/dataset/imagenet', true, 'train'],
      ['pretrainmodel', '/pretrainmodel', true, undefined],
      ['dshm', '/dev/shm', false, undefined],
      ['userhome', '/userhome', false, undefined],
      ['userhome', '/model', false, 'model'],
    ]);
    expect(pod.spec!.volumes?.find((v) => v.name === 'userhome')).toEqual({ name: 'userhome', persistentVolumeClaim: { claimName: 'dev-home' } });
    expect(pod.spec!.volumes?.find((v) => v.name === 'dshm')).toEqual({ name: 'dshm', emptyDir: { medium: 'Memory', sizeLimit: '8Gi' } });
  });

  it('takes resources and node labels from the frozen admission, placement from the pool', () => {
    expect(c.resources).toEqual({ requests: { cpu: '8', memory: '32Gi', 'nvidia.com/gpu': '1' }, limits: { memory: '32Gi', 'nvidia.com/gpu': '1' } });
    expect(pod.spec!.nodeSelector).toEqual({ 'octopus.pcl.ac.cn/resource': 'gpu', 'nvidia.com/gpu.product': 'A100' });
    expect(pod.spec!.tolerations).toEqual([{ key: 'gpu', operator: 'Exists' }]);
    expect(pod.spec!.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(pod.spec!.schedulerName).toBeUndefined();
  });

  it("keeps the admission's size when the spec asks for more, and runs under the pool's scheduler", () => {
    const grown = makeNotebook({ resourceSpec: undefined, resources: { requests: { 'nvidia.com/gpu': 8, cpu: 64 } } });
    const p = buildNotebookPod({ notebook: grown, admission, refs: { ...refs, pool: { ...refs.pool, schedulerName: 'volcano' } }, runAsUser: 1000 });
    expect(p.spec!.containers[0]!.resources?.requests).toEqual({ cpu: '8', memory: '32Gi', 'nvidia.com/gpu': '1' });
    expect(p.spec!.schedulerName).toBe('volcano');
  });

  it('runs JupyterLab restricted, restarting in place, with its home and port in the environment', () => {
    expect(pod.spec).toMatchObject({ restartPolicy: 'Always', automountServiceAccountToken: false, enableServiceLinks: false });
    expect(pod.spec!.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.ports).toEqual([{ name: 'http', containerPort: 8888 }]);
    expect(c.env).toEqual([
      { name: 'OCTOPUS_NOTEBOOK_NAME', value: 'dev' },
      { name: 'OCTOPUS_NAMESPACE', value: 'team-a' },
      { name: 'HOME', value: '/userhome' },
      { name: 'NB_PREFIX', value: '/' },
      { name: 'JUPYTER_PORT', value: '8888' },
      { name: 'WANDB_MODE', value: 'offline' },
    ]);
  });

  it('serves under the ingress path', () => {
    const behind = buildNotebookPod({ notebook: makeNotebook({ ingress: { enabled: true, path: '/alice' } }), admission, refs, runAsUser: 1000 });
    expect(behind.spec!.containers[0]!.env).toContainEqual({ name: 'NB_PREFIX', value: '/alice' });
  });
});

describe('desiredHomeClaim', () => {
  it.each([
    { name: "the controller's defaults", spec: {}, wantSize: '10Gi', wantClass: undefined },
    { name: 'the notebook\'s homeStorage', spec: { homeStorage: { size: '50Gi', storageClassName: 'fast' } }, wantSize: '50Gi', wantClass: 'fast' },
  ])('sizes the claim from $name', ({ spec, wantSize, wantClass }) => {
    const claim = desiredHomeClaim(makeNotebook(spec), { importStorageSize: '10Gi', importStorageClass: '' });
    expect(claim.metadata?.name).toBe('dev-home');
    expect(claim.spec).toEqual({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: wantSize } }, ...(wantClass ? { storageClassName: wantClass } : {}) });
    expect(claim.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'Notebook', name: 'dev', controller: true });
  });
});

describe('observeNotebookPod', () => {
  const base: V1Pod = { metadata: { name: 'dev-0', annotations: { [lastActivityAnnotation]: '2026-01-01T00:00:00Z' } }, spec: { containers: [], nodeName: 'n1' }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } };

  it.each([
    { name: 'a ready pod with its reported activity', pod: base, ours: true, want: { phase: 'Running', ready: true, terminating: false, node: 'n1', lastActivity: '2026-01-01T00:00:00Z' } },
    { name: "another notebook's pod of the same name is not this run's", pod: base, ours: false, want: { terminating: true } },
    { name: 'a pod being deleted', pod: { ...base, metadata: { ...base.metadata, deletionTimestamp: new Date() } }, ours: true, want: { terminating: true } },
    {
      name: 'a failed pod with the reason it ended',
      pod: { ...base, status: { phase: 'Failed', containerStatuses: [{ name: 'notebook', image: 'x', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 137, reason: 'OOMKilled' } } }] } },
      ours: true,
      want: { phase: 'Failed', ready: false, message: 'OOMKilled' },
    },
  ])('$name', ({ pod, ours, want }) => {
    expect(observeNotebookPod(pod, ours)).toMatchObject(want);
  });
});

describe('resolveNotebookReferences', () => {
  it('resolves the admitted pool while the notebook holds a reservation, else the one its spec names', () => {
    const pools = new Map([
      ['gpu', { metadata: { name: 'gpu' }, spec: {} } as ResourcePool],
      ['cpu', { metadata: { name: 'cpu' }, spec: { schedulerName: 'volcano' } } as ResourcePool],
    ]);
    const lookups: Lookups = { image: () => undefined, dataset: () => undefined, algorithm: () => undefined, model: () => undefined, pool: (n) => pools.get(n), spec: () => undefined, workspace: () => undefined };
    const swapped = makeNotebook({ pool: 'gpu', resourceSpec: undefined, resources: { requests: { cpu: 1 } } });
    const tag = { key: 'k', valuePrefix: '' };
    const admitted = resolveNotebookReferences({ ...swapped, status: { admission: { ...admission, pool: 'cpu' } } }, lookups, tag);
    expect(admitted.ok && admitted.refs.pool).toEqual({ nodeSelector: { k: 'cpu' }, tolerations: [], schedulerName: 'volcano' });
    const pending = resolveNotebookReferences(swapped, lookups, tag);
    expect(pending.ok && pending.refs.pool).toEqual({ nodeSelector: { k: 'gpu' }, tolerations: [] });
  });

  it('needs a pool that accepts notebooks', () => {
    const pool = { metadata: { name: 'gpu' }, spec: { jobTypes: ['Train', 'Serving'] } } as ResourcePool;
    const lookups: Lookups = { image: () => undefined, dataset: () => undefined, algorithm: () => undefined, model: () => undefined, pool: () => pool, spec: () => undefined, workspace: () => undefined };
    expect(resolveNotebookReferences(makeNotebook({ resourceSpec: undefined, resources: { requests: { cpu: 1 } } }), lookups, { key: 'k', valuePrefix: '' })).toEqual({
      ok: false,
      reason: 'PoolNotForNotebooks',
      message: 'ResourcePool gpu does not accept notebooks (jobTypes: Train, Serving)',
    });
  });
});
