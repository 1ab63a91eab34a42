/**
 * A ModelService as pure functions: what it names resolved from the caches, the Deployment that
 * serves it, and its status read back from that Deployment. Pure so the serving layout (mounts,
 * probes, the rollout trigger) and the phase rules are pinned down by table tests.
 */
import type { V1Container, V1Deployment, V1Probe } from '@kubernetes/client-node';
import type { ModelService } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { ModelServiceConditions as C } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { parseQuantity, parseResources } from '../../apis/quantity.js';
import { containerResources, labels as jobLabels, layoutVolumes, restrictedContainerSecurityContext, restrictedPodSecurityContext, userEnv, type Mount, type PoolPlacement } from '../job/pods.js';
import { resolveImage, resolveModelVersion, resolvePool, resolveResourceSpec, type Lookups, type PoolUse } from '../job/references.js';
import { controllerReference, setCondition, type ChildProblem, type Condition } from '../runtime/index.js';
import { modelServiceLabel, servingReplicas } from '../admission/workloads.js';
import { httpPortName } from './expose.js';

/** On the pod template: the Model version the pods serve. Changing it is what rolls the Deployment. */
export const modelVersionAnnotation = 'octopus.openi.pcl.cn/model-version';
/** The schema's default port, for objects that bypassed defaulting. */
export const defaultPort = 8080;

export const ServingReasons = {
  Resolved: 'Resolved',
  PoolNotForServing: 'PoolNotForServing',
  WaitingForAdmission: 'WaitingForAdmission',
  ReplicasReady: 'ReplicasReady',
  Progressing: 'Progressing',
  ProgressDeadlineExceeded: 'ProgressDeadlineExceeded',
  ReferencesUnresolved: 'ReferencesUnresolved',
  Suspended: 'Suspended',
  ScaledToZero: 'ScaledToZero',
  Serving: 'Serving',
} as const;
const R = ServingReasons;

export const servingPoolUse: PoolUse = { jobType: 'Serving', reason: R.PoolNotForServing, what: 'model services' };

type Status = NonNullable<ModelService['status']>;
export type ServingAdmission = NonNullable<Status['admission']>;
type Failure = { ok: false; reason: string; message: string };

export interface ResolvedServing {
  image: string;
  imagePullSecret?: string;
  /** The model version's content, mounted read-only at /model. */
  model: Mount;
  version: string;
  pool: PoolPlacement;
}

export function resolveServing(ms: ModelService, lookups: Lookups, tag: { key: string; valuePrefix: string }): { ok: true; refs: ResolvedServing } | Failure {
  const ns = ms.metadata.namespace!;
  const image = resolveImage(ms.spec.image, ns, lookups);
  if (!image.ok) return image;
  const model = resolveModelVersion(ms.spec.model, ns, lookups);
  if (!model.ok) return model;
  // Pods run where admission placed them: the pool is frozen while the service holds a reservation.
  const poolName = ms.status?.admission?.pool ?? ms.spec.pool;
  const pool = resolvePool(poolName, ns, lookups, tag, servingPoolUse);
  if (!pool.ok) return pool;
  if (ms.spec.resourceSpec) {
    const spec = resolveResourceSpec(ms.spec.resourceSpec, ms.spec.pool, lookups);
    if (!spec.ok) return spec;
  }
  return {
    ok: true,
    refs: { image: image.image, ...(image.imagePullSecret ? { imagePullSecret: image.imagePullSecret } : {}), model: model.mount, version: model.version, pool: pool.pool },
  };
}

export function selectorLabels(ms: ModelService): Record<string, string> {
  return { [modelServiceLabel]: ms.metadata.name! };
}

/** Labels of every child; the selector label ties them back to the ModelService. */
export function childLabels(ms: ModelService): Record<string, string> {
  return { ...selectorLabels(ms), [jobLabels.managedBy]: 'octopus' };
}

/** What the Deployment runs: what the spec wants, but never more than admission reserved. */
export function desiredReplicas(ms: ModelService): number {
  return Math.min(servingReplicas(ms), ms.status?.admission?.replicas ?? 0);
}

function readinessProbe(ms: ModelService): V1Probe {
  return ms.spec.readinessPath ? { httpGet: { path: ms.spec.readinessPath, port: httpPortName } } : { tcpSocket: { port: httpPortName } };
}

