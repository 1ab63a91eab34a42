import { describe, expect, it } from '@jest/globals';
import type { V1Deployment } from '@kubernetes/client-node';
import type { Image, Model, ModelService, ResourcePool, ResourceSpec } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { Lookups } from '../job/references.js';
import { desiredDeployment, modelVersionAnnotation, quantityEquivalent, resolveServing, servedVersion, servingEvents, servingStatus, type ResolvedServing, type ServingAdmission } from './serving.js';

const tag = { key: 'octopus.pcl.ac.cn/resource', valuePrefix: '' };
const now = Date.parse('2026-01-01T00:00:00Z');

const admission: ServingAdmission = {
  pool: 'cpu',
  admittedAt: '2026-11-28T09:00:00Z',
  replicas: 10,
  resources: { cpu: '2', memory: '8Gi', 'nvidia.com/gpu': '1' },
  total: { cpu: '20', memory: '80Gi', 'nvidia.com/gpu': '10' },
};

function makeService(spec: Partial<ModelService['spec']> = {}, status?: ModelService['status']): ModelService {
  return {
    apiVersion: 'octopus.openi.pcl.cn/v1alpha1',
    kind: 'ModelService',
    metadata: { name: 'resnet', namespace: 'team-a', uid: 'uid-ms', generation: 3 },
    spec: { model: { name: 'resnet50', version: 'v2' }, image: { reference: 'registry.test/serve:1' }, pool: 'cpu', resources: { requests: { cpu: 2 } }, ...spec },
    status: { admission, ...status },
  };
}

const model: Model = {
  apiVersion: 'octopus.openi.pcl.cn/v1alpha1',
  kind: 'Model',
  metadata: { name: 'resnet50', namespace: 'team-a' },
  spec: {},
  status: {
    versions: [
      { name: 'v1', phase: 'Ready', claimName: 'train-1-output', origin: 'Job' },
      { name: 'v2', phase: 'Ready', claimName: 'train-2-output', origin: 'Job' },
      { name: 'v3', phase: 'Pending', origin: 'Job' },
    ],
  },
} as Model;

function lookups(extra: Partial<Lookups> = {}): Lookups {
  return {
    image: () => undefined,
    dataset: () => undefined,
    algorithm: () => undefined,
    model: (ns, name) => (ns === 'team-a' && name === 'resnet50' ? model : undefined),
    pool: () => undefined,
    spec: () => undefined,
    workspace: () => undefined,
    ...extra,
  };
}

const pool = (jobTypes?: ResourcePool['spec']['jobTypes']): ResourcePool => ({ apiVersion: 'octopus.openi.pcl.cn/v1alpha1', kind: 'ResourcePool', metadata: { name: 'cpu' }, spec: { ...(jobTypes ? { jobTypes } : {}), tolerations: [{ key: 'dedicated', operator: 'Exists' }] } });
const cpuSpec: ResourceSpec = { apiVersion: 'octopus.openi.pcl.cn/v1alpha1', kind: 'ResourceSpec', metadata: { name: 'cpu-4c' }, spec: { resources: { requests: { cpu: 4, memory: '16Gi' } }, shmSize: '1Gi', pools: ['cpu'] } };

describe('resolveServing', () => {
  it.each([
    { name: 'an unknown model', spec: { model: { name: 'nope', version: 'v1' } }, wantReason: 'ModelNotFound', wantMessage: 'asset team-a/nope not found' },
    { name: 'a version no Job produced', spec: { model: { name: 'resnet50', version: 'v9' } }, wantReason: 'VersionNotReady', wantMessage: 'Model team-a/resnet50 has no version v9' },
    { name: 'a version still importing', spec: { model: { name: 'resnet50', version: 'v3' } }, wantReason: 'VersionNotReady', wantMessage: 'Model team-a/resnet50 version v3 is Pending' },
    { name: 'a model in another namespace', spec: { model: { name: 'resnet50', namespace: 'shared', version: 'v1' } }, wantReason: 'ModelNotFound', wantMessage: 'asset shared/resnet50 not found' },
    { name: 'a pool that does not serve', spec: { pool: 'cpu' }, pools: pool(['Train']), wantReason: 'PoolNotForServing', wantMessage: 'ResourcePool cpu does not accept model services (jobTypes: Train)' },
    { name: 'an Image that is not Ready', spec: { image: { name: 'triton' } }, wantReason: 'ImageNotReady', wantMessage: 'Image team-a/triton is not Ready (Building)' },
  ])('waits with a reason for $name', ({ spec, pools, wantReason, wantMessage }) => {
    const image = { metadata: { name: 'triton', namespace: 'team-a' }, spec: {}, status: { phase: 'Building' } } as unknown as Image;
    const r = resolveServing(makeService(spec), lookups({ pool: () => pools, image: () => image }), tag);
    expect(r).toEqual({ ok: false, reason: wantReason, message: wantMessage });
  });

  it('a Public model of another namespace resolves to its claim there, to be shared into this one', () => {
    const shared = { ...model, metadata: { name: 'resnet50', namespace: 'shared' }, spec: { visibility: 'Public' } } as Model;
    const r = resolveServing(makeService({ model: { name: 'resnet50', namespace: 'shared', version: 'v1' } }), lookups({ model: () => shared, pool: () => pool() }), tag);
    expect(r).toMatchObject({ ok: true, refs: { model: { claimName: 'train-1-output', claimNamespace: 'shared' }, version: 'v1' } });
  });

  it('resolves the version claim, the pool and the ResourceSpec', () => {
    const r = resolveServing(makeService({ pool: 'cpu', resourceSpec: 'cpu-4c', resources: undefined }), lookups({ pool: () => pool(['Serving']), spec: () => cpuSpec }), tag);
    expect(r).toEqual({
      ok: true,
      refs: {
        image: 'registry.test/serve:1',
        model: { claimName: 'train-2-output' },
        version: 'v2',
        pool: { nodeSelector: { 'octopus.pcl.ac.cn/resource': 'cpu' }, tolerations: [{ key: 'dedicated', operator: 'Exists' }] },
      },
    });
  });
});

