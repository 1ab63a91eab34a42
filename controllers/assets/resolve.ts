/**
 * Resolving a reference to an asset version, for the controllers that mount assets (Job, Notebook,
 * ModelService). Pure: the caller reads the asset from its cache. Across namespaces only Public
 * assets resolve — a Private asset is invisible outside its namespace, whoever asks.
 */
import type { Visibility } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { VersionStatus, VersionedAsset } from './types.js';

export const ResolveReasons = {
  /** No such asset (in that namespace). */
  NotFound: 'NotFound',
  /** The asset is in another namespace and not Public. */
  NotPublic: 'NotPublic',
  /** The asset has no version of that name. */
  VersionNotFound: 'VersionNotFound',
  /** The version (or, with none named, every version) is not Ready yet, or failed. */
  VersionNotReady: 'VersionNotReady',
} as const;
export type ResolveReason = (typeof ResolveReasons)[keyof typeof ResolveReasons];

export interface AssetReference {
  name: string;
  /** Defaults to the referring object's namespace. */
  namespace?: string;
  /** Defaults to the asset's latest Ready version. */
  version?: string;
}

/** Where a Ready version's content is: a claim (with a path inside it) or a ConfigMap, in `namespace`. */
export interface ResolvedVersion {
  resolved: true;
  namespace: string;
  name: string;
  version: string;
  claimName?: string;
  subPath?: string;
  configMapName?: string;
  /** The version's full status, e.g. a Model version's lineage. */
  status: VersionStatus;
}

export interface Unresolved {
  resolved: false;
  reason: ResolveReason;
  /** For a condition or an Event on the referring object. */
  message: string;
}

export type Resolution = ResolvedVersion | Unresolved;

interface Shared {
  kind?: string;
  metadata: { name?: string; namespace?: string };
  spec: { visibility?: Visibility };
}

/**
 * Why `obj`, found (or not) for a reference `ref` made from `fromNamespace`, may not be used; or
 * undefined when it may. Shared by assets and Images.
 */
export function visibilityProblem(obj: Shared | undefined, ref: { name: string; namespace?: string }, fromNamespace: string, kind: string): Unresolved | undefined {
  const namespace = ref.namespace ?? fromNamespace;
  if (!obj) return { resolved: false, reason: ResolveReasons.NotFound, message: `${kind} ${namespace}/${ref.name} not found` };
  if (namespace !== fromNamespace && obj.spec.visibility !== 'Public') {
    // Same words as NotFound would leak less, but users need to know which knob to turn.
    return { resolved: false, reason: ResolveReasons.NotPublic, message: `${kind} ${namespace}/${ref.name} is not Public, so it cannot be used from namespace ${fromNamespace}` };
  }
  return undefined;
}

/** A version listed in spec, or recorded in status by a Job (Model outputs): retired versions linger in status until the next reconcile. */
function isPublished(asset: VersionedAsset, version: VersionStatus): boolean {
  return version.origin === 'Job' || (asset.spec.versions ?? []).some((v) => v.name === version.name);
}

/**
 * Resolves `ref`, made from an object in `fromNamespace`, against `asset` (the object the cache
 * holds under the reference's namespace and name, or undefined). With no version named, the
 * asset's latest Ready version is used.
 */
export function resolveAssetVersion(asset: VersionedAsset | undefined, ref: AssetReference, fromNamespace: string): Resolution {
  const kind = asset?.kind ?? 'asset';
  const problem = visibilityProblem(asset, ref, fromNamespace, kind);
  if (problem || !asset) return problem!;
  const namespace = ref.namespace ?? fromNamespace;
  const what = `${kind} ${namespace}/${ref.name}`;
  const versions = (asset.status?.versions ?? []).filter((v) => isPublished(asset, v));
  const wanted = ref.version ?? asset.status?.latestVersion;
  const entry = versions.find((v) => v.name === wanted);
  if (ref.version === undefined && (!entry || entry.phase !== 'Ready')) {
    return { resolved: false, reason: ResolveReasons.VersionNotReady, message: `${what} has no Ready version yet` };
  }
  if (!entry) {
    const inSpec = (asset.spec.versions ?? []).some((v) => v.name === ref.version);
    return inSpec
      ? { resolved: false, reason: ResolveReasons.VersionNotReady, message: `${what} version ${ref.version} is not observed yet` }
      : { resolved: false, reason: ResolveReasons.VersionNotFound, message: `${what} has no version ${ref.version}` };
  }
  if (entry.phase !== 'Ready') {
    const why = entry.message ? `: ${entry.message}` : '';
    return { resolved: false, reason: ResolveReasons.VersionNotReady, message: `${what} version ${entry.name} is ${entry.phase}${why}` };
  }
  return {
    resolved: true,
    namespace,
    name: ref.name,
    version: entry.name,
    ...(entry.claimName !== undefined && { claimName: entry.claimName }),
    ...(entry.subPath !== undefined && { subPath: entry.subPath }),
    ...(entry.configMapName !== undefined && { configMapName: entry.configMapName }),
    status: entry,
  };
}
