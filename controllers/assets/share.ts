/**
 * A Public asset's version used from another namespace. A pod mounts only claims of its own
 * namespace, so the consumer gets a read-only PersistentVolume/PersistentVolumeClaim pair bound to
 * the same storage the source claim's volume points at (NFS path, CSI volume handle, host path).
 * The volume source is copied as is: a secret it names (a CSI node-publish secret) stays a
 * reference to the owner's Secret, never a copy, and the consumer namespace never sees it.
 *
 * The consumer claim is owned by every workload that mounts it, so garbage collection removes it
 * with the last one; its volume is Retain (deleting the object must never touch the data) and is
 * deleted by the shared-volume controller once Released.
 */
import { createHash } from 'node:crypto';
import type { KubernetesObject, V1OwnerReference, V1PersistentVolume, V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { PatchStrategy } from '@kubernetes/client-node';
import { core } from '../resources.js';
import { isAlreadyExists, isNotFound, resourcePath, type Manager, type ResourceRef } from '../runtime/index.js';
import type { Mount } from '../job/pods.js';
import { assetLabels, childName, managedByValue } from './names.js';

/** Marks the pairs made here; the shared-volume controller watches volumes carrying it. */
export const sharedLabel = 'octopus.openi.pcl.cn/shared-claim';
/** `namespace/claim` of the source, on both objects of a pair. */
export const sharedFromAnnotation = 'octopus.openi.pcl.cn/shared-from';

export interface SourceClaim {
  namespace: string;
  claimName: string;
}

const digest = (s: string) => createHash('sha256').update(s).digest('hex');

export function sharedClaimName(source: SourceClaim): string {
  // The source namespace is part of the name: two namespaces' claims of the same name stay apart.
  return childName(['shared', source.namespace, source.claimName], 63);
}

export function sharedVolumeName(consumerNamespace: string, source: SourceClaim): string {
  return `octopus-shared-${digest(`${consumerNamespace}/${source.namespace}/${source.claimName}`).slice(0, 20)}`;
}

/** Volume sources with a readOnly switch; set it, since a shared version is only ever read. */
const readOnlySources = ['nfs', 'csi', 'iscsi', 'rbd', 'cephfs', 'fc', 'azureFile', 'glusterfs', 'portworxVolume', 'quobyte', 'storageos'] as const;

/** The consumer's volume for `sourceVolume` (the volume the source claim is bound to), or why there can be none. */
export function desiredSharedVolume(sourceVolume: V1PersistentVolume, consumerNamespace: string, source: SourceClaim): V1PersistentVolume | { error: string } {
  const spec = sourceVolume.spec;
  if (!spec) return { error: `PersistentVolume ${sourceVolume.metadata?.name} has no spec` };
  const { claimRef: _claimRef, storageClassName: _class, persistentVolumeReclaimPolicy: _policy, accessModes: _modes, ...volume } = spec;
  const shared = { ...volume } as Record<string, unknown>;
  for (const key of readOnlySources) {
    const v = shared[key];
    if (v && typeof v === 'object') shared[key] = { ...v, readOnly: true };
  }
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: {
      name: sharedVolumeName(consumerNamespace, source),
      labels: { [assetLabels.managedBy]: managedByValue, [sharedLabel]: 'true' },
      annotations: { [sharedFromAnnotation]: `${source.namespace}/${source.claimName}` },
    },
    spec: {
      ...(shared as V1PersistentVolume['spec']),
      accessModes: ['ReadOnlyMany'],
      persistentVolumeReclaimPolicy: 'Retain',
      // No class: the volume is pre-bound below, and no provisioner may claim or delete it.
      storageClassName: '',
      claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: consumerNamespace, name: sharedClaimName(source) },
    },
  };
}

export function desiredSharedClaim(volume: V1PersistentVolume, consumerNamespace: string, source: SourceClaim, owner: V1OwnerReference): V1PersistentVolumeClaim {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: sharedClaimName(source),
      namespace: consumerNamespace,
      labels: { [assetLabels.managedBy]: managedByValue, [sharedLabel]: 'true' },
      annotations: { [sharedFromAnnotation]: `${source.namespace}/${source.claimName}` },
      ownerReferences: [owner],
    },
    spec: {
      accessModes: ['ReadOnlyMany'],
      storageClassName: '',
      volumeName: volume.metadata!.name!,
      resources: { requests: { storage: volume.spec?.capacity?.storage ?? '1Gi' } },
    },
  };
}

/** An owner reference that keeps the shared claim while `owner` lives, without claiming control of it. */
export function sharingReference(owner: KubernetesObject): V1OwnerReference {
  return { apiVersion: owner.apiVersion!, kind: owner.kind!, name: owner.metadata!.name!, uid: owner.metadata!.uid! };
}