/** The admitted requests (limits of memory and devices follow them, as for Jobs). */
function servingResources(a: ServingAdmission): V1Container['resources'] {
  const base = containerResources(parseResources(a.resources));
  return { requests: base?.requests ?? {}, limits: base?.limits ?? {} };
}

/** The serving pods, built from the admission (requests, shm, device node labels), never from the live spec. */
export function desiredDeployment(ms: ModelService, r: ResolvedServing, a: ServingAdmission, runAsUser: number): V1Deployment {
  const name = ms.metadata.name!;
  const { volumes, mounts } = layoutVolumes({ datasets: [], model: { ...r.model, readOnly: true }, ...(a.shmSize ? { shmSize: parseQuantity(a.shmSize) } : {}) });
  const container: V1Container = {
    name: 'server',
    image: r.image,
    env: [
      { name: 'OCTOPUS_MODEL_NAME', value: ms.spec.model.name },
      { name: 'OCTOPUS_MODEL_VERSION', value: r.version },
      { name: 'OCTOPUS_MODEL_PATH', value: '/model' },
      ...userEnv(ms.spec.env),
    ],
    ports: [{ name: httpPortName, containerPort: ms.spec.port ?? defaultPort }],
    readinessProbe: readinessProbe(ms),
    resources: servingResources(a),
    volumeMounts: mounts,
    securityContext: restrictedContainerSecurityContext(),
  };
  if (ms.spec.command) container.command = ms.spec.command;
  if (ms.spec.args) container.args = ms.spec.args;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ms.metadata.namespace!, labels: childLabels(ms), ownerReferences: [controllerReference(ms)] },
    spec: {
      replicas: desiredReplicas(ms),
      selector: { matchLabels: selectorLabels(ms) },
      template: {
        metadata: {
          // Ours win: they select the pods and trigger rollouts.
          labels: { ...(ms.spec.podMetadata?.labels ?? {}), ...childLabels(ms) },
          annotations: { ...(ms.spec.podMetadata?.annotations ?? {}), [modelVersionAnnotation]: r.version },
        },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: restrictedPodSecurityContext(runAsUser),
          nodeSelector: { ...r.pool.nodeSelector, ...(a.nodeSelector ?? {}) },
          tolerations: r.pool.tolerations,
          ...(r.pool.schedulerName ? { schedulerName: r.pool.schedulerName } : {}),
          ...(r.imagePullSecret ? { imagePullSecrets: [{ name: r.imagePullSecret }] } : {}),
          containers: [container],
          volumes,
        },
      },
    },
  };
}

/** The apiserver writes quantities in canonical form ("0.5" → "500m"): compare them by value. */
export function quantityEquivalent(desired: unknown, actual: unknown, path: readonly string[]): boolean {
  const parent = path[path.length - 2];
  if (parent !== 'requests' && parent !== 'limits' && path[path.length - 1] !== 'sizeLimit') return false;
  try {
    return parseQuantity(String(desired)) === parseQuantity(String(actual));
  } catch {
    return false;
  }
}

/**
 * The version the Deployment's pods serve, once its rollout is complete (the controller saw the
 * latest spec, every pod is updated, none of the old ones remain, all are available): the current
 * ReplicaSet's template is then the Deployment's. Undefined while a rollout is under way.
 */
