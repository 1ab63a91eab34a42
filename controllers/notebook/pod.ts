/**
 * A Notebook's children as pure functions: its JupyterLab pod (the Job's mount layout plus the
 * /userhome claim) and that claim. The pod is built from the frozen admission, like a Job's.
 */
import type { V1Container, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { lastActivityAnnotation, type Notebook } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { parseQuantity, parseResources } from '../../apis/quantity.js';
import { notebookLabel } from '../admission/workloads.js';
import { containerResources, labels as jobLabels, layoutVolumes, restrictedContainerSecurityContext, restrictedPodSecurityContext, userEnv } from '../job/pods.js';
import { resolveWorkload, storageClassDenied, type Lookups, type PoolUse, type ReferenceResult, type ResolvedReferences } from '../job/references.js';
import type { ControllerOptions } from '../options.js';
import { controllerReference } from '../runtime/index.js';
import { httpPortName } from '../modelservice/expose.js';

/** JupyterLab's port; the image must serve on it, under the path prefix in NB_PREFIX. */
export const notebookPort = 8888;
export const homeMountPath = '/userhome';

export const notebookPoolUse: PoolUse = { jobType: 'Notebook', reason: 'PoolNotForNotebooks', what: 'notebooks' };

export type NotebookAdmission = NonNullable<NonNullable<Notebook['status']>['admission']>;

/** A stable name, as a StatefulSet of one would give: `<notebook>-0`. */
export function notebookPodName(notebook: string): string {
  return `${notebook}-0`;
}

export function homeClaimName(notebook: string): string {
  return `${notebook}-home`;
}

/** Labels of every child; the notebook label also lets admission find the pod. */
export function notebookLabels(nb: Notebook): Record<string, string> {
  return { [notebookLabel]: nb.metadata.name!, [jobLabels.managedBy]: 'octopus' };
}

/** A Notebook's references; while it holds a reservation, its pool is the admitted one, whatever spec.pool says. */
export function resolveNotebookReferences(nb: Notebook, lookups: Lookups, tag: { key: string; valuePrefix: string }): ReferenceResult {
  const resourceSpecs = nb.spec.resourceSpec ? [{ name: nb.spec.resourceSpec }] : [];
  const pool = nb.status?.admission?.pool ?? nb.spec.pool;
  const resolved = resolveWorkload({ ...nb.spec, pool, resourceSpecs }, nb.metadata.namespace!, lookups, tag, notebookPoolUse);
  return resolved.ok ? (storageClassDenied(nb.spec.homeStorage?.storageClassName, 'spec.homeStorage.storageClassName', nb.metadata.namespace!, lookups) ?? resolved) : resolved;
}

/** The /userhome claim: owned by the notebook, so it outlives every stop and goes with the notebook. */
export function desiredHomeClaim(nb: Notebook, options: Pick<ControllerOptions, 'importStorageSize' | 'importStorageClass'>): V1PersistentVolumeClaim {
  const storageClassName = nb.spec.homeStorage?.storageClassName ?? options.importStorageClass;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: homeClaimName(nb.metadata.name!), namespace: nb.metadata.namespace!, labels: notebookLabels(nb), ownerReferences: [controllerReference(nb)] },
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: String(nb.spec.homeStorage?.size ?? options.importStorageSize) } },
      ...(storageClassName ? { storageClassName } : {}),
    },
  };
}

export interface ResolvedNotebook {
  notebook: Notebook;
  admission: NotebookAdmission;
  refs: ResolvedReferences;
  runAsUser: number;
}

export function buildNotebookPod(r: ResolvedNotebook): V1Pod {
  const nb = r.notebook;
  const name = nb.metadata.name!;
  const a = r.admission;
  const { volumes, mounts } = layoutVolumes({
    ...(r.refs.code ? { code: r.refs.code } : {}),
    datasets: r.refs.datasets,
    ...(r.refs.pretrainedModel ? { pretrainedModel: r.refs.pretrainedModel } : {}),
    ...(a.shmSize ? { shmSize: parseQuantity(a.shmSize) } : {}),
  });
  volumes.push({ name: 'userhome', persistentVolumeClaim: { claimName: homeClaimName(name) } });
  // /model is a folder of the home claim: a training script tried here writes where it would in a Job, and keeps it.
  mounts.push({ name: 'userhome', mountPath: homeMountPath }, { name: 'userhome', mountPath: '/model', subPath: 'model' });
  const container: V1Container = {
    name: 'notebook',
    image: r.refs.image,
    env: [
      { name: 'OCTOPUS_NOTEBOOK_NAME', value: name },
      { name: 'OCTOPUS_NAMESPACE', value: nb.metadata.namespace! },
      { name: 'HOME', value: homeMountPath },
      { name: 'NB_PREFIX', value: nb.spec.ingress?.enabled ? (nb.spec.ingress.path ?? '/') : '/' },
      { name: 'JUPYTER_PORT', value: String(notebookPort) },
      ...userEnv(nb.spec.env),
    ],
    ports: [{ name: httpPortName, containerPort: notebookPort }],
    readinessProbe: { tcpSocket: { port: httpPortName } },
    workingDir: homeMountPath,
    resources: containerResources(parseResources(a.resources)),
    volumeMounts: mounts,
    securityContext: restrictedContainerSecurityContext(),
  };
  const pod: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: notebookPodName(name),
      namespace: nb.metadata.namespace!,
      labels: { ...(nb.spec.podMetadata?.labels ?? {}), ...notebookLabels(nb) },
      annotations: { ...(nb.spec.podMetadata?.annotations ?? {}) },
      ownerReferences: [controllerReference(nb)],
    },
    spec: {
      // A crashed JupyterLab restarts in place, keeping its node and its reservation.
      restartPolicy: 'Always',
      enableServiceLinks: false,
      automountServiceAccountToken: false,
      nodeSelector: { ...r.refs.pool.nodeSelector, ...(a.nodeSelector ?? {}) },
      tolerations: r.refs.pool.tolerations,
      securityContext: restrictedPodSecurityContext(r.runAsUser),
      containers: [container],
      volumes,
    },
  };
  if (r.refs.pool.schedulerName) pod.spec!.schedulerName = r.refs.pool.schedulerName;
  if (r.refs.imagePullSecret) pod.spec!.imagePullSecrets = [{ name: r.refs.imagePullSecret }];
  return pod;
}

/** The pod as the lifecycle sees it. */
export interface ObservedNotebookPod {
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  ready: boolean;
  /** Being deleted, or left by an earlier notebook of the same name: not this run's pod. */
  terminating: boolean;
  node?: string;
  /** The pod's own report of its last activity (lastActivityAnnotation). */
  lastActivity?: string;
  message?: string;
}

export function observeNotebookPod(pod: V1Pod, ours: boolean): ObservedNotebookPod {
  const terminated = pod.status?.containerStatuses?.find((s) => s.state?.terminated)?.state?.terminated;
  const message = terminated?.message ?? terminated?.reason ?? pod.status?.message ?? pod.status?.reason;
  const lastActivity = pod.metadata?.annotations?.[lastActivityAnnotation];
  return {
    phase: (pod.status?.phase as ObservedNotebookPod['phase'] | undefined) ?? 'Pending',
    ready: pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    terminating: pod.metadata?.deletionTimestamp !== undefined || !ours,
    ...(pod.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
    ...(lastActivity ? { lastActivity } : {}),
    ...(message ? { message: message.slice(0, 512) } : {}),
  };
}