/** Thrown when a pair cannot be made (yet); the message names the claim and the reason. */
export class ShareError extends Error {}

/**
 * Makes (or joins) the pair for `source` in the namespace of `owner`, returning the consumer
 * claim's name. Idempotent and cheap once made (one GET): a restart, or the next reconcile, finds
 * the objects by their deterministic names.
 */
export async function ensureSharedClaim(manager: Pick<Manager, 'client' | 'rest'>, owner: KubernetesObject, source: SourceClaim): Promise<string> {
  const consumerNamespace = owner.metadata!.namespace!;
  const name = sharedClaimName(source);
  const reference = sharingReference(owner);
  const existing = await getOrUndefined<V1PersistentVolumeClaim>(manager, core.PersistentVolumeClaim, name, consumerNamespace);
  if (existing) {
    await joinOwners(manager, existing, reference);
    return name;
  }
  const what = `claim ${source.namespace}/${source.claimName}`;
  const sourceClaim = await getOrUndefined<V1PersistentVolumeClaim>(manager, core.PersistentVolumeClaim, source.claimName, source.namespace);
  if (!sourceClaim) throw new ShareError(`${what} not found`);
  const volumeName = sourceClaim.spec?.volumeName;
  if (!volumeName || sourceClaim.status?.phase !== 'Bound') throw new ShareError(`${what} is not bound to a volume yet`);
  const sourceVolume = await manager.client.get<V1PersistentVolume>(core.PersistentVolume, volumeName);
  const volume = desiredSharedVolume(sourceVolume, consumerNamespace, source);
  if ('error' in volume) throw new ShareError(`${what}: ${volume.error}`);
  await createIgnoreExisting(manager, volume);
  const claim = desiredSharedClaim(volume, consumerNamespace, source, reference);
  // Another workload may have made it meanwhile: then join its owners.
  if (!(await createIgnoreExisting(manager, claim))) await joinOwners(manager, claim, reference);
  return name;
}

/** `mount` as the workload `owner` mounts it: a claim of another namespace becomes the shared claim of its own. */
export async function localMount<M extends Mount>(manager: Pick<Manager, 'client' | 'rest'>, owner: KubernetesObject, mount: M): Promise<M> {
  if (!mount.claimNamespace || !mount.claimName) return mount;
  const { claimNamespace, ...local } = mount;
  return { ...local, claimName: await ensureSharedClaim(manager, owner, { namespace: claimNamespace, claimName: mount.claimName }) } as M;
}

/** A workload's mounts with every claim of another namespace replaced by its shared claim. */
export async function localMounts<R extends { code?: Mount; datasets: Mount[]; pretrainedModel?: Mount }>(manager: Pick<Manager, 'client' | 'rest'>, owner: KubernetesObject, refs: R): Promise<R> {
  const local = <M extends Mount>(m: M) => localMount(manager, owner, m);
  return {
    ...refs,
    ...(refs.code ? { code: await local(refs.code) } : {}),
    datasets: await Promise.all(refs.datasets.map(local)),
    ...(refs.pretrainedModel ? { pretrainedModel: await local(refs.pretrainedModel) } : {}),
  };
}

async function getOrUndefined<T extends KubernetesObject>(manager: Pick<Manager, 'client'>, resource: ResourceRef, name: string, namespace: string): Promise<T | undefined> {
  try {
    return await manager.client.get<T>(resource, name, namespace);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

async function joinOwners(manager: Pick<Manager, 'client'>, claim: V1PersistentVolumeClaim, reference: V1OwnerReference): Promise<void> {
  if (claim.metadata?.ownerReferences?.some((r) => r.uid === reference.uid)) return;
  // A strategic merge adds to the list by uid, whoever else owns the claim.
  await manager.client.patch(claim, { metadata: { ownerReferences: [reference] } }, PatchStrategy.StrategicMergePatch);
}

/** True when created, false when it already existed. */
async function createIgnoreExisting(manager: Pick<Manager, 'rest'>, obj: V1PersistentVolume | V1PersistentVolumeClaim): Promise<boolean> {
  const resource = obj.kind === 'PersistentVolume' ? core.PersistentVolume : core.PersistentVolumeClaim;
  const namespace = obj.metadata?.namespace;
  try {
    await manager.rest.request({ method: 'POST', path: resourcePath(resource, namespace ? { namespace } : {}), body: obj });
    return true;
  } catch (err) {
    if (isAlreadyExists(err)) return false;
    throw err;
  }
}