const resolved: ResolvedServing = { image: 'registry.test/serve:1', model: { claimName: 'train-2-output', subPath: 'onnx' }, version: 'v2', pool: { nodeSelector: { pool: 'cpu' }, tolerations: [] } };

describe('desiredDeployment', () => {
  it('mounts the version read-only at /model and marks the template with it, so a new version rolls the pods', () => {
    const d = desiredDeployment(makeService({ podMetadata: { annotations: { 'example.com/owner': 'vision' }, labels: { team: 'vision' } } }), resolved, admission, 1000);
    const template = d.spec!.template;
    expect(template.metadata).toEqual({
      labels: { team: 'vision', 'octopus.openi.pcl.cn/modelservice': 'resnet', 'app.kubernetes.io/managed-by': 'octopus' },
      annotations: { 'example.com/owner': 'vision', [modelVersionAnnotation]: 'v2' },
    });
    expect(d.spec!.selector).toEqual({ matchLabels: { 'octopus.openi.pcl.cn/modelservice': 'resnet' } });
    expect(template.spec!.volumes?.[0]).toEqual({ name: 'model', persistentVolumeClaim: { claimName: 'train-2-output', readOnly: true } });
    const c = template.spec!.containers[0]!;
    expect(c.volumeMounts).toEqual([
      { name: 'model', mountPath: '/model', readOnly: true, subPath: 'onnx' },
      { name: 'dshm', mountPath: '/dev/shm' },
    ]);
    expect(c.env?.slice(0, 3)).toEqual([
      { name: 'OCTOPUS_MODEL_NAME', value: 'resnet50' },
      { name: 'OCTOPUS_MODEL_VERSION', value: 'v2' },
      { name: 'OCTOPUS_MODEL_PATH', value: '/model' },
    ]);
    // The admitted requests, whatever the spec says now; memory and devices are limited like them.
    expect(c.resources).toEqual({ requests: { cpu: '2', memory: '8Gi', 'nvidia.com/gpu': '1' }, limits: { memory: '8Gi', 'nvidia.com/gpu': '1' } });
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true });
    expect(d.metadata?.ownerReferences).toEqual([{ apiVersion: 'octopus.openi.pcl.cn/v1alpha1', kind: 'ModelService', name: 'resnet', uid: 'uid-ms', controller: true, blockOwnerDeletion: true }]);
  });

  it.each([
    { name: 'an HTTP readiness path', spec: { readinessPath: '/ping', port: 9000 }, wantProbe: { httpGet: { path: '/ping', port: 'http' } }, wantPort: 9000 },
    { name: 'no readiness path: the TCP port', spec: {}, wantProbe: { tcpSocket: { port: 'http' } }, wantPort: 8080 },
  ])('probes readiness through $name', ({ spec, wantProbe, wantPort }) => {
    const c = desiredDeployment(makeService(spec), resolved, admission, 1000).spec!.template.spec!.containers[0]!;
    expect(c.readinessProbe).toEqual(wantProbe);
    expect(c.ports).toEqual([{ name: 'http', containerPort: wantPort }]);
  });

  it.each([
    { name: 'replicas as asked', spec: { replicas: 3 }, status: {}, want: 3 },
    { name: 'one by default', spec: {}, status: {}, want: 1 },
    { name: 'none while suspended', spec: { replicas: 3, suspend: true }, status: {}, want: 0 },
    { name: 'no more than admitted while a scale-up waits', spec: { replicas: 12 }, status: {}, want: 10 },
    { name: 'none once the reservation is released', spec: { replicas: 3 }, status: { admission: { ...admission, replicas: 0 } }, want: 0 },
  ])('runs $name', ({ spec, status, want }) => {
    expect(desiredDeployment(makeService(spec, status), resolved, admission, 1000).spec!.replicas).toBe(want);
  });

  it("places the pods in the admitted pool, with the device labels admission froze and the pool's scheduler", () => {
    const placed = { ...resolved, pool: { nodeSelector: { pool: 'gpu' }, tolerations: [{ key: 'k', operator: 'Exists' }], schedulerName: 'volcano' }, imagePullSecret: 'regcred' };
    const pod = desiredDeployment(makeService({ pool: 'cpu' }), placed, { ...admission, nodeSelector: { accelerator: 'a100' } }, 1000).spec!.template.spec!;
    expect(pod.nodeSelector).toEqual({ pool: 'gpu', accelerator: 'a100' });
    expect(pod.tolerations).toEqual([{ key: 'k', operator: 'Exists' }]);
    expect(pod.schedulerName).toBe('volcano');
    expect(pod.imagePullSecrets).toEqual([{ name: 'regcred' }]);
  });
});

