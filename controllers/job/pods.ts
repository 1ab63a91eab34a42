/**
 * The children of an admitted Job attempt — pods, the headless Service, the MPI hostfile —
 * as pure functions of the Job, its frozen admission and its resolved references. Pure so
 * the layout users depend on (names, env, mounts) is pinned down by table tests.
 */
import type { V1ConfigMap, V1Container, V1EnvVar, V1OwnerReference, V1Pod, V1PodSecurityContext, V1SecurityContext, V1Service, V1Toleration, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { Distribution, Job } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { formatResources, isDeviceResource, type Resources } from '../../apis/quantity.js';
import type { PodSet } from '../admission/gang.js';

export const labels = {
  job: 'octopus.openi.pcl.cn/job',
  task: 'octopus.openi.pcl.cn/task',
  index: 'octopus.openi.pcl.cn/index',
  attempt: 'octopus.openi.pcl.cn/attempt',
  managedBy: 'app.kubernetes.io/managed-by',
} as const;

export const ports = { pytorch: 23456, tensorflow: 2222 } as const;
export const mpiHostfileDir = '/etc/mpi';

/** A claim (or ConfigMap) holding content, with the path inside it. */
export interface Mount {
  claimName?: string;
  /** Set when the claim is another namespace's (a Public asset's): it is mounted through a shared pair. */
  claimNamespace?: string;
  configMapName?: string;
  subPath?: string;
}

/** Where a pool's pods go: its nodes (selector, tolerations) and its scheduler. Only a pool names a scheduler. */
export interface PoolPlacement {
  nodeSelector: Record<string, string>;
  tolerations: V1Toleration[];
  /** Unset: the cluster's default scheduler. */
  schedulerName?: string;
}

export interface ResolvedJob {
  job: Job;
  attempt: number;
  /** Admitted pod sets in spec.tasks order, with resolved requests and nodeSelector. */
  podSets: PodSet[];
  image: string;
  imagePullSecret?: string;
  code?: Mount;
  /** Command from the algorithm when the task sets none. */
  defaultCommand?: string[];
  datasets: (Mount & { name: string })[];
  pretrainedModel?: Mount;
  /** Claim receiving /model, when the job registers output. */
  outputClaim?: string;
  /** The pool the gang was admitted to (status.admission.pool), never spec.pool as it is now. */
  pool: PoolPlacement;
  /** Security context defaults; a restricted profile unless configured otherwise. */
  runAsUser: number;
}

export function podName(job: string, task: string, index: number): string {
  return `${job}-${task}-${index}`;
}

/** The headless Service is named like the job: pods resolve as <pod>.<job>. */
export function hostOf(job: string, task: string, index: number): string {
  return `${podName(job, task, index)}.${job}`;
}

export function ownerReference(job: Job): V1OwnerReference {
  return { apiVersion: job.apiVersion, kind: 'Job', name: job.metadata.name!, uid: job.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

interface Rank {
  task: string;
  index: number;
  rank: number;
}

/** PyTorch ranks: a task named master comes first (rank 0), then tasks in spec order. */
function pytorchRanks(podSets: PodSet[]): Rank[] {
  const ordered = [...podSets.filter((p) => p.task === 'master'), ...podSets.filter((p) => p.task !== 'master')];
  let rank = 0;
  return ordered.flatMap((p) => Array.from({ length: p.count }, (_, index) => ({ task: p.task, index, rank: rank++ })));
}

function devicesPerPod(requests: Resources): number {
  let n = 0n;
  for (const [k, v] of requests) if (isDeviceResource(k)) n += v / 1000n;
  return Number(n);
}

export function distributionEnv(distribution: Distribution, jobName: string, podSets: PodSet[], task: string, index: number): V1EnvVar[] {
  switch (distribution) {
    case 'PyTorch': {
      const ranks = pytorchRanks(podSets);
      const master = ranks[0]!;
      const me = ranks.find((r) => r.task === task && r.index === index)!;
      const perPod = devicesPerPod(podSets.find((p) => p.task === task)!.requests);
      const addr = hostOf(jobName, master.task, master.index);
      const env: Record<string, string> = {
        MASTER_ADDR: addr,
        MASTER_PORT: String(ports.pytorch),
        WORLD_SIZE: String(ranks.length),
        RANK: String(me.rank),
        // torchrun reads PET_* (one process group per pod, one process per device).
        PET_MASTER_ADDR: addr,
        PET_MASTER_PORT: String(ports.pytorch),
        PET_NNODES: String(ranks.length),
        PET_NODE_RANK: String(me.rank),
        PET_NPROC_PER_NODE: perPod > 0 ? String(perPod) : 'auto',
      };
      return Object.entries(env).map(([name, value]) => ({ name, value }));
    }
    case 'TensorFlow': {
      // Evaluators read checkpoints on their own; they are not part of the training cluster.
      const cluster: Record<string, string[]> = {};
      for (const p of podSets.filter((ps) => ps.task !== 'evaluator')) {
        cluster[p.task] = Array.from({ length: p.count }, (_, i) => `${hostOf(jobName, p.task, i)}:${ports.tensorflow}`);
      }
      const tfConfig = { cluster, task: { type: task, index }, environment: 'cloud' };
      return [{ name: 'TF_CONFIG', value: JSON.stringify(tfConfig) }];
    }
    case 'MPI': {
      const workers = podSets.filter((p) => p.task !== 'launcher').reduce((n, p) => n + p.count, 0);
      return [
        { name: 'OMPI_MCA_orte_default_hostfile', value: `${mpiHostfileDir}/hostfile` },
        { name: 'OMPI_MCA_plm_rsh_args', value: '-o StrictHostKeyChecking=no' },
        { name: 'OCTOPUS_MPI_WORKERS', value: String(workers) },
      ];
    }
    case 'None':
      return [];
  }
}

/** The MPI hostfile: one line per non-launcher pod, slots = devices per pod (at least 1). */
export function mpiHostfile(jobName: string, podSets: PodSet[]): string {
  return podSets
    .filter((p) => p.task !== 'launcher')
    .flatMap((p) => Array.from({ length: p.count }, (_, i) => `${hostOf(jobName, p.task, i)} slots=${Math.max(1, devicesPerPod(p.requests))}`))
    .join('\n')
    .concat('\n');
}

/**
 * The Octopus mount layout every workload shares (Job, Notebook, ModelService): /code and
 * /dataset/<name> read-only, /pretrainmodel read-only, /model, and /dev/shm in memory.
 */
export interface MountLayout {
  code?: Mount;
  datasets: (Mount & { name: string })[];
  pretrainedModel?: Mount;
  /** /model: a Job's output claim (writable), or the version a ModelService serves (read-only). */
  model?: Mount & { readOnly: boolean };
  shmSize?: bigint;
}

export function layoutVolumes(layout: MountLayout): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const volumes: V1Volume[] = [];
  const mounts: V1VolumeMount[] = [];
  const add = (name: string, mountPath: string, source: Mount, readOnly: boolean) => {
    if (source.configMapName) volumes.push({ name, configMap: { name: source.configMapName } });
    else volumes.push({ name, persistentVolumeClaim: { claimName: source.claimName!, readOnly } });
    const mount: V1VolumeMount = { name, mountPath, readOnly };
    if (source.subPath) mount.subPath = source.subPath;
    mounts.push(mount);
  };
  if (layout.code) add('code', '/code', layout.code, true);
  layout.datasets.forEach((d, i) => add(`dataset-${i}`, `/dataset/${d.name}`, d, true));
  if (layout.pretrainedModel) add('pretrainmodel', '/pretrainmodel', layout.pretrainedModel, true);
  if (layout.model) add('model', '/model', layout.model, layout.model.readOnly);
  const shmSize = layout.shmSize;
  volumes.push({ name: 'dshm', emptyDir: shmSize ? { medium: 'Memory', sizeLimit: formatResources(new Map([['memory', shmSize]])).memory! } : { medium: 'Memory' } });
  mounts.push({ name: 'dshm', mountPath: '/dev/shm' });
  return { volumes, mounts };
}

function volumesFor(r: ResolvedJob, shmSize: bigint | undefined): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const { volumes, mounts } = layoutVolumes({
    ...(r.code ? { code: r.code } : {}),
    datasets: r.datasets,
    ...(r.pretrainedModel ? { pretrainedModel: r.pretrainedModel } : {}),
    ...(r.outputClaim ? { model: { claimName: r.outputClaim, readOnly: false } } : {}),
    ...(shmSize ? { shmSize } : {}),
  });
  if (r.job.spec.distribution === 'MPI') {
    volumes.push({ name: 'mpi-hostfile', configMap: { name: mpiConfigMapName(r.job.metadata.name!) } });
    mounts.push({ name: 'mpi-hostfile', mountPath: mpiHostfileDir, readOnly: true });
  }
  return { volumes, mounts };
}

export function mpiConfigMapName(job: string): string {
  return `${job}-mpi`;
}

/** The user's environment variables; a Secret's value is referenced, never copied. */
export function userEnv(env: Job['spec']['tasks'][number]['env']): V1EnvVar[] {
  return (env ?? []).map((e) =>
    e.secretKeyRef ? { name: e.name, valueFrom: { secretKeyRef: { name: e.secretKeyRef.name, key: e.secretKeyRef.key } } } : { name: e.name, value: e.value ?? '' },
  );
}

/** Requests as given; limits equal requests for memory and devices (devices require it), none for CPU to avoid throttling. */
export function containerResources(requests: Resources): V1Container['resources'] {
  const req = formatResources(requests);
  const limits = Object.fromEntries(Object.entries(req).filter(([k]) => k === 'memory' || isDeviceResource(k)));
  return { requests: req, limits };
}

/**
 * The restricted Pod Security profile: workload pods run in users' namespaces, whose Pod Security
 * Admission is `restricted` by default, and must not give a user more power than they have.
 */
export function restrictedPodSecurityContext(runAsUser: number): V1PodSecurityContext {
  return { runAsNonRoot: true, runAsUser, runAsGroup: runAsUser, fsGroup: runAsUser, seccompProfile: { type: 'RuntimeDefault' } };
}

export function restrictedContainerSecurityContext(): V1SecurityContext {
  return { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true };
}

export function buildPod(r: ResolvedJob, podSet: PodSet, index: number): V1Pod {
  const job = r.job;
  const jobName = job.metadata.name!;
  const task = job.spec.tasks.find((t) => t.name === podSet.task)!;
  const name = podName(jobName, podSet.task, index);
  const { volumes, mounts } = volumesFor(r, podSet.shmSize);
  const octopusEnv: V1EnvVar[] = [
    { name: 'OCTOPUS_JOB_NAME', value: jobName },
    { name: 'OCTOPUS_NAMESPACE', value: job.metadata.namespace! },
    { name: 'OCTOPUS_TASK_NAME', value: podSet.task },
    { name: 'OCTOPUS_TASK_INDEX', value: String(index) },
    { name: 'OCTOPUS_ATTEMPT', value: String(r.attempt) },
  ];
  const container: V1Container = {
    name: 'main',
    image: r.image,
    env: [...octopusEnv, ...distributionEnv(job.spec.distribution ?? 'None', jobName, r.podSets, podSet.task, index), ...userEnv(task.env)],
    resources: containerResources(podSet.requests),
    volumeMounts: mounts,
    securityContext: restrictedContainerSecurityContext(),
  };
  const command = task.command ?? r.defaultCommand;
  if (command) container.command = command;
  if (task.args) container.args = task.args;
  const workingDir = task.workingDir ?? (r.code ? '/code' : undefined);
  if (workingDir) container.workingDir = workingDir;
  if (job.spec.distribution === 'PyTorch') container.ports = [{ name: 'pytorch', containerPort: ports.pytorch }];
  if (job.spec.distribution === 'TensorFlow') container.ports = [{ name: 'tensorflow', containerPort: ports.tensorflow }];

  const pod: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: job.metadata.namespace!,
      labels: {
        ...(task.podMetadata?.labels ?? {}),
        [labels.job]: jobName,
        [labels.task]: podSet.task,
        [labels.index]: String(index),
        [labels.attempt]: String(r.attempt),
        [labels.managedBy]: 'octopus',
      },
      annotations: { ...(task.podMetadata?.annotations ?? {}) },
      ownerReferences: [ownerReference(job)],
    },
    spec: {
      hostname: name,
      subdomain: jobName,
      restartPolicy: 'Never',
      enableServiceLinks: false,
      automountServiceAccountToken: false,
      nodeSelector: { ...r.pool.nodeSelector, ...(podSet.nodeSelector ?? {}) },
      tolerations: r.pool.tolerations,
      securityContext: restrictedPodSecurityContext(r.runAsUser),
      containers: [container],
      volumes,
    },
  };
  if (r.pool.schedulerName) pod.spec!.schedulerName = r.pool.schedulerName;
  if (r.imagePullSecret) pod.spec!.imagePullSecrets = [{ name: r.imagePullSecret }];
  return pod;
}

