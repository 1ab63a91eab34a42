/**
 * An Image's status as a pure function of its spec and its current build Job, plus the Events a
 * change of phase deserves.
 */
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { ImageConditions, ImageReasons, type Image } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { clip, jobCondition, lastPod, parseFailureReport } from '../assets/import-status.js';
import { setCondition, type EventType } from '../runtime/index.js';

export type ImageStatus = NonNullable<Image['status']>;

/** Reasons beyond the API's ImageReasons. */
export const ImageBuildReasons = {
  ...ImageReasons,
  /** A build with no destination, and no registry configured to derive one. */
  NoRegistry: 'NoRegistry',
  /** The build Job's name is held by a Job the Image does not own. */
  NameConflict: 'NameConflict',
  /** The spec asks for what a build may not do (a destination outside the workspace's prefix, a workspace Secret). */
  BuildRefused: 'BuildRefused',
} as const;

const digestPattern = /^sha256:[a-f0-9]{64}$/;

/** The digest a build reported: `sha256:…`, a pushed reference `…@sha256:…` (crane's --image-refs) or `{"digest":"sha256:…"}`. */
export function parseDigest(message: string | undefined): string | undefined {
  const text = message?.trim();
  if (!text) return undefined;
  if (digestPattern.test(text)) return text;
  const pinned = referenceDigest(text);
  if (pinned) return pinned;
  try {
    const digest = (JSON.parse(text) as { digest?: unknown }).digest;
    return typeof digest === 'string' && digestPattern.test(digest) ? digest : undefined;
  } catch {
    return undefined;
  }
}

/** The digest a reference pins, if it does. */
export function referenceDigest(reference: string): string | undefined {
  const at = reference.lastIndexOf('@');
  return at >= 0 && digestPattern.test(reference.slice(at + 1)) ? reference.slice(at + 1) : undefined;
}

/** A build pod's report: the push step's message, else the build step's (a failed build never starts the push). */
export function buildMessage(pod: V1Pod): string | undefined {
  const statuses = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])];
  return statuses.map((s) => s.state?.terminated?.message).find((m) => m !== undefined && m !== '');
}

type Phase = NonNullable<ImageStatus['phase']>;

interface Observation {
  phase: Phase;
  reason: string;
  message: string;
  resolvedReference?: string;
  digest?: string;
  buildJob?: string;
  builtGeneration?: number;
}

/** What a build of the current generation shows: its Job (undefined before it exists) and the Job's pods. */
export interface BuildState {
  destination: string | undefined;
  jobName: string;
  job: V1Job | undefined;
  pods: readonly V1Pod[];
  /** Why the build cannot run: its Job's name is held by someone else's Job. */
  conflict?: string;
  /** Why the build may not run: the refused fields and reasons. */
  refused?: string;
}

/** The last good build's reference and digest stay while a new generation builds or after it failed: the image still exists. */
function lastGood(previous: ImageStatus | undefined): Pick<Observation, 'resolvedReference' | 'digest'> {
  return {
    ...(previous?.resolvedReference !== undefined && { resolvedReference: previous.resolvedReference }),
    ...(previous?.digest !== undefined && { digest: previous.digest }),
  };
}

function observe(image: Image, build: BuildState | undefined): Observation {
  const previous = image.status;
  const generation = image.metadata.generation ?? 0;
  if (image.spec.reference !== undefined) {
    const digest = referenceDigest(image.spec.reference);
    return { phase: 'Ready', reason: ImageReasons.Referenced, message: `uses ${image.spec.reference}`, resolvedReference: image.spec.reference, ...(digest && { digest }) };
  }
  if (!build?.destination) {
    return { phase: 'Failed', reason: ImageBuildReasons.NoRegistry, message: 'builds are off: the controller has no --build-registry to push to', ...lastGood(previous) };
  }
  if (build.refused) return { phase: 'Failed', reason: ImageBuildReasons.BuildRefused, message: build.refused, ...lastGood(previous) };
  if (build.conflict) return { phase: 'Failed', reason: ImageBuildReasons.NameConflict, message: build.conflict, ...lastGood(previous) };
  const { job, pods, jobName, destination } = build;
  if (!job) {
    // A successful build stays built when its Job is removed; a failed one is built again.
    if (previous?.builtGeneration === generation && previous.phase === 'Ready') {
      const ready = findReady(previous);
      return { phase: 'Ready', reason: ready?.reason ?? ImageReasons.Built, message: ready?.message ?? '', builtGeneration: generation, ...lastGood(previous) };
    }
    return { phase: 'Pending', reason: ImageReasons.Building, message: `creating build Job ${jobName}`, ...lastGood(previous) };
  }
  if (jobCondition(job, 'Complete')) {
    const digest = parseDigest(buildMessage(lastPod(pods, 'Succeeded') ?? {}));
    const resolvedReference = digest ? `${destination}@${digest}` : destination;
    return { phase: 'Ready', reason: ImageReasons.Built, message: `generation ${generation} pushed to ${resolvedReference}`, resolvedReference, ...(digest && { digest }), buildJob: jobName, builtGeneration: generation };
  }
  const failed = jobCondition(job, 'Failed');
  if (failed) {
    const report = parseFailureReport(buildMessage(lastPod(pods, 'Failed') ?? {}));
    return { phase: 'Failed', reason: ImageReasons.BuildFailed, message: clip(report.message ?? failed.message ?? 'the build failed'), buildJob: jobName, builtGeneration: generation, ...lastGood(previous) };
  }
  return { phase: 'Building', reason: ImageReasons.Building, message: `building generation ${generation} into ${destination}`, buildJob: jobName, ...lastGood(previous) };
}

function findReady(status: ImageStatus | undefined) {
  return status?.conditions?.find((c) => c.type === ImageConditions.Ready);
}

/** The Image's status; equal to the previous one when nothing changed, so a steady Image costs no write. */
export function imageStatus(image: Image, build: BuildState | undefined, now: number): ImageStatus {
  const o = observe(image, build);
  const generation = image.metadata.generation;
  const ready = { type: ImageConditions.Ready, status: o.phase === 'Ready' ? ('True' as const) : ('False' as const), reason: o.reason, message: o.message };
  return {
    ...(generation !== undefined && { observedGeneration: generation }),
    conditions: setCondition(image.status?.conditions, ready, generation, now),
    phase: o.phase,
    ...(o.resolvedReference !== undefined && { resolvedReference: o.resolvedReference }),
    ...(o.digest !== undefined && { digest: o.digest }),
    ...(o.buildJob !== undefined && { buildJob: o.buildJob }),
    ...(o.builtGeneration !== undefined && { builtGeneration: o.builtGeneration }),
  };
}

export interface ImageEvent {
  type: EventType;
  reason: string;
  note: string;
}

/** The Event of a change of phase or reason; none when neither changed. */
export function imageEvent(previous: ImageStatus | undefined, next: ImageStatus): ImageEvent | undefined {
  const before = findReady(previous);
  const after = findReady(next);
  if (!after || (previous?.phase === next.phase && before?.reason === after.reason)) return undefined;
  const note = after.message;
  switch (next.phase) {
    case 'Ready':
      return { type: 'Normal', reason: after.reason === ImageReasons.Referenced ? 'Referenced' : 'Built', note };
    case 'Failed':
      return { type: 'Warning', reason: after.reason, note };
    case 'Building':
      return { type: 'Normal', reason: 'BuildStarted', note };
    default:
      return undefined;
  }
}