export function servedVersion(d: V1Deployment | undefined): string | undefined {
  if (!d?.status) return undefined;
  const want = d.spec?.replicas ?? 1;
  const s = d.status;
  const observed = (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
  const complete = observed && (s.updatedReplicas ?? 0) === want && (s.replicas ?? 0) === want && (s.availableReplicas ?? 0) >= want;
  return complete ? d.spec?.template?.metadata?.annotations?.[modelVersionAnnotation] : undefined;
}

function deploymentCondition(d: V1Deployment, type: string) {
  return d.status?.conditions?.find((c) => c.type === type);
}

export interface ServingObservation {
  refs: { ok: true } | Failure;
  deployment?: V1Deployment;
  /** A child that could not be written: someone else's of the same name, or refused by the apiserver. */
  problem?: ChildProblem;
  url: string;
}

/** The status the ModelService should have, from the previous one and what was observed. */
export function servingStatus(ms: ModelService, o: ServingObservation, now: number): Status {
  const gen = ms.metadata.generation;
  const status: Status = { ...structuredClone(ms.status ?? {}), observedGeneration: gen ?? 0, url: o.url, labels: selectorLabels(ms) };
  const cond = (type: string, s: Condition['status'], reason: string, message: string) => {
    status.conditions = setCondition(status.conditions as Condition[] | undefined, { type, status: s, reason, message }, gen, now);
  };
  if (o.refs.ok) cond(C.ReferencesResolved, 'True', R.Resolved, 'every reference resolved');
  else cond(C.ReferencesResolved, 'False', o.refs.reason, o.refs.message);

  const d = o.deployment;
  const want = desiredReplicas(ms);
  const ready = d?.status?.readyReplicas ?? 0;
  status.replicas = d?.status?.replicas ?? 0;
  status.readyReplicas = ready;
  const served = servedVersion(d);
  if (served !== undefined && want > 0) status.modelVersion = served;
  else if (ready === 0) delete status.modelVersion;

  const stopped = (reason: string, message: string) => {
    status.phase = 'Stopped';
    cond(C.Available, 'False', reason, message);
    cond(C.Stopped, 'True', reason, message);
  };
  const serving = (phase: Status['phase'], available: Condition['status'], reason: string, message: string) => {
    status.phase = phase;
    cond(C.Available, available, reason, message);
    cond(C.Stopped, 'False', R.Serving, 'spec.suspend is false');
  };
  const progress = d && deploymentCondition(d, 'Progressing');
  if (o.problem) serving('Failed', 'False', o.problem.reason, o.problem.message);
  else if (ms.spec.suspend) stopped(R.Suspended, 'spec.suspend is true: scaled to zero');
  else if (servingReplicas(ms) === 0) stopped(R.ScaledToZero, 'spec.replicas is 0');
  else if (!o.refs.ok && !d) serving('Preparing', 'False', R.ReferencesUnresolved, o.refs.message);
  else if (want === 0) serving('Preparing', 'False', R.WaitingForAdmission, waitingMessage(ms));
  else if (!d) serving('Preparing', 'False', R.Progressing, 'creating the Deployment');
  else if (progress?.status === 'False' && progress.reason === R.ProgressDeadlineExceeded) serving('Failed', 'False', R.ProgressDeadlineExceeded, progress.message ?? 'the rollout made no progress');
  else if (ready > 0 && deploymentCondition(d, 'Available')?.status === 'True') serving('Available', 'True', R.ReplicasReady, `${ready}/${want} replicas ready`);
  else serving('Preparing', 'False', R.Progressing, `${ready}/${want} replicas ready`);
  return status;
}

/** Why no replica may run yet: the admission controller's word in the Admitted condition. */
function waitingMessage(ms: ModelService): string {
  const admitted = (ms.status?.conditions as Condition[] | undefined)?.find((c) => c.type === C.Admitted);
  return admitted?.status === 'False' ? `waiting for admission: ${admitted.message}` : 'waiting for admission';
}

export interface ServingEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  note: string;
}

/** What changed between two statuses, as Events: every phase transition, each new version served, a reference that broke. */
export function servingEvents(ms: ModelService, before: Status | undefined, after: Status): ServingEvent[] {
  const events: ServingEvent[] = [];
  const available = (s: Status | undefined) => s?.conditions?.find((c) => c.type === C.Available);
  if (after.phase !== before?.phase) {
    const why = available(after)?.message ?? '';
    if (after.phase === 'Available') events.push({ type: 'Normal', reason: 'Available', note: `serving ${ms.spec.model.name} version ${after.modelVersion ?? ms.spec.model.version}: ${why}` });
    else if (after.phase === 'Failed') events.push({ type: 'Warning', reason: 'Failed', note: why });
    else if (after.phase === 'Stopped') events.push({ type: 'Normal', reason: 'Stopped', note: why });
    else events.push({ type: 'Normal', reason: 'Preparing', note: why });
  }
  if (before?.modelVersion && after.modelVersion && before.modelVersion !== after.modelVersion) {
    events.push({ type: 'Normal', reason: 'RolledOut', note: `now serving version ${after.modelVersion} (was ${before.modelVersion})` });
  }
  const refsBefore = before?.conditions?.find((c) => c.type === C.ReferencesResolved);
  const refsAfter = after.conditions?.find((c) => c.type === C.ReferencesResolved);
  if (refsAfter?.status === 'False' && refsAfter.reason !== refsBefore?.reason) events.push({ type: 'Warning', reason: refsAfter.reason, note: refsAfter.message });
  return events;
}
