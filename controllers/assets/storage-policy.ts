/**
 * The storage policy of a workspace (its Workspace's `spec.storage`): which in-place storage its
 * Datasets, Algorithms and Models may name, and which StorageClasses its storage requests may name.
 * Pure, so the webhook (at the door) and the asset controllers (on every reconcile, since an admin
 * may narrow the policy later) apply the same rules.
 *
 * - nfs: the server is equal (host names compared without case) and the path lies at or below an
 *   allowed prefix by whole segments (`/data/a` allows `/data/a/x`, not `/data/ab`). A path with a
 *   `.` or `..` segment is never allowed: the server resolves it, not us.
 * - StorageClasses: unset (the cluster default) is always allowed; a named class only when listed.
 * - The volume bound to a claim (a `pvc` source, used in place or shared): one the cluster's
 *   provisioner made for that very claim holds nothing but what its owner wrote, so it is allowed;
 *   otherwise NFS, CSI and hostPath volumes are allowed by the lists above, and every other kind is
 *   refused.
 * - A namespace no Workspace owns allows nothing but the above provisioned volumes and unset classes.
 */
import type { V1PersistentVolume, V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { Workspace, WorkspaceStorage } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';

/** The policy of a namespace: its Workspace's name and storage; undefined when no Workspace owns it. */
export interface StoragePolicy {
  workspace: string;
  storage: WorkspaceStorage;
}

/** The policy a Workspace sets for the namespace of its name (a Workspace owns that namespace). */
export function storagePolicyOf(workspace: Workspace | undefined): StoragePolicy | undefined {
  return workspace && { workspace: workspace.metadata.name!, storage: workspace.spec.storage ?? {} };
}

/** The annotation provisioners put on the volumes they make. */
const provisionedBy = 'pv.kubernetes.io/provisioned-by';

/** The path's segments, or undefined when a `.` or `..` segment makes it ambiguous. */
export function pathSegments(path: string): string[] | undefined {
  const segments = path.split('/').filter((s) => s !== '');
  return segments.some((s) => s === '.' || s === '..') ? undefined : segments;
}

/** True when `path` is `prefix` or below it, comparing whole segments. */
export function pathWithin(path: string, prefix: string): boolean {
  const p = pathSegments(path);
  const q = pathSegments(prefix);
  if (!p || !q || q.length > p.length) return false;
  return q.every((segment, i) => p[i] === segment);
}

const sameServer = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

function where(policy: StoragePolicy | undefined, namespace: string): string {
  return policy ? `workspace ${policy.workspace}` : `namespace ${namespace}, which no Workspace owns`;
}

function allows(policy: StoragePolicy | undefined, field: string, items: string[] | undefined): string {
  if (!policy) return 'nothing is allowed there';
  return `its spec.storage.${field} allows ${items && items.length > 0 ? items.join(', ') : 'none'}`;
}

/** Why the NFS export may not be used in `namespace`, or undefined when it may. */
export function nfsProblem(policy: StoragePolicy | undefined, namespace: string, nfs: { server: string; path: string }): string | undefined {
  const rules = policy?.storage.nfs ?? [];
  if (rules.some((r) => sameServer(r.server, nfs.server) && pathWithin(nfs.path, r.pathPrefix))) return undefined;
  const listed = rules.map((r) => `${r.server}:${r.pathPrefix}`);
  return `NFS ${nfs.server}:${nfs.path} is not allowed in ${where(policy, namespace)} (${allows(policy, 'nfs', listed)})`;
}

/** Why a storage request may not name `storageClassName`, or undefined when it may (unset is the cluster default). */
export function storageClassProblem(policy: StoragePolicy | undefined, namespace: string, storageClassName: string | undefined): string | undefined {
  if (storageClassName === undefined || policy?.storage.storageClasses?.includes(storageClassName)) return undefined;
  return `StorageClass "${storageClassName}" is not allowed in ${where(policy, namespace)} (${allows(policy, 'storageClasses', policy?.storage.storageClasses)})`;
}

/** True when a provisioner made `volume` for `claim` (and not for an earlier claim of the same name). */
export function provisionedFor(volume: V1PersistentVolume, claim: V1PersistentVolumeClaim): boolean {
  const uid = claim.metadata?.uid;
  return volume.metadata?.annotations?.[provisionedBy] !== undefined && uid !== undefined && volume.spec?.claimRef?.uid === uid;
}

/**
 * Why the volume bound to `claim` (in `namespace`) may not be used in place or shared, or undefined
 * when it may.
 */
export function volumeProblem(policy: StoragePolicy | undefined, namespace: string, claim: V1PersistentVolumeClaim, volume: V1PersistentVolume): string | undefined {
  if (provisionedFor(volume, claim)) return undefined;
  const spec = volume.spec ?? {};
  const name = `PersistentVolume ${volume.metadata?.name}`;
  if (spec.nfs) {
    const problem = nfsProblem(policy, namespace, { server: spec.nfs.server, path: spec.nfs.path });
    return problem && `${name}: ${problem}`;
  }
  if (spec.csi) {
    if (policy?.storage.csiDrivers?.includes(spec.csi.driver)) return undefined;
    return `${name}: CSI driver ${spec.csi.driver} is not allowed in ${where(policy, namespace)} (${allows(policy, 'csiDrivers', policy?.storage.csiDrivers)})`;
  }
  if (spec.hostPath) {
    if (policy?.storage.hostPaths?.some((prefix) => pathWithin(spec.hostPath!.path, prefix))) return undefined;
    return `${name}: host path ${spec.hostPath.path} is not allowed in ${where(policy, namespace)} (${allows(policy, 'hostPaths', policy?.storage.hostPaths)})`;
  }
  const kind = Object.keys(spec).find((k) => !volumeSpecFields.has(k)) ?? 'unknown';
  return `${name} is a ${kind} volume, which no storage policy allows; only NFS, CSI and host path volumes, or volumes provisioned for the claim`;
}

/** Fields of a PersistentVolume spec that are not its volume source. */
const volumeSpecFields = new Set(['accessModes', 'capacity', 'claimRef', 'mountOptions', 'nodeAffinity', 'persistentVolumeReclaimPolicy', 'storageClassName', 'volumeMode', 'volumeAttributesClassName']);
