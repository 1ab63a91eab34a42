/**
 * The reconcile shared by Dataset, Algorithm and Model: per version, make the objects its source
 * needs and observe them; remove the objects of retired versions; write the status when it changed;
 * tell each version's transitions as Events.
 *
 * State drives everything: the asset, its children in the caches, and the status last written (a
 * Ready import whose Job is gone stays Ready; a failed one is retried by deleting its Job).
 */
import type { KubernetesObject, V1ConfigMap, V1Job } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { core } from '../resources.js';
import {
  addFinalizer,
  hasFinalizer,
  isNotFound,
  removeFinalizer,
  rfc3339,
  semanticEqual,
  type Clock,
  type EventRecorder,
  type Informer,
  type ObjectClient,
  type ResourceRef,
  type Result,
} from '../runtime/index.js';
import { indexNames, type AssetCaches } from './caches.js';
import {
  desiredExportJob,
  desiredFilesConfigMap,
  desiredImportClaim,
  desiredImportJob,
  desiredNfsClaim,
  desiredNfsVolume,
  filesProblems,
  type CopySource,
  type ImportOptions,
} from './children.js';
import { createChild } from './create.js';
import { clip, jobCondition, observeExport, observeImport, VersionReasons } from './import-status.js';
import { assetLabels, exportJobName, filesConfigMapName, importJobName, nfsVolumeName, versionClaimName, volumeFinalizer } from './names.js';
import { holderOf } from './owned.js';
import { nfsProblem, storageClassProblem, storagePolicyOf, volumeProblem, type StoragePolicy } from './storage-policy.js';
import { assetStatus, versionEvents } from './summary.js';
import type { AssetKindName, AssetStatus, VersionSpec, VersionStatus, VersionedAsset } from './types.js';

/**
 * How often a version waiting for an object looks again. A user's ConfigMap is read, not watched,
 * so this is how its creation is noticed; a claim is watched, and this is only a safety net.
 */
export const missingObjectRequeueMs = 10_000;

/** What differs between the kinds. */
export interface AssetKindBehaviour {
  readonly kind: AssetKindName;
  readonly resource: ResourceRef;
  /** Status entries kept although no spec version names them (a Model's Job outputs). @default none */
  retainedVersions?(status: AssetStatus | undefined, specNames: ReadonlySet<string>): VersionStatus[];
  /** A spec version's status as the kind reports it (a Model adds origin and metrics). @default unchanged */
  decorate?(version: VersionSpec, status: VersionStatus): VersionStatus;
}

export interface AssetReconcilerOptions {
  readonly behaviour: AssetKindBehaviour;
  readonly assets: Informer<VersionedAsset>;
  readonly caches: AssetCaches;
  readonly client: ObjectClient;
  readonly events: EventRecorder;
  readonly clock: Clock;
  readonly options: ImportOptions;
}

/** A version's status before the kind decorates it, and whether it waits on something unwatched. */
interface Observed {
  status: VersionStatus;
  poll?: boolean;
}

function copySourceOf(version: VersionSpec): CopySource | undefined {
  const { s3, http, git } = version.source;
  if (s3) return { s3 };
  if (http) return { http };
  if (git) return { git };
  return undefined;
}

function readySince(previous: VersionStatus | undefined, now: number): string {
  return previous?.phase === 'Ready' && previous.readyTime ? previous.readyTime : rfc3339(now);
}

function versionOf(obj: KubernetesObject): string | undefined {
  return obj.metadata?.labels?.[assetLabels.version];
}

export class AssetReconciler {
  private readonly o: AssetReconcilerOptions;
  private readonly index: ReturnType<typeof indexNames>;

  constructor(options: AssetReconcilerOptions) {
    this.o = options;
    this.index = indexNames(options.behaviour.kind);
  }

