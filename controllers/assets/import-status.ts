/**
 * What an import Job and its pods say about a version, as a pure function: the phase, why, how
 * many attempts, and what the importer reported (see children.ts for the importer contract).
 */
import type { V1Job, V1JobCondition, V1Pod } from '@kubernetes/client-node';
import { rfc3339 } from '../runtime/index.js';
import type { VersionStatus } from './types.js';

export const VersionReasons = {
  ImportPending: 'ImportPending',
  Importing: 'Importing',
  ImportRetrying: 'ImportRetrying',
  Imported: 'Imported',
  ImportFailed: 'ImportFailed',
  DeadlineExceeded: 'DeadlineExceeded',
  ClaimNotFound: 'ClaimNotFound',
  ClaimFound: 'ClaimFound',
  /** A user's claim exists but is not bound to a volume yet; the policy judges the volume once it is. */
  ClaimNotBound: 'ClaimNotBound',
  /** The workspace's storage policy does not allow the version's storage (Workspace spec.storage). */
  StoragePolicyDenied: 'StoragePolicyDenied',
  VolumeCreated: 'VolumeCreated',
  ConfigMapNotFound: 'ConfigMapNotFound',
  ConfigMapFound: 'ConfigMapFound',
  ConfigMapCreated: 'ConfigMapCreated',
  InvalidFiles: 'InvalidFiles',
  /** A name the version needs is held by an object the asset does not own. */
  NameConflict: 'NameConflict',
  /** A name the version needs is held by the children of an earlier asset of the same name, still being deleted. */
  WaitingForCleanup: 'WaitingForCleanup',
  Produced: 'Produced',
} as const;

/** The schema's limits on a version's reason and message. */
const maxMessage = 4096;
const camelCase = /^[A-Z][A-Za-z0-9]{0,63}$/;

/** `text` cut to what the status schema accepts. */
export function clip(text: string, max = maxMessage): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The fields of a version's status that an import decides. */
export type ImportObservation = Pick<VersionStatus, 'phase' | 'reason' | 'message' | 'attempts' | 'size' | 'fileCount' | 'manifestDigest' | 'readyTime'>;

export interface ImportReport {
  size?: string;
  fileCount?: number;
  manifestDigest?: string;
}

const digestPattern = /^sha256:[a-f0-9]{64}$/;