export function buildPods(r: ResolvedJob): V1Pod[] {
  return r.podSets.flatMap((ps) => Array.from({ length: ps.count }, (_, i) => buildPod(r, ps, i)));
}

/**
 * Pods find each other by DNS name only in a gang of several pods, or when a distribution's
 * variables name a pod (a one-pod PyTorch job still dials MASTER_ADDR). A lone pod of no
 * distribution needs no Service — a quarter of the jobs in a typical queue — and each Service
 * costs the apiserver an EndpointSlice kept in step with its pods.
 */
export function needsService(distribution: Distribution, podSets: readonly PodSet[]): boolean {
  return distribution !== 'None' || podSets.reduce((n, ps) => n + ps.count, 0) > 1;
}

/** Headless: gives every pod a stable DNS name, <pod>.<job>, without a virtual IP. */
export function buildService(job: Job): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: job.metadata.name!,
      namespace: job.metadata.namespace!,
      labels: { [labels.job]: job.metadata.name!, [labels.managedBy]: 'octopus' },
      ownerReferences: [ownerReference(job)],
    },
    spec: {
      clusterIP: 'None',
      selector: { [labels.job]: job.metadata.name! },
      // Peers must resolve each other before they report ready (rendezvous happens first).
      publishNotReadyAddresses: true,
    },
  };
}

export function buildMpiConfigMap(job: Job, podSets: PodSet[]): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: mpiConfigMapName(job.metadata.name!),
      namespace: job.metadata.namespace!,
      labels: { [labels.job]: job.metadata.name!, [labels.managedBy]: 'octopus' },
      ownerReferences: [ownerReference(job)],
    },
    data: { hostfile: mpiHostfile(job.metadata.name!, podSets) },
  };
}