  async reconcile(key: string, logger: Logger): Promise<Result | void> {
    const cached = this.o.assets.get(key);
    if (!cached) return; // deleted: owner references let the garbage collector remove the children
    if (cached.metadata.deletionTimestamp) {
      await this.finalize(cached);
      return;
    }
    const versions = cached.spec.versions ?? [];
    const needsVolumes = versions.some((v) => v.source.nfs);
    // The finalizer goes on before the first volume exists, so no volume can outlive the asset.
    let asset = needsVolumes ? await addFinalizer(this.o.client, cached, volumeFinalizer) : cached;
    const now = this.o.clock.now();
    const previous = new Map((asset.status?.versions ?? []).map((v) => [v.name, v]));
    const observed: Observed[] = [];
    // Judged again on every reconcile: an admin may narrow the policy after the asset got in.
    const policy = storagePolicyOf(this.o.caches.workspaces.get(asset.metadata.namespace!));
    for (const version of versions) observed.push(await this.reconcileVersion(asset, version, policy, previous.get(version.name), now));

    const decorate = this.o.behaviour.decorate ?? ((_: VersionSpec, s: VersionStatus) => s);
    const specNames = new Set(versions.map((v) => v.name));
    const retained = await Promise.all((this.o.behaviour.retainedVersions?.(asset.status, specNames) ?? []).map((v) => this.exportVersion(asset, v)));
    await this.removeRetired(asset, new Set([...specNames, ...retained.map((v) => v.name)]), new Set(versions.filter((v) => v.source.nfs).map((v) => v.name)));
    if (!needsVolumes && hasFinalizer(asset, volumeFinalizer) && this.volumesOf(asset).length === 0) {
      asset = await removeFinalizer(this.o.client, asset, volumeFinalizer);
    }

    const statuses = [...versions.map((v, i) => decorate(v, observed[i]!.status)), ...retained];
    const status = assetStatus(asset.status, statuses, asset.metadata.generation, now);
    const { changed, object } = await this.o.client.updateStatusIfChanged(this.o.behaviour.resource, asset, status);
    if (changed) {
      const transitions = versionEvents(asset.status?.versions, status.versions ?? []);
      for (const e of transitions) this.o.events.record({ regarding: object, type: e.type, reason: e.reason, note: e.note });
      logger.debug({ readyVersions: status.readyVersions, versionCount: status.versionCount, transitions: transitions.length }, 'status updated');
    }
    return observed.some((o) => o.poll) ? { requeueAfterMs: missingObjectRequeueMs } : undefined;
  }

  private reconcileVersion(asset: VersionedAsset, version: VersionSpec, policy: StoragePolicy | undefined, previous: VersionStatus | undefined, now: number): Promise<Observed> {
    const { pvc, nfs, configMap, files } = version.source;
    if (pvc) return Promise.resolve(this.claimVersion(asset, version, pvc, policy, previous, now));
    if (nfs) return this.nfsVersion(asset, version, policy, previous, now);
    if (configMap) return this.configMapVersion(asset, version, configMap.name, previous, now);
    if (files) return this.filesVersion(asset, version, files, previous, now);
    const copy = copySourceOf(version);
    if (copy) return this.importVersion(asset, version, copy, policy, previous, now);
    // The schema requires exactly one source; an object written around it still must not crash us.
    return Promise.resolve({ status: { name: version.name, phase: 'Failed', reason: 'InvalidSource', message: 'the version names no source' } });
  }

  /** The version's status when a name it needs is held by another object, or undefined when every name is free or its own. */
  private nameTaken(asset: VersionedAsset, version: VersionSpec, children: [string, KubernetesObject | undefined][]): Observed | undefined {
    for (const [what, obj] of children) {
      const taken = holderOf(obj, asset);
      if (!taken) continue;
      const name = obj!.metadata!.name!;
      // Either way look again later: neither the holder's going nor a conflict's end wakes this asset.
      if (taken.earlier) {
        const message = `${what} ${name} of an earlier ${asset.kind} ${asset.metadata.name} is still being deleted`;
        return { status: { name: version.name, phase: 'Pending', reason: VersionReasons.WaitingForCleanup, message }, poll: true };
      }
      const message = `${what} ${name} already exists and belongs to ${taken.holder}; rename the ${asset.kind} or the version`;
      return { status: { name: version.name, phase: 'Failed', reason: VersionReasons.NameConflict, message }, poll: true };
    }
    return undefined;
  }

  /**
   * A claim the user made: used in place once it exists and is bound to a volume the storage policy
   * allows. A user may bind a claim to any volume nobody claimed, so the claim alone proves nothing.
   */
  private claimVersion(asset: VersionedAsset, version: VersionSpec, pvc: { claimName: string; subPath?: string }, policy: StoragePolicy | undefined, previous: VersionStatus | undefined, now: number): Observed {
    const namespace = asset.metadata.namespace!;
    const claim = this.o.caches.claims.get(`${namespace}/${pvc.claimName}`);
    const base = { name: version.name, claimName: pvc.claimName, ...(pvc.subPath && { subPath: pvc.subPath }) };
    if (!claim || claim.metadata?.deletionTimestamp) {
      const message = `PersistentVolumeClaim ${pvc.claimName} not found in namespace ${namespace}`;
      return { status: { ...base, phase: 'Pending', reason: VersionReasons.ClaimNotFound, message }, poll: true };
    }
    const volume = claim.spec?.volumeName ? this.o.caches.volumes.get(claim.spec.volumeName) : undefined;
    if (claim.status?.phase !== 'Bound' || !volume) {
      // Both the claim and the volumes are watched: binding wakes this asset.
      const message = `PersistentVolumeClaim ${pvc.claimName} is not bound to a volume yet`;
      return { status: { ...base, phase: 'Pending', reason: VersionReasons.ClaimNotBound, message } };
    }
    const problem = volumeProblem(policy, namespace, claim, volume);
    if (problem) return { status: { ...base, phase: 'Failed', reason: VersionReasons.StoragePolicyDenied, message: clip(problem) } };
    return { status: { ...base, phase: 'Ready', reason: VersionReasons.ClaimFound, message: `uses claim ${pvc.claimName}`, readyTime: readySince(previous, now) } };
  }

