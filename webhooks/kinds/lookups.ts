/**
 * What the validators read besides the request: read-only views of the informer caches. A validator
 * never calls the apiserver, so an admission costs no round trip; the informers (caches.ts) or, in
 * tests and the benchmark, plain ObjectStores fill the same views.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { DevicePolicy, ModelService, Notebook, Quota, ResourcePool, ResourceSpec, Visibility, WorkloadPriorityClass, Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { quotaState, type QuotaState } from '../../controllers/admission/quota.js';
import { storagePolicyOf, type StoragePolicy } from '../../controllers/assets/storage-policy.js';

/** The kinds a workload references by name, possibly across namespaces. */
export type AssetKind = 'Dataset' | 'Algorithm' | 'Model' | 'Image';
export const assetKinds: readonly AssetKind[] = ['Dataset', 'Algorithm', 'Model', 'Image'];

export interface Lookups {
  /** The Quotas of a namespace, parsed. A Quota whose numbers do not parse is left out: the controller reports it. */
  quotas(namespace: string): QuotaState[];
  devicePolicies(): readonly DevicePolicy[];
  resourceSpec(name: string): ResourceSpec | undefined;
  /** A ResourcePool: its default requests and prices complete a workload's gang. */
  pool(name: string): ResourcePool | undefined;
  /** A WorkloadPriorityClass, or undefined when there is none of that name. */
  priorityClass(name: string): WorkloadPriorityClass | undefined;
  /** The priority classes the Workspace of `namespace` lets its workloads name (spec.priorityClasses; empty when unset); undefined when no Workspace owns it. */
  workspacePriorityClasses(namespace: string): readonly string[] | undefined;
  /** Whether every resource a workload of `namespace` requests must be limited by a Quota (the Workspace's spec.requireQuota; false where no Workspace owns it). */
  requireQuota(namespace: string): boolean;
  /** An asset's visibility, or undefined when it does not exist (yet). */
  visibility(kind: AssetKind, namespace: string, name: string): Visibility | undefined;
  /** The pools the Workspace of `namespace` limits its workloads to; empty when it sets none or there is no such Workspace. */
  workspacePools(namespace: string): readonly string[];
  /** The hosts the Workspace of `namespace` grants its workloads besides derived ones (spec.hosts); empty when it grants none or there is no such Workspace. */
  workspaceHosts(namespace: string): readonly string[];
  /** The Notebooks and ModelServices whose enabled ingress routes `host`; derived hosts are those under `domain`. */
  ingressClaims(host: string, domain: string): readonly ExposedWorkload[];
  /** The storage policy of the Workspace owning `namespace`; undefined when no Workspace owns it. */
  storagePolicy(namespace: string): StoragePolicy | undefined;
}

/** The part of an Informer, or of an ObjectStore, the lookups read. */
export interface ObjectCache<T> {
  get(key: string): T | undefined;
  list(): T[];
  byIndex(index: string, value: string): T[];
}

/** Index name under which the Quota cache finds a namespace's Quotas. */
export const byNamespace = 'namespace';
export const namespaceOf = (obj: KubernetesObject): string[] => (obj.metadata?.namespace ? [obj.metadata.namespace] : []);

/** The kinds that expose themselves through an Ingress. */
export type ExposedWorkload = Notebook | ModelService;
export const exposedKinds = ['Notebook', 'ModelService'] as const;

/**
 * Index name under which the Notebook and ModelService caches find who routes a host: the host a
 * workload names, or `<name>-<namespace>.` for a derived one (the domain is the webhook's flag, not the cache's).
 */
export const byIngressHost = 'ingressHost';
export const ingressHostKeys = (w: ExposedWorkload): string[] => {
  const ingress = w.spec?.ingress;
  if (ingress?.enabled !== true) return [];
  return [ingress.host ?? `${w.metadata.name}-${w.metadata.namespace}.`];
};

export interface Caches {
  /** Needs the {@link byNamespace} index. */
  quotas: ObjectCache<Quota>;
  devicePolicies: ObjectCache<DevicePolicy>;
  resourceSpecs: ObjectCache<ResourceSpec>;
  pools: ObjectCache<ResourcePool>;
  priorityClasses: ObjectCache<WorkloadPriorityClass>;
  workspaces: ObjectCache<Workspace>;
  /** Need the {@link byIngressHost} index. */
  workloads: Readonly<Record<(typeof exposedKinds)[number], ObjectCache<ExposedWorkload>>>;
  assets: Readonly<Record<AssetKind, ObjectCache<{ spec?: { visibility?: Visibility } }>>>;
}

export function cacheLookups(caches: Caches): Lookups {
  // Cached objects are replaced, never changed, on every watch event: the object itself keys its parse.
  const parsed = new WeakMap<Quota, QuotaState | null>();
  const parse = (q: Quota): QuotaState | null => {
    let state = parsed.get(q);
    if (state === undefined) {
      try {
        state = quotaState(q);
      } catch {
        state = null;
      }
      parsed.set(q, state);
    }
    return state;
  };
  return {
    quotas: (namespace) => caches.quotas.byIndex(byNamespace, namespace).flatMap((q) => parse(q) ?? []),
    devicePolicies: () => caches.devicePolicies.list(),
    resourceSpec: (name) => caches.resourceSpecs.get(name),
    pool: (name) => caches.pools.get(name),
    priorityClass: (name) => caches.priorityClasses.get(name),
    requireQuota(namespace) {
      const ws = caches.workspaces.get(namespace);
      return ws !== undefined && ws.spec.requireQuota !== false;
    },
    visibility(kind, namespace, name) {
      const asset = caches.assets[kind].get(`${namespace}/${name}`);
      // The schema defaults visibility to Private; an object written before that default is Private too.
      return asset === undefined ? undefined : (asset.spec?.visibility ?? 'Private');
    },
    // A Workspace owns the namespace of its own name.
    workspacePools: (namespace) => caches.workspaces.get(namespace)?.spec.pools ?? [],
    workspaceHosts: (namespace) => caches.workspaces.get(namespace)?.spec.hosts ?? [],
    workspacePriorityClasses(namespace) {
      const ws = caches.workspaces.get(namespace);
      return ws === undefined ? undefined : (ws.spec.priorityClasses ?? []);
    },
    ingressClaims(host, domain) {
      const derived = host.endsWith(`.${domain}`) ? [host.slice(0, host.length - domain.length)] : [];
      return [host, ...derived].flatMap((key) => exposedKinds.flatMap((kind) => caches.workloads[kind].byIndex(byIngressHost, key)));
    },
    storagePolicy: (namespace) => storagePolicyOf(caches.workspaces.get(namespace)),
  };
}
