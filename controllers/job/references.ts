/**
 * Resolves what a workload names — image, algorithm, datasets, pretrained model, pool, resource
 * specs — from the caches: a Job here, and through the exported pieces a Notebook or a
 * ModelService. A missing or unusable reference keeps the workload waiting with a reason naming
 * it; nothing here throws on bad input.
 */
import type { V1Toleration } from '@kubernetes/client-node';
import type { Algorithm, Dataset, Image, ImageSelector, Job, JobType, Model, ResourcePool, ResourceSpec, Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { JobReasons as R } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { resolveAssetVersion, visibilityProblem, type AssetReference, type Resolution, type ResolvedVersion } from '../assets/resolve.js';
import { storageClassProblem, storagePolicyOf } from '../assets/storage-policy.js';
import type { VersionedAsset } from '../assets/types.js';
import { poolNodeSelector } from '../cluster/nodes.js';
import type { Mount, PoolPlacement } from './pods.js';

export interface Lookups {
  image(namespace: string, name: string): Image | undefined;
  dataset(namespace: string, name: string): Dataset | undefined;
  algorithm(namespace: string, name: string): Algorithm | undefined;
  model(namespace: string, name: string): Model | undefined;
  pool(name: string): ResourcePool | undefined;
  spec(name: string): ResourceSpec | undefined;
  /** The Workspace owning a namespace (same name), if the namespace is a workspace's. */
  workspace(name: string): Workspace | undefined;
}

export interface ResolvedReferences {
  image: string;
  imagePullSecret?: string;
  code?: Mount;
  defaultCommand?: string[];
  datasets: (Mount & { name: string })[];
  pretrainedModel?: Mount;
  pool: PoolPlacement;
  specs: Map<string, ResourceSpec>;
  /** For lineage: the versions actually used. */
  lineage: {
    algorithm?: { name: string; namespace: string; version: string };
    datasets: { name: string; namespace: string; version: string }[];
    pretrainedModel?: { name: string; namespace: string; version: string };
  };
}

export type ReferenceResult = { ok: true; refs: ResolvedReferences } | { ok: false; reason: string; message: string };

const missingReason = { Dataset: R.DatasetNotFound, Algorithm: R.AlgorithmNotFound, Model: R.ModelNotFound } as const;

/**
 * Where a resolved version is mounted from. A claim of another namespace is shared into the
 * workload's when its children are made; a ConfigMap cannot be, short of copying it.
 */
function mountOf(m: ResolvedVersion, ns: string, kind: string): { ok: true; mount: Mount } | Failure {
  const foreign = m.namespace !== ns;
  if (foreign && m.configMapName) return fail(R.NotShareable, `${kind} ${m.namespace}/${m.name} version ${m.version} lives in ConfigMap ${m.configMapName}, which cannot be mounted from namespace ${ns}`);
  return {
    ok: true,
    mount: {
      ...(m.claimName ? { claimName: m.claimName } : {}),
      ...(foreign && m.claimName ? { claimNamespace: m.namespace } : {}),
      ...(m.configMapName ? { configMapName: m.configMapName } : {}),
      ...(m.subPath ? { subPath: m.subPath } : {}),
    },
  };
}

function failure(kind: keyof typeof missingReason, r: Exclude<Resolution, ResolvedVersion>): { reason: string; message: string } {
  const reason = r.reason === 'NotFound' ? missingReason[kind] : r.reason === 'NotPublic' ? R.NotPublic : R.VersionNotReady;
  return { reason, message: r.message };
}

type Failure = { ok: false; reason: string; message: string };
const fail = (reason: string, message: string): Failure => ({ ok: false, reason, message });

/** The image a workload runs: a registry reference as given, or a Ready Octopus Image pinned to its resolved reference. */
export function resolveImage(selector: ImageSelector, namespace: string, lookups: Pick<Lookups, 'image'>): { ok: true; image: string; imagePullSecret?: string } | Failure {
  if (selector.reference) return { ok: true, image: selector.reference };
  const imageNs = selector.namespace ?? namespace;
  const found = lookups.image(imageNs, selector.name!);
  const problem = visibilityProblem(found, { name: selector.name!, namespace: imageNs }, namespace, 'Image');
  if (problem || !found) return fail(problem!.reason === 'NotFound' ? R.ImageNotFound : R.NotPublic, problem!.message);
  if (found.status?.phase !== 'Ready' || !found.status.resolvedReference) return fail(R.ImageNotReady, `Image ${imageNs}/${selector.name} is not Ready (${found.status?.phase ?? 'Pending'})`);
  // A pull secret is usable only in its own namespace; credentials are never copied across.
  const imagePullSecret = imageNs === namespace ? found.spec.pullSecretRef?.name : undefined;
  return { ok: true, image: found.status.resolvedReference, ...(imagePullSecret ? { imagePullSecret } : {}) };
}

/** A Model version to mount; only from the workload's own namespace for now (mounting across namespaces needs a read-only PV/PVC pair). */
export function resolveModelVersion(ref: AssetReference, namespace: string, lookups: Pick<Lookups, 'model'>): { ok: true; mount: Mount; version: string } | Failure {
  const mNs = ref.namespace ?? namespace;
  const r = resolveAssetVersion(lookups.model(mNs, ref.name) as VersionedAsset | undefined, ref, namespace);
  if (!r.resolved) return { ok: false, ...failure('Model', r) };
  const mount = mountOf(r, namespace, 'Model');
  return mount.ok ? { ok: true, mount: mount.mount, version: r.version } : mount;
}

/** Which workload type asks for a pool, and how a refusal is worded. */
export interface PoolUse {
  jobType: JobType;
  /** The condition reason when the pool does not accept this type. */
  reason: string;
  /** E.g. "training jobs". */
  what: string;
}

export const trainingPoolUse: PoolUse = { jobType: 'Train', reason: R.PoolNotForTraining, what: 'training jobs' };

/**
 * The pool's node selector, tolerations and scheduler, if the workspace of `namespace` may use the pool,
 * it exists and accepts the workload type.
 */
export function resolvePool(
  name: string,
  namespace: string,
  lookups: Pick<Lookups, 'pool' | 'workspace'>,
  tag: { key: string; valuePrefix: string },
  use: PoolUse,
): { ok: true; pool: ResolvedReferences['pool'] } | Failure {
  const allowed = lookups.workspace(namespace)?.spec.pools ?? [];
  if (allowed.length > 0 && !allowed.includes(name)) return fail(R.PoolNotInWorkspace, `ResourcePool ${name} is not one Workspace ${namespace} may use (spec.pools: ${allowed.join(', ')})`);
  const pool = lookups.pool(name);
  if (!pool) return fail(R.PoolNotFound, `ResourcePool ${name} not found`);
  if (pool.spec.jobTypes && pool.spec.jobTypes.length > 0 && !pool.spec.jobTypes.includes(use.jobType)) {
    return fail(use.reason, `ResourcePool ${name} does not accept ${use.what} (jobTypes: ${pool.spec.jobTypes.join(', ')})`);
  }
  const placement: PoolPlacement = { nodeSelector: poolNodeSelector(pool, tag), tolerations: (pool.spec.tolerations ?? []) as V1Toleration[] };
  if (pool.spec.schedulerName) placement.schedulerName = pool.spec.schedulerName;
  return { ok: true, pool: placement };
}

/** A ResourceSpec that exists and applies to `pool` (any pool when none is given); `where` names its user in messages, e.g. "task worker". */
export function resolveResourceSpec(name: string, pool: string | undefined, lookups: Pick<Lookups, 'spec'>, where?: string): { ok: true; spec: ResourceSpec } | Failure {
  const of = where ? ` (${where})` : '';
  const spec = lookups.spec(name);
  if (!spec) return fail(R.ResourceSpecNotFound, `ResourceSpec ${name}${of} not found`);
  if (pool !== undefined && spec.spec.pools && spec.spec.pools.length > 0 && !spec.spec.pools.includes(pool)) {
    return fail(R.ResourceSpecNotFound, `ResourceSpec ${name}${of} does not apply to pool ${pool}`);
  }
  return { ok: true, spec };
}

/** What a pod-running workload (Job, Notebook) names. */
export interface WorkloadReferences {
  image: ImageSelector;
  algorithm?: AssetReference;
  datasets?: AssetReference[];
  pretrainedModel?: AssetReference;
  pool: string;
  /** ResourceSpecs used, with where each is named (for messages). */
  resourceSpecs: { name: string; where?: string }[];
}

export function resolveWorkload(w: WorkloadReferences, ns: string, lookups: Lookups, tag: { key: string; valuePrefix: string }, use: PoolUse): ReferenceResult {
  const image = resolveImage(w.image, ns, lookups);
  if (!image.ok) return image;

  const refs: ResolvedReferences = {
    image: image.image,
    ...(image.imagePullSecret ? { imagePullSecret: image.imagePullSecret } : {}),
    datasets: [],
    pool: { nodeSelector: {}, tolerations: [] },
    specs: new Map(),
    lineage: { datasets: [] },
  };

  if (w.algorithm) {
    const a = w.algorithm;
    const r = resolveAssetVersion(lookups.algorithm(a.namespace ?? ns, a.name) as VersionedAsset | undefined, a, ns);
    if (!r.resolved) return { ok: false, ...failure('Algorithm', r) };
    const mount = mountOf(r, ns, 'Algorithm');
    if (!mount.ok) return mount;
    refs.code = mount.mount;
    const algorithm = lookups.algorithm(a.namespace ?? ns, a.name)!;
    const versionSpec = algorithm.spec.versions?.find((v) => v.name === r.version);
    const entrypoint = versionSpec?.entrypoint ?? algorithm.spec.entrypoint;
    if (entrypoint) refs.defaultCommand = entrypoint;
    refs.lineage.algorithm = { name: a.name, namespace: a.namespace ?? ns, version: r.version };
  }

  for (const d of w.datasets ?? []) {
    const dsNs = d.namespace ?? ns;
    const r = resolveAssetVersion(lookups.dataset(dsNs, d.name) as VersionedAsset | undefined, d, ns);
    if (!r.resolved) return { ok: false, ...failure('Dataset', r) };
    const mount = mountOf(r, ns, 'Dataset');
    if (!mount.ok) return mount;
    refs.datasets.push({ name: d.name, ...mount.mount });
    refs.lineage.datasets.push({ name: d.name, namespace: dsNs, version: r.version });
  }

  if (w.pretrainedModel) {
    const m = w.pretrainedModel;
    const r = resolveModelVersion(m, ns, lookups);
    if (!r.ok) return r;
    refs.pretrainedModel = r.mount;
    refs.lineage.pretrainedModel = { name: m.name, namespace: m.namespace ?? ns, version: r.version };
  }

  const pool = resolvePool(w.pool, ns, lookups, tag, use);
  if (!pool.ok) return pool;
  refs.pool = pool.pool;

  for (const { name, where } of w.resourceSpecs) {
    const spec = resolveResourceSpec(name, w.pool, lookups, where);
    if (!spec.ok) return spec;
    refs.specs.set(name, spec.spec);
  }
  return { ok: true, refs };
}

/** A Job's references; once admitted, its pool is the admitted one, so its pods go where admission placed them whatever spec.pool says. */
export function resolveReferences(job: Job, lookups: Lookups, tag: { key: string; valuePrefix: string }): ReferenceResult {
  const resourceSpecs = job.spec.tasks.flatMap((t) => (t.resourceSpec ? [{ name: t.resourceSpec, where: `task ${t.name}` }] : []));
  const pool = job.status?.admission?.pool ?? job.spec.pool;
  const resolved = resolveWorkload({ ...job.spec, pool, resourceSpecs }, job.metadata.namespace!, lookups, tag, trainingPoolUse);
  return resolved.ok ? (storageClassDenied(job.spec.output?.model?.storage?.storageClassName, 'spec.output.model.storage.storageClassName', job.metadata.namespace!, lookups) ?? resolved) : resolved;
}

/**
 * A storage request's StorageClass judged again by the Workspace's storage policy, which may have
 * narrowed since the webhook let it in: the claim is not made while the policy denies it.
 */
export function storageClassDenied(storageClassName: string | undefined, field: string, namespace: string, lookups: Pick<Lookups, 'workspace'>): Failure | undefined {
  const problem = storageClassProblem(storagePolicyOf(lookups.workspace(namespace)), namespace, storageClassName);
  return problem === undefined ? undefined : fail(R.StoragePolicyDenied, `${field}: ${problem}`);
}