  /**
   * An NFS export: a volume and a claim bound to it by name, made once, while the storage policy
   * allows the export. Once it does not, both are removed (pods mounting the claim keep it until
   * they end: the apiserver's protection finalizers hold the objects).
   */
  private async nfsVersion(asset: VersionedAsset, version: VersionSpec, policy: StoragePolicy | undefined, previous: VersionStatus | undefined, now: number): Promise<Observed> {
    const nfs = version.source.nfs!;
    const claimName = versionClaimName(asset, version.name);
    const volume = this.o.caches.volumes.get(nfsVolumeName(asset, version.name));
    const claim = this.o.caches.claims.get(`${asset.metadata.namespace}/${claimName}`);
    const taken = this.nameTaken(asset, version, [['PersistentVolume', volume], ['PersistentVolumeClaim', claim]]);
    if (taken) return taken;
    const problem = nfsProblem(policy, asset.metadata.namespace!, nfs);
    if (problem) {
      for (const obj of [claim, volume]) if (obj && !obj.metadata?.deletionTimestamp) await this.o.client.deleteIgnoreNotFound(obj);
      return { status: { name: version.name, phase: 'Failed', reason: VersionReasons.StoragePolicyDenied, message: clip(problem) } };
    }
    await this.createIfMissing(desiredNfsVolume(asset, version, nfs, this.o.options), volume);
    await this.createIfMissing(desiredNfsClaim(asset, version, this.o.options), claim);
    const message = `NFS ${nfs.server}:${nfs.path}`;
    return { status: { name: version.name, claimName, phase: 'Ready', reason: VersionReasons.VolumeCreated, message, readyTime: readySince(previous, now) } };
  }

  /** A ConfigMap the user made. It is read directly: watching every ConfigMap in the cluster would cost more than an occasional read. */
  private async configMapVersion(asset: VersionedAsset, version: VersionSpec, configMapName: string, previous: VersionStatus | undefined, now: number): Promise<Observed> {
    const namespace = asset.metadata.namespace!;
    const base = { name: version.name, configMapName };
    try {
      await this.o.client.get<V1ConfigMap>(core.ConfigMap, configMapName, namespace);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      const message = `ConfigMap ${configMapName} not found in namespace ${namespace}`;
      return { status: { ...base, phase: 'Pending', reason: VersionReasons.ConfigMapNotFound, message }, poll: true };
    }
    return { status: { ...base, phase: 'Ready', reason: VersionReasons.ConfigMapFound, message: `uses ConfigMap ${configMapName}`, readyTime: readySince(previous, now) } };
  }

  /** Inline files, kept in a ConfigMap the asset owns; edits to it are undone. */
  private async filesVersion(asset: VersionedAsset, version: VersionSpec, files: Record<string, string>, previous: VersionStatus | undefined, now: number): Promise<Observed> {
    const configMapName = filesConfigMapName(asset, version.name);
    const problems = filesProblems(files);
    if (problems.length > 0) {
      return { status: { name: version.name, phase: 'Failed', reason: VersionReasons.InvalidFiles, message: clip(problems.join('; ')) } };
    }
    const desired = desiredFilesConfigMap(asset, version, files);
    const cached = this.o.caches.configMaps.get(`${asset.metadata.namespace}/${configMapName}`);
    const taken = this.nameTaken(asset, version, [['ConfigMap', cached]]);
    if (taken) return taken;
    if (!cached || !semanticEqual(cached.data ?? {}, desired.data)) await this.o.client.applyObject(desired);
    const message = `${Object.keys(files).length} files in ConfigMap ${configMapName}`;
    return { status: { name: version.name, configMapName, phase: 'Ready', reason: VersionReasons.ConfigMapCreated, message, readyTime: readySince(previous, now) } };
  }