describe('quantityEquivalent', () => {
  it.each([
    { desired: '1000000000', actual: '1G', path: ['resources', 'requests', 'memory'], want: true },
    { desired: '1000m', actual: '1', path: ['resources', 'limits', 'cpu'], want: true },
    { desired: '1Gi', actual: '1G', path: ['resources', 'requests', 'memory'], want: false },
    { desired: '1Gi', actual: '1073741824', path: ['emptyDir', 'sizeLimit'], want: true },
    // Outside quantities, "1" and "1000m" are different strings.
    { desired: '1000m', actual: '1', path: ['env', '0', 'value'], want: false },
    { desired: 'lots', actual: '1', path: ['resources', 'requests', 'cpu'], want: false },
  ])('$desired vs $actual at $path: $want', ({ desired, actual, path, want }) => {
    expect(quantityEquivalent(desired, actual, path)).toBe(want);
  });
});

function deployment(opts: { version: string; generation?: number; observed?: number; replicas?: number; updated?: number; total?: number; ready?: number; available?: number; conditions?: { type: string; status: string; reason?: string; message?: string }[] }): V1Deployment {
  const replicas = opts.replicas ?? 2;
  return {
    metadata: { name: 'resnet', generation: opts.generation ?? 4 },
    spec: { replicas, selector: {}, template: { metadata: { annotations: { [modelVersionAnnotation]: opts.version } } } },
    status: {
      observedGeneration: opts.observed ?? opts.generation ?? 4,
      replicas: opts.total ?? replicas,
      updatedReplicas: opts.updated ?? replicas,
      readyReplicas: opts.ready ?? replicas,
      availableReplicas: opts.available ?? opts.ready ?? replicas,
      conditions: opts.conditions ?? [{ type: 'Available', status: 'True' }, { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }],
    },
  } as V1Deployment;
}

describe('servedVersion', () => {
  it.each([
    { name: 'a finished rollout serves the template version', d: deployment({ version: 'v2' }), want: 'v2' },
    { name: 'a spec not yet observed', d: deployment({ version: 'v2', generation: 5, observed: 4 }), want: undefined },
    { name: 'old pods still running', d: deployment({ version: 'v2', total: 3, updated: 1 }), want: undefined },
    { name: 'new pods not yet available', d: deployment({ version: 'v2', available: 1 }), want: undefined },
    { name: 'no Deployment', d: undefined, want: undefined },
  ])('$name', ({ d, want }) => {
    expect(servedVersion(d)).toBe(want);
  });
});

