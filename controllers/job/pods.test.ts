import { describe, expect, it } from '@jest/globals';
import type { Job } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { parseResources } from '../../apis/quantity.js';
import type { PodSet } from '../admission/gang.js';
import { buildMpiConfigMap, buildPods, buildService, labels, needsService, type ResolvedJob } from './pods.js';

const gpuSet = (task: string, count: number, gpus = 1): PodSet => ({ task, count, requests: parseResources({ 'nvidia.com/gpu': gpus, cpu: 8, memory: '64Gi' }), shmSize: 16n * 1024n ** 3n * 1000n });

function makeJob(distribution: Job['spec']['distribution'], tasks: Job['spec']['tasks']): Job {
  return {
    apiVersion: 'octopus.openi.pcl.cn/v1alpha1',
    kind: 'Job',
    metadata: { name: 'resnet', namespace: 'team-a', uid: 'uid-1' },
    spec: { image: { name: 'pytorch' }, pool: 'gpu-a100', distribution, tasks },
  };
}

function resolved(job: Job, podSets: PodSet[], extra: Partial<ResolvedJob> = {}): ResolvedJob {
  return {
    job,
    attempt: 2,
    podSets,
    image: 'docker.io/pytorch/pytorch:2.4.0',
    datasets: [],
    pool: { nodeSelector: { 'octopus.pcl.ac.cn/resource': 'gpu-a100' }, tolerations: [] },
    runAsUser: 1000,
    ...extra,
  };
}

const env = (pod: ReturnType<typeof buildPods>[number]) => Object.fromEntries((pod.spec!.containers[0]!.env ?? []).map((e) => [e.name, e.value]));

