/**
 * The hook through which a training Job publishes its output as a Model version.
 *
 * Job-produced versions live only in the Model's status (origin `Job`, with lineage): spec is the
 * user's, and a controller never writes it. The Model controller keeps them on every reconcile, and
 * they count for Ready and latestVersion like imported ones.
 */
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { Job, Model } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { VersionReasons } from '../assets/import-status.js';
import { assetLabels } from '../assets/names.js';
import { assetStatus, versionEvents } from '../assets/summary.js';
import type { AssetStatus, ModelVersionStatus } from '../assets/types.js';
import { core, octopus } from '../resources.js';
import { controllerReference, isConflict, isNotFound, TerminalError, type Manager } from '../runtime/index.js';

export type Lineage = NonNullable<ModelVersionStatus['lineage']>;

/** A successful Job's output, to become version `version` of Model `namespace/model`. */
export interface JobOutput {
  namespace: string;
  model: string;
  version: string;
  /** The claim holding the output, in `namespace`. */
  claimName: string;
  subPath?: string;
  size?: string;
  fileCount?: number;
  metrics?: Record<string, string>;
  /** Free-form metadata reported by the job, e.g. hyper-parameters. */
  extra?: Record<string, unknown>;
  lineage: Lineage;
  /** The upload the Job asked for (output.model.s3); read from the Job by registerJobOutput when absent. */
  export?: ExportRequest;
}

export type ExportRequest = Pick<NonNullable<ModelVersionStatus['export']>, 'uri' | 'endpoint' | 'region' | 'secretName'>;
type S3Destination = NonNullable<NonNullable<NonNullable<Job['spec']['output']>['model']>['s3']>;

/** The export a Job's output.model.s3 asks for; the prefix defaults to <model>/<version>/. */
export function exportRequest(destination: S3Destination, model: string, version: string): ExportRequest {
  const raw = destination.prefix ?? `${model}/${version}/`;
  const prefix = raw === '' || raw.endsWith('/') ? raw.replace(/^\/+/, '') : `${raw.replace(/^\/+/, '')}/`;
  return {
    uri: `s3://${destination.bucket}/${prefix}`,
    ...(destination.endpoint && { endpoint: destination.endpoint }),
    ...(destination.region && { region: destination.region }),
    ...(destination.secretRef && { secretName: destination.secretRef.name }),
  };
}

export type MergeResult = { ok: true; status: AssetStatus } | { ok: false; message: string };

/**
 * The Model's status with `output` recorded as a Ready version of origin Job. Idempotent: merging
 * the same Job's output again yields an equal status. A name already used by a spec version or by
 * another Job's output is refused — published versions are immutable.
 */
export function mergeJobVersion(model: Model, output: JobOutput, now: number): MergeResult {
  const status = model.status as AssetStatus | undefined;
  const what = `Model ${output.namespace}/${output.model}`;
  if ((model.spec.versions ?? []).some((v) => v.name === output.version)) {
    return { ok: false, message: `${what} already lists version ${output.version} in spec; a Job cannot publish it` };
  }
  const existing = status?.versions?.find((v) => v.name === output.version);
  if (existing && (existing.origin !== 'Job' || existing.lineage?.job.uid !== output.lineage.job.uid)) {
    const by = existing.lineage ? `Job ${existing.lineage.job.namespace}/${existing.lineage.job.name}` : 'an import';
    return { ok: false, message: `${what} version ${output.version} was already published by ${by}` };
  }
  const entry: ModelVersionStatus = {
    name: output.version,
    phase: 'Ready',
    origin: 'Job',
    reason: VersionReasons.Produced,
    message: `produced by Job ${output.lineage.job.namespace}/${output.lineage.job.name}`,
    claimName: output.claimName,
    ...(output.subPath !== undefined && { subPath: output.subPath }),
    ...(output.size !== undefined && { size: output.size }),
    ...(output.fileCount !== undefined && { fileCount: output.fileCount }),
    ...(output.metrics !== undefined && { metrics: output.metrics }),
    ...(output.extra !== undefined && { extra: output.extra }),
    lineage: output.lineage,
    readyTime: existing?.readyTime ?? output.lineage.finishedAt,
    // Registering again never restarts an export under way or done.
    ...((existing?.export ?? output.export) && { export: existing?.export ?? { ...output.export!, phase: 'Pending' as const } }),
  };
  const others = (status?.versions ?? []).filter((v) => v.name !== output.version);
  return { ok: true, status: assetStatus(status, [...others, entry], status?.observedGeneration, now) };
}

/** The Model's claim on a Job's output claim: it outlives the Job, and the Model controller never retires it. */
function claimTakeover(model: Model, version: string) {
  return {
    metadata: {
      labels: { [assetLabels.kind]: 'Model', [assetLabels.version]: version, [assetLabels.origin]: 'Job' },
      ownerReferences: [controllerReference(model)],
    },
  };
}

/** The export the producing Job's output.model.s3 asks for, read from the Job (gone: none). */
async function exportAskedBy(client: Manager['client'], output: JobOutput): Promise<{ export?: ExportRequest }> {
  try {
    const job = await client.get<Job>(octopus.Job, output.lineage.job.name, output.lineage.job.namespace);
    const destination = job.metadata.uid === output.lineage.job.uid ? job.spec.output?.model?.s3 : undefined;
    return destination ? { export: exportRequest(destination, output.model, output.version) } : {};
  } catch (err) {
    if (isNotFound(err)) return {};
    throw err;
  }
}

/** Attempts on a write conflict (someone else updated the Model meanwhile) before giving up for this reconcile. */
const conflictAttempts = 5;

/**
 * Registers a Job's output as a Model version, for the Job controller to call once the Job
 * succeeded. First the Model takes over the output claim (controller reference, labels), so
 * deleting the finished Job keeps the weights; then the version is written to the Model's status,
 * re-reading the Model on a conflict. Safe to call again after a crash at any point.
 *
 * Throws a `TerminalError` when the Model does not exist or the version name is taken (retrying
 * cannot help; the Job should report it), other errors when the apiserver fails (retry).
 */
export async function registerJobOutput(manager: Pick<Manager, 'client' | 'clock' | 'events'>, jobOutput: JobOutput): Promise<void> {
  const { client } = manager;
  const output = jobOutput.export ? jobOutput : { ...jobOutput, ...(await exportAskedBy(client, jobOutput)) };
  for (let attempt = 1; ; attempt++) {
    let model: Model;
    try {
      model = await client.get<Model>(octopus.Model, output.model, output.namespace);
    } catch (err) {
      if (isNotFound(err)) throw new TerminalError(`Model ${output.namespace}/${output.model} not found: cannot register version ${output.version}`, { cause: err });
      throw err;
    }
    const merged = mergeJobVersion(model, output, manager.clock.now());
    if (!merged.ok) throw new TerminalError(merged.message);
    const claim: V1PersistentVolumeClaim = { apiVersion: 'v1', kind: core.PersistentVolumeClaim.kind, metadata: { name: output.claimName, namespace: output.namespace } };
    await client.patch(claim, claimTakeover(model, output.version));
    try {
      const { changed, object } = await client.updateStatusIfChanged(octopus.Model, model, merged.status);
      if (changed) {
        for (const e of versionEvents(model.status?.versions, merged.status.versions ?? [])) manager.events.record({ regarding: object, type: e.type, reason: e.reason, note: e.note });
      }
      return;
    } catch (err) {
      if (!isConflict(err) || attempt >= conflictAttempts) throw err;
    }
  }
}
