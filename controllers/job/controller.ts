/**
 * Job controller: references, then (once the admission controller reserved quota) the gang's
 * children and lifecycle. Reconciles by key from the caches; every action is idempotent
 * (deterministic names, AlreadyExists is success), so a restart at any instant converges.
 */
import type { KubernetesObject, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import type { Algorithm, Dataset, Image, Job, Model, Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { JobConditions as C, JobReasons as R } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { parseQuantity, parseResources } from '../../apis/quantity.js';
import { ensureOwnClaim, localMounts, ShareError } from '../assets/share.js';
import { registerJobOutput } from '../model/output.js';
import { schedulingCaches, podIndexes } from '../cluster/caches.js';
import { isTerminal as podFinished } from '../cluster/nodes.js';
import type { ControllerContext, ControllerSetup } from '../context.js';
import { core, octopus } from '../resources.js';
import { isAlreadyExists, isTerminal, resourcePath, semanticEqual, setCondition, type Condition, type Manager, type ResourceRef } from '../runtime/index.js';
import { rfc3339 } from '../runtime/time.js';
import { decide, type JobStatus, type ObservedPod } from './lifecycle.js';
import { buildMpiConfigMap, buildPods, buildService, labels, needsService, ownerReference, type ResolvedJob } from './pods.js';
import { resolveReferences, type Lookups, type ResolvedReferences } from './references.js';
import { admissionCycleKey, setupAdmission } from '../admission/controller.js';

/**
 * A gang's pod counts move with each of its pods; when nothing else in the status changed they
 * are written at most this often, so an 8-pod gang starting costs one write, not eight.
 */
const progressWriteIntervalMs = 5_000;

/** The status without the fields that only count pods. */
function withoutProgress(status: JobStatus): JobStatus {
  const { pods: _pods, tasks: _tasks, ...rest } = status;
  return rest;
}

/** A reference that does not resolve yet is looked at again this often (objects may be applied in any order). */
const unresolvedRecheckMs = 15_000;

export function outputClaimName(job: string): string {
  return `${job}-output`;
}

/** The cache's view of a pod, in the lifecycle's terms. */
export function observePod(pod: V1Pod): ObservedPod {
  const l = pod.metadata?.labels ?? {};
  const terminated = pod.status?.containerStatuses?.find((s) => s.state?.terminated)?.state?.terminated;
  const disrupted =
    pod.status?.reason === 'Evicted' ||
    pod.status?.reason === 'Preempting' ||
    (pod.status?.conditions?.some((c) => c.type === 'DisruptionTarget' && c.status === 'True') ?? false);
  return {
    name: pod.metadata!.name!,
    task: l[labels.task] ?? '',
    index: Number(l[labels.index] ?? 0),
    attempt: Number(l[labels.attempt] ?? 0),
    phase: (pod.status?.phase as ObservedPod['phase'] | undefined) ?? 'Pending',
    ready: pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    terminating: pod.metadata?.deletionTimestamp !== undefined,
    disrupted,
    ...(terminated?.message ? { message: terminated.message.slice(0, 512) } : {}),
  };
}

export function assetLookups(manager: Manager): Lookups {
  const images = manager.informer<Image>(octopus.Image);
  const datasets = manager.informer<Dataset>(octopus.Dataset);
  const algorithms = manager.informer<Algorithm>(octopus.Algorithm);
  const models = manager.informer<Model>(octopus.Model);
  const workspaces = manager.informer<Workspace>(octopus.Workspace);
  const { pools, specs } = schedulingCaches(manager);
  return {
    image: (ns, name) => images.get(`${ns}/${name}`),
    dataset: (ns, name) => datasets.get(`${ns}/${name}`),
    algorithm: (ns, name) => algorithms.get(`${ns}/${name}`),
    model: (ns, name) => models.get(`${ns}/${name}`),
    pool: (name) => pools.get(name),
    spec: (name) => specs.get(name),
    workspace: (name) => workspaces.get(name),
  };
}

function cond(status: JobStatus, job: Job, now: number, type: string, s: Condition['status'], reason: string, message: string): void {
  status.conditions = setCondition(status.conditions as Condition[] | undefined, { type, status: s, reason, message }, job.metadata.generation, now);
}

export class JobReconciler {
  private readonly caches;
  private readonly lookups: Lookups;
  private readonly progressWrittenAt = new Map<string, number>();

  constructor(
    private readonly ctx: ControllerContext,
    private readonly onQueueChanged: () => void,
  ) {
    this.caches = schedulingCaches(ctx.manager);
    this.lookups = assetLookups(ctx.manager);
  }

  private get manager(): Manager {
    return this.ctx.manager;
  }

  async reconcile(key: string): Promise<{ requeueAfterMs?: number } | void> {
    const cached = this.caches.jobs.get(key);
    if (!cached || cached.metadata.deletionTimestamp) {
      this.progressWrittenAt.delete(key);
      return;
    }
    const job: Job = { ...cached, status: structuredClone(cached.status ?? {}) };
    const status = job.status!;
    const now = this.manager.clock.now();
    const tag = { key: this.ctx.options.resourceTagKey, valuePrefix: this.ctx.options.resourceTagValuePrefix };

    const refs = resolveReferences(job, this.lookups, tag);
    const active = status.admission !== undefined && ['Admitted', 'Running', 'Restarting'].includes(status.phase ?? '');
    if (refs.ok) cond(status, job, now, C.ReferencesResolved, 'True', R.Resolved, 'every reference resolved');
    else cond(status, job, now, C.ReferencesResolved, 'False', refs.reason, refs.message);

    if (status.phase === undefined) {
      status.phase = 'Queued';
      status.queuedAt = rfc3339(now);
      // No event: every job starts queued, and the admission controller's word on it follows at once.
      cond(status, job, now, C.Admitted, 'False', R.Pending, 'waiting for admission');
    }

    const pods = this.caches.pods.byIndex(podIndexes.job, key);
    let decision = decide(job, pods.map(observePod), now);
    if (decision.registerOutput && refs.ok) {
      try {
        const output = await this.registerOutput(job, refs.refs, now);
        job.status = { ...decision.status, output };
        decision = decide(job, pods.map(observePod), now);
      } catch (err) {
        if (!isTerminal(err)) throw err;
        // The weights stay in the output claim; the user can publish them under another name.
        decision = decide(job, pods.map(observePod), now, { outputError: (err as Error).message });
        this.record(job, 'Warning', 'OutputNotRegistered', (err as Error).message);
      }
    }
    if (decision.deleteJob) {
      await this.manager.client.deleteIgnoreNotFound(cached, { propagationPolicy: 'Background' });
      this.record(cached, 'Normal', 'Deleted', `deleted ${job.spec.policy?.ttlSecondsAfterFinished}s after it finished (ttlSecondsAfterFinished)`);
      return;
    }
    await Promise.all(decision.deletePods.map((name) => this.deletePod(job, name)));
    let notShared = false;
    if (decision.createPods && active) {
      if (!refs.ok) {
        // Admitted, then a reference broke (say, its dataset was deleted): nothing to start pods from.
        cond(decision.status, job, now, C.Running, 'False', refs.reason, refs.message);
      } else {
        try {
          await this.createChildren(job, decision.status, await localMounts(this.manager, cached, refs.refs), pods);
        } catch (err) {
          if (!(err instanceof ShareError)) throw err;
          cond(decision.status, job, now, C.Running, 'False', R.NotShareable, err.message);
          notShared = true;
        }
      }
    }

    const wasQueued = cached.status?.phase === 'Queued';
    const waits = [decision.requeueAfterMs];
    // The admission controller's write starts an attempt: its pods' first steps wait for the interval too.
    const attemptStarted = cached.status?.attemptStartTime ? Date.parse(cached.status.attemptStartTime) : 0;
    const sinceProgress = now - Math.max(this.progressWrittenAt.get(key) ?? 0, attemptStarted);
    const onlyProgressMoved =
      cached.status !== undefined && decision.events.length === 0 && !semanticEqual(cached.status, decision.status) && semanticEqual(withoutProgress(cached.status), withoutProgress(decision.status));
    let changed = false;
    if (onlyProgressMoved && sinceProgress < progressWriteIntervalMs) waits.push(progressWriteIntervalMs - sinceProgress);
    else ({ changed } = await this.manager.client.updateStatusIfChanged(octopus.Job, cached, decision.status));
    if (changed) this.progressWrittenAt.set(key, now);
    for (const e of decision.events) this.record(job, e.type, e.reason, e.note);
    // Reservations released or jobs (re)queued change what the admission cycle can do.
    if (changed && (wasQueued !== (decision.status.phase === 'Queued') || decision.status.phase !== cached.status?.phase)) this.onQueueChanged();

    if (!refs.ok || notShared) waits.push(unresolvedRecheckMs);
    if (decision.status.phase === 'Queued' && decision.status.backoffUntil) waits.push(Math.max(0, Date.parse(decision.status.backoffUntil) - now));
    const next = waits.filter((w): w is number => w !== undefined);
    return next.length ? { requeueAfterMs: Math.min(...next) } : undefined;
  }

  private record(job: KubernetesObject, type: 'Normal' | 'Warning', reason: string, note: string): void {
    this.manager.events.record({ regarding: job, type, reason, note });
  }

  private async deletePod(job: Job, name: string): Promise<void> {
    await this.manager.client.deleteIgnoreNotFound({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: job.metadata.namespace! } });
  }

  private async create(resource: ResourceRef, obj: KubernetesObject): Promise<void> {
    try {
      await this.manager.rest.request({ method: 'POST', path: resourcePath(resource, { namespace: obj.metadata!.namespace! }), body: obj });
    } catch (err) {
      // Deterministic names: an object that already exists is the one we wanted.
      if (!isAlreadyExists(err)) throw new Error(`create ${obj.kind} ${obj.metadata?.name}`, { cause: err });
    }
  }

  private async createChildren(job: Job, status: JobStatus, refs: ResolvedReferences, pods: V1Pod[]): Promise<void> {
    const admission = status.admission!;
    const podSets = admission.podSets.map((ps) => ({
      task: ps.task,
      count: ps.count,
      requests: parseResources(ps.resources),
      ...(ps.shmSize ? { shmSize: parseQuantity(ps.shmSize) } : {}),
      ...(ps.nodeSelector ? { nodeSelector: ps.nodeSelector } : {}),
    }));
    const outputClaim = job.spec.output?.model ? outputClaimName(job.metadata.name!) : undefined;
    const resolved: ResolvedJob = {
      job,
      attempt: status.attempt ?? 0,
      podSets,
      image: refs.image,
      ...(refs.imagePullSecret ? { imagePullSecret: refs.imagePullSecret } : {}),
      ...(refs.code ? { code: refs.code } : {}),
      ...(refs.defaultCommand ? { defaultCommand: refs.defaultCommand } : {}),
      datasets: refs.datasets,
      ...(refs.pretrainedModel ? { pretrainedModel: refs.pretrainedModel } : {}),
      ...(outputClaim ? { outputClaim } : {}),
      pool: refs.pool,
      runAsUser: this.ctx.options.runAsUser,
    };
    // Pods mount these, so they exist first; the Service only names pods and can come with them.
    if (job.spec.distribution === 'MPI') await this.create(core.ConfigMap, buildMpiConfigMap(job, podSets));
    // Mounted writable at /model: never a claim of the same name the job does not own.
    if (outputClaim) await ensureOwnClaim(this.manager, job, this.outputClaim(job, outputClaim));
    const existing = new Set(pods.map((p) => p.metadata!.name!));
    // A gang starts together: its pods are created at once, not one round trip after another.
    const creates = buildPods(resolved)
      .filter((pod) => !existing.has(pod.metadata!.name!))
      .map((pod) => this.create(core.Pod, pod));
    if (needsService(job.spec.distribution ?? 'None', podSets)) creates.push(this.create(core.Service, buildService(job)));
    await Promise.all(creates);
    if (status.phase === 'Admitted' && pods.length === 0) this.record(job, 'Normal', 'Started', `created ${podSets.reduce((n, p) => n + p.count, 0)} pods (attempt ${status.attempt ?? 0})`);
  }

  private outputClaim(job: Job, name: string): V1PersistentVolumeClaim {
    const storage = job.spec.output!.model!.storage;
    return {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name,
        namespace: job.metadata.namespace!,
        labels: { [labels.job]: job.metadata.name!, [labels.managedBy]: 'octopus' },
        // Owned by the job until its output is registered; then the Model takes it over, so
        // deleting the finished job (ttlSecondsAfterFinished) keeps the model's weights.
        ownerReferences: [ownerReference(job)],
      },
      spec: {
        accessModes: ['ReadWriteMany'],
        resources: { requests: { storage: String(storage?.size ?? this.ctx.options.importStorageSize) } },
        ...((storage?.storageClassName ?? this.ctx.options.importStorageClass) ? { storageClassName: storage?.storageClassName ?? this.ctx.options.importStorageClass } : {}),
      },
    };
  }

  private async registerOutput(job: Job, refs: ResolvedReferences, now: number): Promise<NonNullable<JobStatus['output']>> {
    const out = job.spec.output!.model!;
    const ns = job.metadata.namespace!;
    const version = out.version ?? job.metadata.name!;
    // "created if absent": the Model is the user's to describe later; we only need it to exist.
    await this.create(octopus.Model, { apiVersion: job.apiVersion, kind: 'Model', metadata: { name: out.name, namespace: ns, labels: { [labels.managedBy]: 'octopus' } }, spec: {} } as Model);
    const terminated = this.caches.pods
      .byIndex(podIndexes.job, `${ns}/${job.metadata.name}`)
      .find((p) => p.status?.phase === 'Succeeded' && p.status.containerStatuses?.[0]?.imageID);
    const imageDigest = terminated?.status?.containerStatuses?.[0]?.imageID?.split('@')[1];
    await registerJobOutput(this.manager, {
      namespace: ns,
      model: out.name,
      version,
      claimName: outputClaimName(job.metadata.name!),
      lineage: {
        job: { name: job.metadata.name!, namespace: ns, uid: job.metadata.uid! },
        attempt: job.status?.attempt ?? 0,
        image: refs.image,
        ...(imageDigest ? { imageDigest } : {}),
        ...(refs.lineage.algorithm ? { algorithm: refs.lineage.algorithm } : {}),
        ...(refs.lineage.datasets.length ? { datasets: refs.lineage.datasets } : {}),
        ...(refs.lineage.pretrainedModel ? { pretrainedModel: refs.lineage.pretrainedModel } : {}),
        finishedAt: rfc3339(now),
      },
    });
    return { model: out.name, version };
  }
}