describe('buildPods', () => {
  it('names, labels and owns every pod of the gang deterministically', () => {
    const job = makeJob('None', [{ name: 'worker', replicas: 2, resourceSpec: 'gpu-1x' }]);
    const pods = buildPods(resolved(job, [gpuSet('worker', 2)]));
    expect(pods.map((p) => p.metadata!.name)).toEqual(['resnet-worker-0', 'resnet-worker-1']);
    expect(pods[1]!.metadata!.labels).toMatchObject({ [labels.job]: 'resnet', [labels.task]: 'worker', [labels.index]: '1', [labels.attempt]: '2' });
    expect(pods[0]!.metadata!.ownerReferences).toEqual([
      { apiVersion: 'octopus.openi.pcl.cn/v1alpha1', kind: 'Job', name: 'resnet', uid: 'uid-1', controller: true, blockOwnerDeletion: true },
    ]);
    expect(pods[0]!.spec!.hostname).toBe('resnet-worker-0');
    expect(pods[0]!.spec!.subdomain).toBe('resnet');
    expect(pods[0]!.spec!.restartPolicy).toBe('Never');
  });

  it.each([
    { name: 'worker 0 is rank 0 without a master task', tasks: [['worker', 4]] as const, pod: 'resnet-worker-0', wantRank: '0', wantMaster: 'resnet-worker-0.resnet' },
    { name: 'worker 3 is rank 3', tasks: [['worker', 4]] as const, pod: 'resnet-worker-3', wantRank: '3', wantMaster: 'resnet-worker-0.resnet' },
    { name: 'a master task takes rank 0 wherever it is listed', tasks: [['worker', 2], ['master', 1]] as const, pod: 'resnet-worker-0', wantRank: '1', wantMaster: 'resnet-master-0.resnet' },
  ])('PyTorch: $name', ({ tasks, pod, wantRank, wantMaster }) => {
    const job = makeJob('PyTorch', tasks.map(([name, replicas]) => ({ name, replicas, resourceSpec: 'gpu-1x' })));
    const pods = buildPods(resolved(job, tasks.map(([name, n]) => gpuSet(name, n, 2))));
    const e = env(pods.find((p) => p.metadata!.name === pod)!);
    const world = String(tasks.reduce((n, [, c]) => n + c, 0));
    expect(e).toMatchObject({ RANK: wantRank, WORLD_SIZE: world, MASTER_ADDR: wantMaster, MASTER_PORT: '23456', PET_NODE_RANK: wantRank, PET_NNODES: world, PET_NPROC_PER_NODE: '2' });
  });

  it('TensorFlow: TF_CONFIG lists the training cluster and the pod\'s own role', () => {
    const job = makeJob('TensorFlow', [
      { name: 'chief', resourceSpec: 'gpu-1x' },
      { name: 'ps', replicas: 2, resourceSpec: 'cpu' },
      { name: 'worker', replicas: 2, resourceSpec: 'gpu-1x' },
      { name: 'evaluator', resourceSpec: 'gpu-1x' },
    ]);
    const pods = buildPods(resolved(job, [gpuSet('chief', 1), gpuSet('ps', 2, 0), gpuSet('worker', 2), gpuSet('evaluator', 1)]));
    const tf = JSON.parse(env(pods.find((p) => p.metadata!.name === 'resnet-worker-1')!).TF_CONFIG!);
    expect(tf).toEqual({
      cluster: {
        chief: ['resnet-chief-0.resnet:2222'],
        ps: ['resnet-ps-0.resnet:2222', 'resnet-ps-1.resnet:2222'],
        worker: ['resnet-worker-0.resnet:2222', 'resnet-worker-1.resnet:2222'],
      },
      task: { type: 'worker', index: 1 },
      environment: 'cloud',
    });
  });

  it('MPI: a hostfile with one line per worker and slots per device, mounted in every pod', () => {
    const job = makeJob('MPI', [
      { name: 'launcher', resources: { requests: { cpu: 1 } } },
      { name: 'worker', replicas: 2, resourceSpec: 'gpu-8x' },
    ]);
    const sets = [{ task: 'launcher', count: 1, requests: parseResources({ cpu: 1 }) }, gpuSet('worker', 2, 8)];
    expect(buildMpiConfigMap(job, sets).data!.hostfile).toBe('resnet-worker-0.resnet slots=8\nresnet-worker-1.resnet slots=8\n');
    const launcher = buildPods(resolved(job, sets))[0]!;
    expect(launcher.spec!.containers[0]!.volumeMounts).toContainEqual({ name: 'mpi-hostfile', mountPath: '/etc/mpi', readOnly: true });
    expect(env(launcher).OMPI_MCA_orte_default_hostfile).toBe('/etc/mpi/hostfile');
  });

  it('mounts code, datasets read-only, the pretrained model, /model and /dev/shm', () => {
    const job = makeJob('None', [{ name: 'worker', resourceSpec: 'gpu-1x' }]);
    const pod = buildPods(
      resolved(job, [gpuSet('worker', 1)], {
        code: { claimName: 'resnet-v2', subPath: 'src' },
        datasets: [{ name: 'imagenet', claimName: 'imagenet-v1' }],
        pretrainedModel: { claimName: 'bert-v1' },
        outputClaim: 'resnet-output',
      }),
    )[0]!;
    const mounts = Object.fromEntries(pod.spec!.containers[0]!.volumeMounts!.map((m) => [m.mountPath, m]));
    expect(mounts['/code']).toMatchObject({ readOnly: true, subPath: 'src' });
    expect(mounts['/dataset/imagenet']).toMatchObject({ readOnly: true });
    expect(mounts['/pretrainmodel']).toMatchObject({ readOnly: true });
    expect(mounts['/model']).toMatchObject({ readOnly: false });
    expect(mounts['/dev/shm']).toBeDefined();
    const dshm = pod.spec!.volumes!.find((v) => v.name === 'dshm')!;
    expect(dshm.emptyDir).toEqual({ medium: 'Memory', sizeLimit: '16Gi' });
    expect(pod.spec!.containers[0]!.workingDir).toBe('/code');
  });

  it('runs restricted: non-root, no privilege escalation, no capabilities, no service account token', () => {
    const pod = buildPods(resolved(makeJob('None', [{ name: 'w', resourceSpec: 'x' }]), [gpuSet('w', 1)]))[0]!;
    expect(pod.spec!.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.spec!.containers[0]!.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true });
    expect(pod.spec!.automountServiceAccountToken).toBe(false);
  });

  it('sets limits equal to requests for memory and devices, none for CPU', () => {
    const pod = buildPods(resolved(makeJob('None', [{ name: 'w', resourceSpec: 'x' }]), [gpuSet('w', 1)]))[0]!;
    expect(pod.spec!.containers[0]!.resources).toEqual({
      requests: { cpu: '8', memory: '64Gi', 'nvidia.com/gpu': '1' },
      limits: { memory: '64Gi', 'nvidia.com/gpu': '1' },
    });
  });

  it('merges the pool and device node selectors, passes user pod metadata through', () => {
    const job = makeJob('None', [{ name: 'w', resourceSpec: 'x', podMetadata: { labels: { team: 'vision', [labels.job]: 'spoofed' }, annotations: { a: 'b' } } }]);
    const pod = buildPods(resolved(job, [{ ...gpuSet('w', 1), nodeSelector: { accelerator: 'a100' } }]))[0]!;
    expect(pod.spec!.nodeSelector).toEqual({ 'octopus.pcl.ac.cn/resource': 'gpu-a100', accelerator: 'a100' });
    expect(pod.spec!.schedulerName).toBeUndefined();
    // Our labels win: a user cannot make a pod look like another job's.
    expect(pod.metadata!.labels).toMatchObject({ team: 'vision', [labels.job]: 'resnet' });
    expect(pod.metadata!.annotations).toEqual({ a: 'b' });
  });

  it("runs under the pool's scheduler, the only place one comes from", () => {
    const job = makeJob('None', [{ name: 'w', resourceSpec: 'x' }]);
    const pool = { nodeSelector: { 'octopus.pcl.ac.cn/resource': 'gpu-a100' }, tolerations: [{ key: 'gpu', operator: 'Exists' }], schedulerName: 'volcano' };
    const pod = buildPods(resolved(job, [gpuSet('w', 1)], { pool }))[0]!;
    expect(pod.spec).toMatchObject({ schedulerName: 'volcano', tolerations: [{ key: 'gpu', operator: 'Exists' }] });
  });

  it('sizes pods from the admitted pod sets, whatever the tasks say now', () => {
    // The task asks for more than was admitted (an edit the webhook refuses while admitted): the pods keep the admission.
    const job = makeJob('None', [{ name: 'w', replicas: 8, resources: { requests: { 'nvidia.com/gpu': 8, cpu: 64 } }, shmSize: '1Ti' }]);
    const pods = buildPods(resolved(job, [gpuSet('w', 1)]));
    expect(pods).toHaveLength(1);
    expect(pods[0]!.spec!.containers[0]!.resources?.requests).toEqual({ cpu: '8', memory: '64Gi', 'nvidia.com/gpu': '1' });
    expect(pods[0]!.spec!.volumes?.find((v) => v.name === 'dshm')?.emptyDir).toEqual({ medium: 'Memory', sizeLimit: '16Gi' });
  });
});

describe('needsService', () => {
  it.each([
    ['one pod, no distribution', 'None', [gpuSet('main', 1)], false],
    ['two pods, no distribution (peers may still dial each other)', 'None', [gpuSet('main', 2)], true],
    ['one pod in each of two tasks', 'None', [gpuSet('a', 1), gpuSet('b', 1)], true],
    ['one PyTorch pod (MASTER_ADDR names it)', 'PyTorch', [gpuSet('worker', 1)], true],
    ['one MPI launcher and workers', 'MPI', [gpuSet('launcher', 1), gpuSet('worker', 2)], true],
  ] as const)('%s', (_what, distribution, podSets, expected) => {
    expect(needsService(distribution, podSets)).toBe(expected);
  });
});

describe('buildService', () => {
  it('is headless and publishes not-ready pods for rendezvous', () => {
    const svc = buildService(makeJob('PyTorch', [{ name: 'w', resourceSpec: 'x' }]));
    expect(svc.metadata!.name).toBe('resnet');
    expect(svc.spec).toEqual({ clusterIP: 'None', selector: { [labels.job]: 'resnet' }, publishNotReadyAddresses: true });
  });
});