function parseJsonObject(text: string | undefined): Record<string, unknown> | undefined {
  if (!text) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An importer's success report, `{"size":"12Gi","files":1234}`, which octopus-data extends with
 * `"manifestDigest":"sha256:…"` (and fields the status does not keep: bytes, resumed, commit);
 * what it lacks or garbles is left out.
 */
export function parseImportReport(message: string | undefined): ImportReport {
  const report = parseJsonObject(message);
  if (!report) return {};
  const { size, files, manifestDigest } = report;
  return {
    ...((typeof size === 'string' && size !== '') || typeof size === 'number' ? { size: String(size) } : {}),
    ...(typeof files === 'number' && Number.isInteger(files) && files >= 0 ? { fileCount: files } : {}),
    ...(typeof manifestDigest === 'string' && digestPattern.test(manifestDigest) ? { manifestDigest } : {}),
  };
}

/** An importer's failure report: `{"reason":"NoSuchBucket","message":"…"}`, or plain text (the message). */
export function parseFailureReport(message: string | undefined): { reason?: string; message?: string } {
  const report = parseJsonObject(message);
  if (report) {
    const reason = typeof report.reason === 'string' && camelCase.test(report.reason) ? report.reason : undefined;
    const text = typeof report.message === 'string' ? report.message : undefined;
    if (reason || text) return { ...(reason && { reason }), ...(text && { message: text }) };
  }
  const text = message?.trim();
  return text ? { message: text } : {};
}

export function jobCondition(job: V1Job, type: string): V1JobCondition | undefined {
  return job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

export function terminationMessage(pod: V1Pod): string | undefined {
  const statuses = pod.status?.containerStatuses ?? [];
  return statuses.map((s) => s.state?.terminated?.message).find((m) => m !== undefined && m !== '');
}

/** When a pod finished, for ordering; the apiserver sends timestamps as strings. */
function finishedAt(pod: V1Pod): string {
  const terminated = pod.status?.containerStatuses?.map((s) => s.state?.terminated?.finishedAt).find((t) => t !== undefined);
  return String(terminated ?? pod.metadata?.creationTimestamp ?? '');
}

/** The pod of `phase` that finished last. */
export function lastPod(pods: readonly V1Pod[], phase: 'Succeeded' | 'Failed'): V1Pod | undefined {
  return pods.filter((p) => p.status?.phase === phase).sort((a, b) => finishedAt(a).localeCompare(finishedAt(b))).at(-1);
}

/**
 * A version's import as its Job and the Job's pods show it. `previous` is the version's last
 * recorded status: a Ready version keeps its readyTime, and keeps size and file count if the
 * pod that reported them is gone.
 */
export function observeImport(job: V1Job, pods: readonly V1Pod[], previous: VersionStatus | undefined, now: number): ImportObservation {
  const failed = job.status?.failed ?? 0;
  const tries = (job.spec?.backoffLimit ?? 0) + 1;
  if (jobCondition(job, 'Complete')) {
    const report = parseImportReport(terminationMessage(lastPod(pods, 'Succeeded') ?? {}));
    const wasReady = previous?.phase === 'Ready';
    const size = report.size ?? (wasReady ? previous.size : undefined);
    const fileCount = report.fileCount ?? (wasReady ? previous.fileCount : undefined);
    const manifestDigest = report.manifestDigest ?? (wasReady ? previous.manifestDigest : undefined);
    const completed = job.status?.completionTime;
    return {
      phase: 'Ready',
      reason: VersionReasons.Imported,
      message: clip(['imported', size, fileCount !== undefined ? `in ${fileCount} files` : undefined].filter(Boolean).join(' ')),
      attempts: failed + 1,
      ...(size !== undefined && { size }),
      ...(fileCount !== undefined && { fileCount }),
      ...(manifestDigest !== undefined && { manifestDigest }),
      readyTime: wasReady && previous.readyTime ? previous.readyTime : completed ? String(completed) : rfc3339(now),
    };
  }
  const lastFailure = parseFailureReport(terminationMessage(lastPod(pods, 'Failed') ?? {}));
  const failedCondition = jobCondition(job, 'Failed');
  if (failedCondition) {
    const deadline = failedCondition.reason === 'DeadlineExceeded';
    return {
      phase: 'Failed',
      reason: lastFailure.reason ?? (deadline ? VersionReasons.DeadlineExceeded : VersionReasons.ImportFailed),
      message: clip(lastFailure.message ?? failedCondition.message ?? `the import failed after ${failed} attempts`),
      attempts: failed,
    };
  }
  const running = pods.some((p) => p.status?.phase === 'Running');
  if (failed > 0) {
    return {
      phase: 'Importing',
      reason: VersionReasons.ImportRetrying,
      message: clip(`attempt ${failed + 1} of ${tries}; attempt ${failed} failed: ${lastFailure.message ?? 'no message'}`),
      attempts: failed + 1,
    };
  }
  if (running) return { phase: 'Importing', reason: VersionReasons.Importing, message: `attempt 1 of ${tries}`, attempts: 1 };
  return { phase: 'Pending', reason: VersionReasons.ImportPending, message: 'waiting for the import pod to start', attempts: 0 };
}

type ExportStatus = NonNullable<VersionStatus['export']>;

/** An export's status as its Job and pods show it; the destination fields are kept from `request`. */
export function observeExport(request: ExportStatus, job: V1Job, pods: readonly V1Pod[]): ExportStatus {
  const { phase: _p, reason: _r, message: _m, manifestDigest: _d, ...destination } = request;
  const base = { ...destination, exportJob: job.metadata?.name };
  if (jobCondition(job, 'Complete')) {
    const report = parseImportReport(terminationMessage(lastPod(pods, 'Succeeded') ?? {}));
    const detail = [report.size, report.fileCount !== undefined ? `in ${report.fileCount} files` : undefined].filter(Boolean).join(' ');
    return { ...base, phase: 'Exported', reason: 'Exported', message: clip(`uploaded ${detail} to ${request.uri}`), ...(report.manifestDigest && { manifestDigest: report.manifestDigest }) };
  }
  if (jobCondition(job, 'Failed')) {
    const failure = parseFailureReport(terminationMessage(lastPod(pods, 'Failed') ?? {}));
    return { ...base, phase: 'Failed', reason: failure.reason ?? 'ExportFailed', message: clip(failure.message ?? 'the export failed') };
  }
  return { ...base, phase: 'Exporting', reason: 'Exporting', message: `uploading to ${request.uri}` };
}
