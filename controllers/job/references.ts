/**
 * Resolves what a Job names — image, algorithm, datasets, pretrained model, pool, resource
 * specs — from the caches. A missing or unusable reference keeps the job Queued with a
 * reason naming it; nothing here throws on bad input.
 */
import type { V1Toleration } from '@kubernetes/client-node';
import type { Algorithm, Dataset, Image, Job, Model, ResourcePool, ResourceSpec } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { JobReasons as R } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { resolveAssetVersion, visibilityProblem, type Resolution, type ResolvedVersion } from '../assets/resolve.js';
import type { VersionedAsset } from '../assets/types.js';
import { poolNodeSelector } from '../cluster/nodes.js';
import type { Mount } from './pods.js';

export interface Lookups {
  image(namespace: string, name: string): Image | undefined;
  dataset(namespace: string, name: string): Dataset | undefined;
  algorithm(namespace: string, name: string): Algorithm | undefined;
  model(namespace: string, name: string): Model | undefined;
  pool(name: string): ResourcePool | undefined;
  spec(name: string): ResourceSpec | undefined;
}

export interface ResolvedReferences {
  image: string;
  imagePullSecret?: string;
  code?: Mount;
  defaultCommand?: string[];
  datasets: (Mount & { name: string })[];
  pretrainedModel?: Mount;
  pool: { nodeSelector: Record<string, string>; tolerations: V1Toleration[] };
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

function mountOf(m: ResolvedVersion): Mount {
  return { ...(m.claimName ? { claimName: m.claimName } : {}), ...(m.configMapName ? { configMapName: m.configMapName } : {}), ...(m.subPath ? { subPath: m.subPath } : {}) };
}

function failure(kind: keyof typeof missingReason, r: Exclude<Resolution, ResolvedVersion>): { reason: string; message: string } {
  const reason = r.reason === 'NotFound' ? missingReason[kind] : r.reason === 'NotPublic' ? R.NotPublic : R.VersionNotReady;
  return { reason, message: r.message };
}

export function resolveReferences(job: Job, lookups: Lookups, tag: { key: string; valuePrefix: string }): ReferenceResult {
  const ns = job.metadata.namespace!;
  const fail = (reason: string, message: string): ReferenceResult => ({ ok: false, reason, message });

  let image: string;
  let imagePullSecret: string | undefined;
  if (job.spec.image.reference) {
    image = job.spec.image.reference;
  } else {
    const imageNs = job.spec.image.namespace ?? ns;
    const found = lookups.image(imageNs, job.spec.image.name!);
    const problem = visibilityProblem(found, { name: job.spec.image.name!, namespace: imageNs }, ns, 'Image');
    if (problem || !found) return fail(problem!.reason === 'NotFound' ? R.ImageNotFound : R.NotPublic, problem!.message);
    if (found.status?.phase !== 'Ready' || !found.status.resolvedReference) return fail(R.ImageNotReady, `Image ${imageNs}/${job.spec.image.name} is not Ready (${found.status?.phase ?? 'Pending'})`);
    image = found.status.resolvedReference;
    // A pull secret is usable only in its own namespace; credentials are never copied across.
    if (imageNs === ns && found.spec.pullSecretRef) imagePullSecret = found.spec.pullSecretRef.name;
  }

  const refs: ResolvedReferences = {
    image,
    ...(imagePullSecret ? { imagePullSecret } : {}),
    datasets: [],
    pool: { nodeSelector: {}, tolerations: [] },
    specs: new Map(),
    lineage: { datasets: [] },
  };

  if (job.spec.algorithm) {
    const a = job.spec.algorithm;
    const r = resolveAssetVersion(lookups.algorithm(a.namespace ?? ns, a.name) as VersionedAsset | undefined, a, ns);
    if (!r.resolved) return { ok: false, ...failure('Algorithm', r) };
    refs.code = mountOf(r);
    const algorithm = lookups.algorithm(a.namespace ?? ns, a.name)!;
    const versionSpec = algorithm.spec.versions?.find((v) => v.name === r.version);
    const entrypoint = versionSpec?.entrypoint ?? algorithm.spec.entrypoint;
    if (entrypoint) refs.defaultCommand = entrypoint;
    refs.lineage.algorithm = { name: a.name, namespace: a.namespace ?? ns, version: r.version };
  }

  for (const d of job.spec.datasets ?? []) {
    const dsNs = d.namespace ?? ns;
    const r = resolveAssetVersion(lookups.dataset(dsNs, d.name) as VersionedAsset | undefined, d, ns);
    if (!r.resolved) return { ok: false, ...failure('Dataset', r) };
    if (dsNs !== ns) return fail(R.NotPublic, `Dataset ${dsNs}/${d.name}: mounting another workspace's dataset is not supported yet; copy it into this workspace`);
    refs.datasets.push({ name: d.name, ...mountOf(r) });
    refs.lineage.datasets.push({ name: d.name, namespace: dsNs, version: r.version });
  }

  if (job.spec.pretrainedModel) {
    const m = job.spec.pretrainedModel;
    const mNs = m.namespace ?? ns;
    const r = resolveAssetVersion(lookups.model(mNs, m.name) as VersionedAsset | undefined, m, ns);
    if (!r.resolved) return { ok: false, ...failure('Model', r) };
    if (mNs !== ns) return fail(R.NotPublic, `Model ${mNs}/${m.name}: mounting another workspace's model is not supported yet; copy it into this workspace`);
    refs.pretrainedModel = mountOf(r);
    refs.lineage.pretrainedModel = { name: m.name, namespace: mNs, version: r.version };
  }

  const pool = lookups.pool(job.spec.pool);
  if (!pool) return fail(R.PoolNotFound, `ResourcePool ${job.spec.pool} not found`);
  if (pool.spec.jobTypes && pool.spec.jobTypes.length > 0 && !pool.spec.jobTypes.includes('Train')) {
    return fail(R.PoolNotForTraining, `ResourcePool ${job.spec.pool} does not accept training jobs (jobTypes: ${pool.spec.jobTypes.join(', ')})`);
  }
  refs.pool = { nodeSelector: poolNodeSelector(pool, tag), tolerations: (pool.spec.tolerations ?? []) as V1Toleration[] };

  for (const task of job.spec.tasks) {
    if (!task.resourceSpec) continue;
    const spec = lookups.spec(task.resourceSpec);
    if (!spec) return fail(R.ResourceSpecNotFound, `ResourceSpec ${task.resourceSpec} (task ${task.name}) not found`);
    if (spec.spec.pools && spec.spec.pools.length > 0 && !spec.spec.pools.includes(job.spec.pool)) {
      return fail(R.ResourceSpecNotFound, `ResourceSpec ${task.resourceSpec} (task ${task.name}) does not apply to pool ${job.spec.pool}`);
    }
    refs.specs.set(task.resourceSpec, spec);
  }
  return { ok: true, refs };
}