/**
 * While a Job waits, the admission controller rewrites its queue position and waiting message;
 * nothing in them is the Job controller's to act on. Dropping those updates keeps thousands of
 * queued jobs from crowding new and finishing jobs out of the work queue.
 */
export function worthReconciling(job: Job, old: Job): boolean {
  const waiting = (j: Job) => j.status?.phase === 'Queued' && j.status.admission === undefined;
  if (!waiting(job) || !waiting(old)) return true;
  if (job.metadata.generation !== old.metadata.generation || job.metadata.deletionTimestamp !== old.metadata.deletionTimestamp) return true;
  const { position: _p, conditions: _c, ...rest } = job.status!;
  const { position: _op, conditions: _oc, ...oldRest } = old.status!;
  return !semanticEqual(rest, oldRest);
}

/**
 * Reconciles that start or end what holds quota go before the rest: an admitted job's pods, and a
 * finished pod (its job's end releases the reservation for the next in line). Thousands of new
 * jobs getting their first status must not delay either.
 */
export function awaitsPods(job: Job): boolean {
  return job.status?.phase === 'Admitted' && job.status.admission !== undefined;
}

export const setupJobController: ControllerSetup = (ctx) => {
  const { manager, options } = ctx;
  const { jobs, pods } = schedulingCaches(manager);
  // The two controllers wake each other: created one after the other, linked through this holder.
  const admission: { controller?: { enqueue(key: string): void } } = {};
  const reconciler = new JobReconciler(ctx, () => admission.controller?.enqueue(admissionCycleKey));
  const controller = manager
    .addController({ name: 'job', concurrency: options.jobWorkers, reconcile: (key) => reconciler.reconcile(key) })
    .watches(jobs, undefined, { updated: worthReconciling, urgent: awaitsPods })
    .watches(
      pods,
      (pod: V1Pod) => {
        const job = pod.metadata?.labels?.[labels.job];
        return job ? [`${pod.metadata!.namespace}/${job}`] : [];
      },
      { urgent: podFinished },
    );
  admission.controller = setupAdmission(ctx, (key) => controller.enqueue(key));
};
