/**
 * The informers the asset controllers read children from. Each is shared by every asset controller
 * of a manager (the factory keys them by resource and selector); each controller adds indexes
 * named after its kind, so it finds its own children without scanning.
 */
import type { KubernetesObject, V1ConfigMap, V1Job, V1PersistentVolume, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import type { Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { core, octopus } from '../resources.js';
import { controllerOf, type Informer, type InformerSelector, type Manager, type MapFunc } from '../runtime/index.js';
import { assetAnnotations, assetLabels } from './names.js';

/** Which objects a controller sees: one namespace (tests, namespace-scoped installs) or all. */
export interface Scope {
  readonly namespace?: string;
}

/** The children of Jobs-running controllers (asset imports, Image builds). */
export interface JobCaches {
  readonly jobs: Informer<V1Job>;
  /** Pods of import and build Jobs. */
  readonly pods: Informer<V1Pod>;
  readonly configMaps: Informer<V1ConfigMap>;
}

export interface AssetCaches extends JobCaches {
  /** Every claim in scope: users' claims (pvc sources) as well as the controllers' own. */
  readonly claims: Informer<V1PersistentVolumeClaim>;
  /**
   * Every volume (cluster-scoped, so never narrowed to a namespace): those of nfs versions, and
   * those users' claims are bound to, which the storage policy judges.
   */
  readonly volumes: Informer<V1PersistentVolume>;
  /** Workspaces: their spec.storage is the policy of the namespace of their name. */
  readonly workspaces: Informer<Workspace>;
}

/** The selector of namespaced informers under `scope`. */
export function namespaced(scope: Scope): InformerSelector {
  return scope.namespace ? { namespace: scope.namespace } : {};
}

export function jobCaches(manager: Manager, scope: Scope): JobCaches {
  const children: InformerSelector = { ...namespaced(scope), labelSelector: assetLabels.kind };
  return {
    jobs: manager.informer<V1Job>(core.BatchJob, children),
    pods: manager.informer<V1Pod>(core.Pod, children),
    configMaps: manager.informer<V1ConfigMap>(core.ConfigMap, children),
  };
}

export function assetCaches(manager: Manager, scope: Scope): AssetCaches {
  return {
    ...jobCaches(manager, scope),
    claims: manager.informer<V1PersistentVolumeClaim>(core.PersistentVolumeClaim, namespaced(scope)),
    volumes: manager.informer<V1PersistentVolume>(core.PersistentVolume),
    workspaces: manager.informer<Workspace>(octopus.Workspace),
  };
}

function ofKind(obj: KubernetesObject, kind: string): boolean {
  return obj.metadata?.labels?.[assetLabels.kind] === kind;
}

/** Index names; one set per kind, since the informers are shared. */
export function indexNames(kind: string) {
  return {
    /** A namespaced child by the UID of the asset controlling it. */
    owned: `${kind}/controller-uid`,
    /** An import or build pod by the UID of its Job. */
    podsOfJob: `${kind}/job-uid`,
    /** An nfs volume by the UID of its asset. */
    volumes: `${kind}/owner-uid`,
  };
}

function controllerUid(kind: string) {
  return (obj: KubernetesObject) => {
    const ref = controllerOf(obj);
    return ref?.kind === kind && ref.uid ? [ref.uid] : [];
  };
}

/** Adds `kind`'s indexes to the shared Job, pod and ConfigMap informers. Call once per kind and manager. */
export function indexJobChildren(caches: JobCaches, kind: string): void {
  const names = indexNames(kind);
  caches.jobs.addIndex(names.owned, controllerUid(kind));
  caches.configMaps.addIndex(names.owned, controllerUid(kind));
  caches.pods.addIndex(names.podsOfJob, (pod) => {
    const uid = controllerOf(pod)?.uid;
    return ofKind(pod, kind) && uid ? [uid] : [];
  });
}

/** Adds `kind`'s indexes to all the shared informers. Call once per kind and manager. */
export function indexChildren(caches: AssetCaches, kind: string): void {
  const names = indexNames(kind);
  indexJobChildren(caches, kind);
  caches.claims.addIndex(names.owned, controllerUid(kind));
  caches.volumes.addIndex(names.volumes, (pv) => {
    const uid = pv.metadata?.labels?.[assetLabels.ownerUid];
    return ofKind(pv, kind) && uid ? [uid] : [];
  });
}

/** The asset named by the owner annotation of a child no owner reference leads from (pods, volumes). */
export function enqueueAnnotatedOwner(kind: string): MapFunc<KubernetesObject> {
  return (obj) => {
    const owner = obj.metadata?.annotations?.[assetAnnotations.owner];
    return ofKind(obj, kind) && owner ? [owner] : [];
  };
}