  /**
   * A copied source: a claim, and a Job copying the source into it until the copy succeeded once.
   * A claim is made only of a StorageClass the policy allows; one made before the policy narrowed
   * keeps its content.
   */
  private async importVersion(asset: VersionedAsset, version: VersionSpec, copy: CopySource, policy: StoragePolicy | undefined, previous: VersionStatus | undefined, now: number): Promise<Observed> {
    const namespace = asset.metadata.namespace!;
    const claimName = versionClaimName(asset, version.name);
    const jobName = importJobName(asset, version.name);
    const claim = this.o.caches.claims.get(`${namespace}/${claimName}`);
    const job = this.o.caches.jobs.get(`${namespace}/${jobName}`);
    const taken = this.nameTaken(asset, version, [['PersistentVolumeClaim', claim], ['Job', job]]);
    if (taken) return taken;
    const base = { name: version.name, claimName };
    const finished = job && (jobCondition(job, 'Complete') || jobCondition(job, 'Failed'));
    if (job && finished && !claim) {
      // The imported content went with its claim: import again, with a new Job.
      await this.o.client.deleteIgnoreNotFound(job, { propagationPolicy: 'Background' });
      return { status: { ...base, phase: 'Pending', reason: VersionReasons.ImportPending, message: `claim ${claimName} was deleted; importing again`, attempts: 0 } };
    }
    if (!claim) {
      const problem = storageClassProblem(policy, namespace, version.storage?.storageClassName ?? asset.spec.storage?.storageClassName);
      if (problem) return { status: { ...base, phase: 'Failed', reason: VersionReasons.StoragePolicyDenied, message: clip(problem) } };
      await createChild(this.o.client, desiredImportClaim(asset, version, this.o.options));
    }
    if (job) {
      const pods = this.o.caches.pods.byIndex(this.index.podsOfJob, job.metadata!.uid!);
      return { status: { ...base, importJob: jobName, ...observeImport(job, pods, previous, now) } };
    }
    if (previous?.phase === 'Ready' && claim) {
      // Imported before; the Job has since been removed. The content is in the claim.
      const { importJob: _gone, ...kept } = previous;
      return { status: { ...kept, ...base } };
    }
    const created = await createChild<V1Job>(this.o.client, desiredImportJob(asset, version, copy, this.o.options));
    return { status: { ...base, importJob: jobName, ...observeImport(created, [], previous, now) } };
  }

  /**
   * A retained version (a Model's Job output) whose Job asked for an upload (status `export`): an
   * export Job runs once; its outcome is recorded and never redone.
   */
  private async exportVersion(asset: VersionedAsset, version: VersionStatus): Promise<VersionStatus> {
    const request = version.export;
    if (!request || request.phase === 'Exported' || request.phase === 'Failed' || version.phase !== 'Ready' || !version.claimName) return version;
    const name = exportJobName(asset, version.name);
    const job = this.o.caches.jobs.get(`${asset.metadata.namespace}/${name}`) ?? (await createChild<V1Job>(this.o.client, desiredExportJob(asset, version, this.o.options)));
    const pods = job.metadata?.uid ? this.o.caches.pods.byIndex(this.index.podsOfJob, job.metadata.uid) : [];
    return { ...version, export: observeExport(request, job, pods) };
  }

  /** Deletes the children of versions no longer published (and the volumes of versions no longer nfs). */
  private async removeRetired(asset: VersionedAsset, kept: ReadonlySet<string>, keptVolumes: ReadonlySet<string>): Promise<void> {
    const uid = asset.metadata.uid!;
    const { claims, jobs, configMaps } = this.o.caches;
    const owned: KubernetesObject[] = [claims, jobs, configMaps].flatMap((informer: Informer<KubernetesObject>) => informer.byIndex(this.index.owned, uid));
    const retired = (obj: KubernetesObject, keep: ReadonlySet<string>) => {
      const version = versionOf(obj);
      // Children made for an asset by another controller (a Model's Job outputs) are not ours to retire.
      return version !== undefined && !keep.has(version) && !obj.metadata?.deletionTimestamp && obj.metadata?.labels?.[assetLabels.origin] === undefined;
    };
    for (const obj of owned.filter((o) => retired(o, kept))) await this.o.client.deleteIgnoreNotFound(obj, { propagationPolicy: 'Background' });
    for (const pv of this.volumesOf(asset).filter((v) => retired(v, keptVolumes))) await this.o.client.deleteIgnoreNotFound(pv);
  }

  private volumesOf(asset: VersionedAsset) {
    return this.o.caches.volumes.byIndex(this.index.volumes, asset.metadata.uid!);
  }

  /** The asset is going: remove what garbage collection cannot reach (its volumes), then let it go. */
  private async finalize(asset: VersionedAsset): Promise<void> {
    if (!hasFinalizer(asset, volumeFinalizer)) return;
    for (const pv of this.volumesOf(asset)) {
      if (!pv.metadata?.deletionTimestamp) await this.o.client.deleteIgnoreNotFound(pv);
    }
    await removeFinalizer(this.o.client, asset, volumeFinalizer);
  }

  /**
   * Creates `desired` unless the cache holds it. Claims, volumes and Jobs are never re-applied: the
   * apiserver freezes their specs, and leaving them be keeps a steady cluster free of writes.
   */
  private async createIfMissing<T extends KubernetesObject>(desired: T, cached: T | undefined): Promise<T> {
    return cached ?? createChild(this.o.client, desired);
  }
}
