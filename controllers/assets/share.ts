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
import type { Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { core, octopus } from '../resources.js';
import { isAlreadyExists, isNotFound, resourcePath, type Manager, type ResourceRef } from '../runtime/index.js';
import type { Mount } from '../job/pods.js';
import { assetLabels, managedByValue } from './names.js';
import { storagePolicyOf, volumeProblem } from './storage-policy.js';

/** Marks the pairs made here; the shared-volume controller watches volumes carrying it. */
export const sharedLabel = 'octopus.openi.pcl.cn/shared-claim';
/** `namespace/claim` of the source, on both objects of a pair. */
export const sharedFromAnnotation = 'octopus.openi.pcl.cn/shared-from';
/** UID of the source claim, on both objects of a pair: a claim is reused only for the very claim it was made for. */
export const sharedFromUidAnnotation = 'octopus.openi.pcl.cn/shared-from-uid';

export interface SourceClaim {
  namespace: string;
  claimName: string;
  /** The source claim's UID, once read. */
  uid?: string;
}

const digest = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * `shared-<claim>-<hash>`: the hash of `namespace/claim` keeps two sources apart however their
 * names are split by dashes, and, ending in hex, the name never ends as a Job's output claim
 * (`<job>-output`) does.
 */
export function sharedClaimName(source: SourceClaim): string {
  const hash = digest(`${source.namespace}/${source.claimName}`).slice(0, 16);
  const readable = `shared-${source.claimName}`.slice(0, 63 - hash.length - 1).replace(/[-.]+$/, '');
  return `${readable}-${hash}`;
}

export function sharedVolumeName(consumerNamespace: string, source: SourceClaim): string {
  return `octopus-shared-${digest(`${consumerNamespace}/${source.namespace}/${source.claimName}`).slice(0, 20)}`;
}

/** Volume sources with a readOnly switch; set it, since a shared version is only ever read. */
const readOnlySources = ['nfs', 'csi', 'iscsi', 'rbd', 'cephfs', 'fc', 'azureFile', 'azureDisk', 'awsElasticBlockStore', 'gcePersistentDisk', 'cinder', 'flexVolume', 'glusterfs', 'portworxVolume', 'quobyte', 'scaleIO', 'storageos'] as const;
/** Volume sources without one: read-only only as every pod mounts them (claim and mount readOnly); nothing else mounts a shared claim. */
const mountReadOnlySources = ['hostPath', 'local'] as const;
/** Fields of a PersistentVolume spec that are not its volume source. */
const volumeSpecFields = new Set(['accessModes', 'capacity', 'claimRef', 'mountOptions', 'nodeAffinity', 'persistentVolumeReclaimPolicy', 'storageClassName', 'volumeMode', 'volumeAttributesClassName']);

function originAnnotations(source: SourceClaim): Record<string, string> {
  return { [sharedFromAnnotation]: `${source.namespace}/${source.claimName}`, ...(source.uid && { [sharedFromUidAnnotation]: source.uid }) };
}

/**
 * The consumer's volume for `sourceVolume` (the volume the source claim is bound to), pre-bound to
 * the consumer claim `claimUid` (so no other claim of that name can bind it), or why there can be none.
 */
export function desiredSharedVolume(sourceVolume: V1PersistentVolume, consumerNamespace: string, source: SourceClaim, claimUid?: string): V1PersistentVolume | { error: string } {
  const spec = sourceVolume.spec;
  if (!spec) return { error: `PersistentVolume ${sourceVolume.metadata?.name} has no spec` };
  const { claimRef: _claimRef, storageClassName: _class, persistentVolumeReclaimPolicy: _policy, accessModes: _modes, ...volume } = spec;
  const shared = { ...volume } as Record<string, unknown>;
  const kinds = Object.keys(shared).filter((k) => !volumeSpecFields.has(k));
  const unsafe = kinds.filter((k) => !(readOnlySources as readonly string[]).includes(k) && !(mountReadOnlySources as readonly string[]).includes(k));
  if (kinds.length === 0 || unsafe.length > 0) {
    return { error: `PersistentVolume ${sourceVolume.metadata?.name} is a${kinds.length ? ` ${kinds.join('/')}` : 'n unknown'} volume, which cannot be shared read-only` };
  }
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
      annotations: originAnnotations(source),
    },
    spec: {
      ...(shared as V1PersistentVolume['spec']),
      accessModes: ['ReadOnlyMany'],
      persistentVolumeReclaimPolicy: 'Retain',
      // No class: the volume is pre-bound below, and no provisioner may claim or delete it.
      storageClassName: '',
      claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: consumerNamespace, name: sharedClaimName(source), ...(claimUid && { uid: claimUid }) },
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
      annotations: originAnnotations(source),
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

/**
 * Why `claim`, found under the shared name, is not the pair's claim for `source`, or undefined when
 * it is. Anyone may create a claim in their namespace, labels and annotations included: the UID of
 * the source claim (never shown to consumers before the pair exists) and the volume name must match.
 */
export function sharedClaimConflict(claim: V1PersistentVolumeClaim, consumerNamespace: string, source: Required<SourceClaim>): string | undefined {
  const a = claim.metadata?.annotations ?? {};
  const ours =
    claim.metadata?.labels?.[sharedLabel] === 'true' &&
    a[sharedFromAnnotation] === `${source.namespace}/${source.claimName}` &&
    a[sharedFromUidAnnotation] === source.uid &&
    claim.spec?.volumeName === sharedVolumeName(consumerNamespace, source);
  if (ours) return undefined;
  return `claim ${claim.metadata?.name} in namespace ${consumerNamespace} was not made by Octopus for claim ${source.namespace}/${source.claimName}; it is not adopted (delete or rename it)`;
}

/** An owner reference that keeps the shared claim while `owner` lives, without claiming control of it. */
export function sharingReference(owner: KubernetesObject): V1OwnerReference {
  return { apiVersion: owner.apiVersion!, kind: owner.kind!, name: owner.metadata!.name!, uid: owner.metadata!.uid! };
}

/** Thrown when a pair cannot be made (yet); the message names the claim and the reason. */
export class ShareError extends Error {}

type ShareManager = Pick<Manager, 'client' | 'rest'>;

/**
 * Makes (or joins) the pair for `source` in the namespace of `owner`, returning the consumer
 * claim's name. Each call judges the source again: its claim must still be bound to a volume the
 * storage policy of the source's workspace allows. The claim is made first and the volume pre-bound
 * to its UID; a claim under the name that is not the pair's is reported, never adopted.
 */
export async function ensureSharedClaim(manager: ShareManager, owner: KubernetesObject, source: SourceClaim): Promise<string> {
  const consumerNamespace = owner.metadata!.namespace!;
  const name = sharedClaimName(source);
  const reference = sharingReference(owner);
  const what = `claim ${source.namespace}/${source.claimName}`;
  const sourceClaim = await getOrUndefined<V1PersistentVolumeClaim>(manager, core.PersistentVolumeClaim, source.claimName, source.namespace);
  if (!sourceClaim) throw new ShareError(`${what} not found`);
  const volumeName = sourceClaim.spec?.volumeName;
  if (!volumeName || sourceClaim.status?.phase !== 'Bound') throw new ShareError(`${what} is not bound to a volume yet`);
  const sourceVolume = await manager.client.get<V1PersistentVolume>(core.PersistentVolume, volumeName);
  const workspace = await getOrUndefined<Workspace>(manager, octopus.Workspace, source.namespace);
  const problem = volumeProblem(storagePolicyOf(workspace), source.namespace, sourceClaim, sourceVolume);
  if (problem) throw new ShareError(`${what} is not shared: ${problem}`);
  const origin = { ...source, uid: sourceClaim.metadata!.uid! };
  const template = desiredSharedVolume(sourceVolume, consumerNamespace, origin);
  if ('error' in template) throw new ShareError(`${what}: ${template.error}`);

  let claim = await getOrUndefined<V1PersistentVolumeClaim>(manager, core.PersistentVolumeClaim, name, consumerNamespace);
  if (!claim) {
    const created = await createIgnoreExisting(manager, desiredSharedClaim(template, consumerNamespace, origin, reference));
    // Another workload may have made it meanwhile: then it is judged like any claim found.
    claim = created ?? (await manager.client.get<V1PersistentVolumeClaim>(core.PersistentVolumeClaim, name, consumerNamespace));
  }
  const conflict = sharedClaimConflict(claim, consumerNamespace, origin);
  if (conflict) throw new ShareError(conflict);
  await joinOwners(manager, claim, reference);
  await ensureSharedVolume(manager, sourceVolume, consumerNamespace, origin, claim);
  return name;
}

/** The pair's volume, pre-bound to `claim`; one left from an earlier claim of the name must go first. */
async function ensureSharedVolume(manager: ShareManager, sourceVolume: V1PersistentVolume, consumerNamespace: string, source: Required<SourceClaim>, claim: V1PersistentVolumeClaim): Promise<void> {
  const desired = desiredSharedVolume(sourceVolume, consumerNamespace, source, claim.metadata!.uid!) as V1PersistentVolume;
  const existing = await getOrUndefined<V1PersistentVolume>(manager, core.PersistentVolume, desired.metadata!.name!);
  if (!existing) {
    await createIgnoreExisting(manager, desired);
    return;
  }
  if (existing.spec?.claimRef?.uid === claim.metadata!.uid) return;
  // Released by an earlier claim of this name: the shared-volume controller deletes it; then it is made again.
  if (existing.metadata?.labels?.[sharedLabel] === 'true' && !existing.metadata.deletionTimestamp) await manager.client.deleteIgnoreNotFound(existing);
  throw new ShareError(`volume ${desired.metadata!.name} of an earlier claim ${claim.metadata!.name} is still being removed`);
}

/**
 * Creates `desired` (a claim of `owner`'s), or finds it made before for `owner`; a claim of that
 * name that `owner` does not own is someone else's and is never used in its place.
 */
export async function ensureOwnClaim(manager: ShareManager, owner: KubernetesObject, desired: V1PersistentVolumeClaim): Promise<void> {
  if (await createIgnoreExisting(manager, desired)) return;
  const name = desired.metadata!.name!;
  const namespace = desired.metadata!.namespace!;
  const existing = await manager.client.get<V1PersistentVolumeClaim>(core.PersistentVolumeClaim, name, namespace);
  if (existing.metadata?.ownerReferences?.some((r) => r.uid === owner.metadata?.uid)) return;
  throw new ShareError(`PersistentVolumeClaim ${name} already exists in namespace ${namespace} and is not this ${owner.kind}'s; it is not used`);
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

async function getOrUndefined<T extends KubernetesObject>(manager: Pick<Manager, 'client'>, resource: ResourceRef, name: string, namespace?: string): Promise<T | undefined> {
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

/** The object as created, or undefined when it already existed. */
async function createIgnoreExisting<T extends V1PersistentVolume | V1PersistentVolumeClaim>(manager: Pick<Manager, 'rest'>, obj: T): Promise<T | undefined> {
  const resource = obj.kind === 'PersistentVolume' ? core.PersistentVolume : core.PersistentVolumeClaim;
  const namespace = obj.metadata?.namespace;
  try {
    return (await manager.rest.request({ method: 'POST', path: resourcePath(resource, namespace ? { namespace } : {}), body: obj })) as T;
  } catch (err) {
    if (isAlreadyExists(err)) return undefined;
    throw err;
  }
}
