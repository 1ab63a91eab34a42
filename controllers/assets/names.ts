/**
 * Names, labels and annotations of the objects the asset controllers create. Names are
 * deterministic — a function of the asset and version — so a controller that restarts mid-import
 * finds the objects it made instead of making them twice.
 */
import { createHash } from 'node:crypto';
import { chargedToLabel } from '../admission/workloads.js';

export const assetLabels = {
  /** The kind of the asset a child belongs to (Dataset, Algorithm, Model, Image); informers select on it. */
  kind: 'octopus.openi.pcl.cn/asset-kind',
  /** The version a child serves. */
  version: 'octopus.openi.pcl.cn/asset-version',
  /** UID of the owning asset, on cluster-scoped children (PersistentVolumes) that cannot carry an owner reference to it. */
  ownerUid: 'octopus.openi.pcl.cn/owner-uid',
  /** `Job` on children another controller creates for an asset (a Model version's output claim); the asset controller leaves them alone. */
  origin: 'octopus.openi.pcl.cn/origin',
  /** The .metadata.generation of an Image a build Job is for. */
  generation: 'octopus.openi.pcl.cn/generation',
  managedBy: 'app.kubernetes.io/managed-by',
  /** On import and build pods: the namespace whose Quota their requests count against while they run. */
  chargedTo: chargedToLabel,
} as const;

export const managedByValue = 'octopus';

export const assetAnnotations = {
  /** `namespace/name` of the owning asset, where an owner reference cannot lead back to it (volumes, pods of import Jobs). */
  owner: 'octopus.openi.pcl.cn/owner',
} as const;

/** Removes the asset's nfs PersistentVolumes, which garbage collection cannot reach, before the asset goes. */
export const volumeFinalizer = 'octopus.openi.pcl.cn/volumes';

/** Kubernetes' limits: object names are DNS subdomains; a Job's name also becomes a label value on its pods. */
const maxNameLength = 253;
export const maxJobNameLength = 63;

/**
 * `parts` joined with `-`, or, when that is longer than `maxLength`, a prefix of it plus a hash of
 * the whole, so distinct long names stay distinct and the same input always yields the same name.
 */
export function childName(parts: readonly string[], maxLength = maxNameLength): string {
  const full = parts.join('-');
  if (full.length <= maxLength) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 10);
  // A name must end alphanumeric; the cut may land on a separator.
  const prefix = full.slice(0, maxLength - hash.length - 1).replace(/[-.]+$/, '');
  return `${prefix}-${hash}`;
}

/** An asset, as far as its children's names go. */
export interface NamedAsset {
  kind: string;
  metadata: { name?: string; namespace?: string };
}

/**
 * What each kind's children hold, in their names: a Dataset, an Algorithm and a Model often share
 * a name and a version (`resnet`, `v1`) and must never want the same claim.
 */
const contents: Record<string, string[]> = { Dataset: [], Algorithm: ['code'], Model: ['model'] };

function baseName(asset: NamedAsset, version: string): string[] {
  return [asset.metadata.name!, ...(contents[asset.kind] ?? [asset.kind.toLowerCase()]), version];
}

/** The claim a copied version is imported into, and the claim of an nfs version: `imagenet-v1`, `resnet-code-v2`, `resnet50-model-v1`. */
export function versionClaimName(asset: NamedAsset, version: string): string {
  return childName(baseName(asset, version));
}

export function importJobName(asset: NamedAsset, version: string): string {
  return childName([...baseName(asset, version), 'import'], maxJobNameLength);
}

export function exportJobName(asset: NamedAsset, version: string): string {
  return childName([...baseName(asset, version), 'export'], maxJobNameLength);
}

/** PersistentVolumes are cluster-scoped: the namespace is part of the name. */
export function nfsVolumeName(asset: NamedAsset, version: string): string {
  return childName(['octopus', asset.metadata.namespace!, ...baseName(asset, version)]);
}

/** The ConfigMap holding an algorithm version's inline files. */
export function filesConfigMapName(asset: NamedAsset, version: string): string {
  return childName(baseName(asset, version));
}
