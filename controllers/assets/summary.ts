/**
 * An asset's status from its versions' statuses, and the Events a change of them deserves — pure,
 * so the semantics users read (`latestVersion`, the Ready condition) are pinned by table tests.
 */
import { AssetConditions, AssetReasons } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { setCondition, type ConditionUpdate, type EventType } from '../runtime/index.js';
import { clip, VersionReasons } from './import-status.js';
import type { AssetStatus, VersionStatus } from './types.js';

/**
 * `next` in a stable order: versions already listed keep their place, new ones follow in the order
 * given. The list is thus in order of appearance, and its last Ready entry is the newest version,
 * whichever way it came (spec or, for a Model, a Job's output).
 */
export function orderVersions(previous: readonly VersionStatus[] | undefined, next: readonly VersionStatus[]): VersionStatus[] {
  const byName = new Map(next.map((v) => [v.name, v]));
  const kept = (previous ?? []).flatMap((v) => byName.get(v.name) ?? []);
  const keptNames = new Set(kept.map((v) => v.name));
  return [...kept, ...next.filter((v) => !keptNames.has(v.name))];
}

/** The newest Ready version: the last Ready one listed. */
export function latestReadyVersion(versions: readonly VersionStatus[]): string | undefined {
  return versions.filter((v) => v.phase === 'Ready').at(-1)?.name;
}

/** metav1.Condition's limit on a message; many versions with long messages could exceed it. */
const maxConditionMessage = 32768;

/** The Ready condition: True when every version is Ready; otherwise why not, naming the versions. */
export function readyCondition(versions: readonly VersionStatus[]): ConditionUpdate {
  const type = AssetConditions.Ready;
  if (versions.length === 0) return { type, status: 'False', reason: AssetReasons.NoVersions, message: 'no versions are published' };
  const failed = versions.filter((v) => v.phase === 'Failed');
  if (failed.length > 0) {
    const what = failed.map((v) => `${v.name}: ${v.reason ?? 'Failed'}${v.message ? ` (${v.message})` : ''}`).join('; ');
    return { type, status: 'False', reason: AssetReasons.VersionFailed, message: clip(`${failed.length} of ${versions.length} versions failed: ${what}`, maxConditionMessage) };
  }
  const waiting = versions.filter((v) => v.phase !== 'Ready');
  if (waiting.length > 0) {
    const what = waiting.map((v) => `${v.name} (${v.phase}${v.reason ? `, ${v.reason}` : ''})`).join(', ');
    return { type, status: 'False', reason: AssetReasons.VersionsPending, message: clip(`${versions.length - waiting.length} of ${versions.length} versions ready; waiting for ${what}`, maxConditionMessage) };
  }
  return { type, status: 'True', reason: AssetReasons.AllVersionsReady, message: `all ${versions.length} versions are ready` };
}

/**
 * The whole status from the versions' statuses. Recomputing it from an unchanged world yields an
 * equal object (the condition's transition time moves only on a flip), so a steady asset costs no write.
 */
export function assetStatus(previous: AssetStatus | undefined, versions: readonly VersionStatus[], generation: number | undefined, now: number): AssetStatus {
  const ordered = orderVersions(previous?.versions, versions);
  const latestVersion = latestReadyVersion(ordered);
  const latest = ordered.find((v) => v.name === latestVersion);
  return {
    ...(generation !== undefined && { observedGeneration: generation }),
    conditions: setCondition(previous?.conditions, readyCondition(ordered), generation, now),
    versions: ordered,
    versionCount: ordered.length,
    readyVersions: ordered.filter((v) => v.phase === 'Ready').length,
    ...(latestVersion !== undefined && { latestVersion }),
    ...(latest?.size !== undefined && { latestSize: latest.size }),
    ...(latest?.fileCount !== undefined && { latestFileCount: latest.fileCount }),
  };
}

export interface VersionEvent {
  version: string;
  type: EventType;
  reason: string;
  note: string;
}

function importInProgress(v: VersionStatus | undefined): boolean {
  return v?.phase === 'Importing' || (v?.phase === 'Pending' && v.reason === VersionReasons.ImportPending);
}

/** The Event of a version going from `old` to `next`; undefined when nobody needs telling. */
function eventFor(old: VersionStatus | undefined, next: VersionStatus): Omit<VersionEvent, 'version'> | undefined {
  const detail = next.message ? `: ${next.message}` : '';
  if (next.phase === 'Ready') return { type: 'Normal', reason: 'VersionReady', note: `version ${next.name} is ready${detail}` };
  if (next.phase === 'Failed') {
    const ownReason: string[] = [VersionReasons.InvalidFiles, VersionReasons.NameConflict, VersionReasons.StoragePolicyDenied];
    const reason = next.reason && ownReason.includes(next.reason) ? next.reason : 'ImportFailed';
    return { type: 'Warning', reason, note: `version ${next.name} failed (${next.reason ?? 'Failed'})${detail}` };
  }
  if (next.reason === VersionReasons.ImportRetrying) return { type: 'Warning', reason: VersionReasons.ImportRetrying, note: `version ${next.name}${detail}` };
  if (importInProgress(next) && !importInProgress(old)) return { type: 'Normal', reason: 'ImportStarted', note: `importing version ${next.name}` };
  if (next.reason === VersionReasons.ClaimNotFound || next.reason === VersionReasons.ConfigMapNotFound) {
    return { type: 'Warning', reason: next.reason, note: `version ${next.name}${detail}` };
  }
  return undefined;
}

/** One Event per version whose phase or reason changed, when the change is worth telling. */
export function versionEvents(previous: readonly VersionStatus[] | undefined, next: readonly VersionStatus[]): VersionEvent[] {
  const before = new Map((previous ?? []).map((v) => [v.name, v]));
  return next.flatMap((v) => {
    const old = before.get(v.name);
    if (old && old.phase === v.phase && old.reason === v.reason) return [];
    const event = eventFor(old, v);
    return event ? [{ version: v.name, ...event }] : [];
  });
}