describe('servingStatus', () => {
  const ok = { ok: true } as const;
  const url = 'http://resnet.team-a.svc/';
  const available = (ms: ModelService) => ms.status?.conditions?.find((c) => c.type === 'Available');

  it.each([
    { name: 'Available once pods are ready', spec: {}, d: deployment({ version: 'v2' }), wantPhase: 'Available', wantReason: 'ReplicasReady', wantVersion: 'v2' },
    { name: 'Preparing while no pod is ready', spec: {}, d: deployment({ version: 'v2', ready: 0, conditions: [{ type: 'Available', status: 'False' }] }), wantPhase: 'Preparing', wantReason: 'Progressing', wantVersion: undefined },
    { name: 'Preparing before the Deployment exists', spec: {}, d: undefined, wantPhase: 'Preparing', wantReason: 'Progressing', wantVersion: undefined },
    { name: 'Preparing, waiting for admission', spec: {}, d: undefined, status: { admission: undefined }, wantPhase: 'Preparing', wantReason: 'WaitingForAdmission', wantVersion: undefined },
    {
      name: 'Failed when the rollout made no progress',
      spec: {},
      d: deployment({ version: 'v2', ready: 0, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "resnet-5f" has timed out progressing.' }] }),
      wantPhase: 'Failed',
      wantReason: 'ProgressDeadlineExceeded',
      wantVersion: undefined,
    },
    { name: 'Stopped when suspended', spec: { suspend: true }, d: deployment({ version: 'v2', replicas: 0, ready: 0 }), wantPhase: 'Stopped', wantReason: 'Suspended', wantVersion: undefined },
    { name: 'Stopped at zero replicas', spec: { replicas: 0 }, d: deployment({ version: 'v2', replicas: 0, ready: 0 }), wantPhase: 'Stopped', wantReason: 'ScaledToZero', wantVersion: undefined },
  ])('$name', ({ spec, d, status: before, wantPhase, wantReason, wantVersion }: { spec: Partial<ModelService['spec']>; d: V1Deployment | undefined; status?: ModelService['status']; wantPhase: string; wantReason: string; wantVersion: string | undefined }) => {
    const status = servingStatus(makeService(spec, before), { refs: ok, ...(d ? { deployment: d } : {}), url }, now);
    expect(status.phase).toBe(wantPhase);
    expect(available({ ...makeService(), status })?.reason).toBe(wantReason);
    expect(status.modelVersion).toBe(wantVersion);
    expect(status).toMatchObject({ observedGeneration: 3, url, labels: { 'octopus.openi.pcl.cn/modelservice': 'resnet' } });
  });

  it('keeps reporting the version still served while a rollout to the next one is under way', () => {
    const rolling = deployment({ version: 'v3', total: 3, updated: 1, ready: 2 });
    const status = servingStatus(makeService({}, { modelVersion: 'v2' }), { refs: ok, deployment: rolling, url }, now);
    expect(status).toMatchObject({ phase: 'Available', modelVersion: 'v2', readyReplicas: 2, replicas: 3 });
  });

  it('a broken reference keeps the running Deployment serving, and says why', () => {
    const refs = { ok: false, reason: 'VersionNotReady', message: 'Model team-a/resnet50 has no version v9' } as const;
    const status = servingStatus(makeService({}, { modelVersion: 'v2' }), { refs, deployment: deployment({ version: 'v2' }), url }, now);
    expect(status.phase).toBe('Available');
    expect(status.conditions?.find((c) => c.type === 'ReferencesResolved')).toMatchObject({ status: 'False', reason: 'VersionNotReady', message: refs.message });
  });

  it('a child it could not write fails the service with that reason', () => {
    const status = servingStatus(makeService(), { refs: ok, problem: { reason: 'NameConflict', message: 'Service resnet exists and is not owned by ModelService resnet' }, url }, now);
    expect(status.phase).toBe('Failed');
    expect(available({ ...makeService(), status })).toMatchObject({ reason: 'NameConflict', message: 'Service resnet exists and is not owned by ModelService resnet' });
  });

  it('is stable: the same observation yields the same status, so nothing is written', () => {
    const first = servingStatus(makeService(), { refs: ok, deployment: deployment({ version: 'v2' }), url }, now);
    const again = servingStatus(makeService({}, first), { refs: ok, deployment: deployment({ version: 'v2' }), url }, now + 60_000);
    expect(again).toEqual(first);
  });
});

describe('servingEvents', () => {
  it.each([
    { name: 'becoming Available', before: { phase: 'Preparing' as const }, after: { phase: 'Available' as const, modelVersion: 'v2' }, want: [{ type: 'Normal', reason: 'Available', note: 'serving resnet50 version v2: ' }] },
    { name: 'a new version served', before: { phase: 'Available' as const, modelVersion: 'v1' }, after: { phase: 'Available' as const, modelVersion: 'v2' }, want: [{ type: 'Normal', reason: 'RolledOut', note: 'now serving version v2 (was v1)' }] },
    { name: 'nothing changed', before: { phase: 'Available' as const, modelVersion: 'v2' }, after: { phase: 'Available' as const, modelVersion: 'v2' }, want: [] },
    { name: 'stopping', before: { phase: 'Available' as const }, after: { phase: 'Stopped' as const }, want: [{ type: 'Normal', reason: 'Stopped', note: '' }] },
  ])('$name', ({ before, after, want }) => {
    expect(servingEvents(makeService(), before, after)).toEqual(want);
  });
});
