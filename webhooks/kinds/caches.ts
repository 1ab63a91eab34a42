/**
 * The informers behind the lookups: one list+watch cache per kind the validators read. The webhook
 * process starts them before it serves and reports ready only once each has listed, so no admission is
 * judged against an empty cache.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { kindByName } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { octopusResource } from '../../controllers/resources.js';
import type { Informer, InformerFactory } from '../../controllers/runtime/index.js';
import { assetKinds, byIngressHost, byNamespace, cacheLookups, exposedKinds, ingressHostKeys, namespaceOf, type Caches, type ExposedWorkload, type Lookups } from './lookups.js';

export const cachedKinds = ['Quota', 'DevicePolicy', 'ResourceSpec', 'ResourcePool', 'WorkloadPriorityClass', 'Workspace', ...assetKinds, ...exposedKinds] as const;
export type CachedKind = (typeof cachedKinds)[number];

/** What the webhook process needs from its caches: start them, wait for their first list, stop them. */
export interface AdmissionCaches {
  start(): void;
  /** True once every cache has listed; false when stopped (or `signal` aborted) first. */
  waitForSync(signal?: AbortSignal): Promise<boolean>;
  stop(): Promise<void>;
}

export class WebhookCaches implements AdmissionCaches {
  readonly informers: Readonly<Record<CachedKind, Informer<KubernetesObject>>>;
  readonly lookups: Lookups;
  private readonly factory: InformerFactory;

  constructor(factory: InformerFactory) {
    this.factory = factory;
    const informers = Object.fromEntries(
      cachedKinds.map((kind) => {
        const def = kindByName(kind);
        if (def === undefined) throw new Error(`no Octopus kind ${kind}`);
        return [kind, factory.informer<KubernetesObject>(octopusResource(def))];
      }),
    ) as Record<CachedKind, Informer<KubernetesObject>>;
    informers.Quota.addIndex(byNamespace, namespaceOf);
    for (const kind of exposedKinds) informers[kind].addIndex(byIngressHost, (w) => ingressHostKeys(w as ExposedWorkload));
    this.informers = informers;
    // The informers hold what the apiserver sent, which its schema validated: the kinds' shapes.
    const caches = {
      quotas: informers.Quota,
      devicePolicies: informers.DevicePolicy,
      resourceSpecs: informers.ResourceSpec,
      pools: informers.ResourcePool,
      priorityClasses: informers.WorkloadPriorityClass,
      workspaces: informers.Workspace,
      workloads: { Notebook: informers.Notebook, ModelService: informers.ModelService },
      assets: { Dataset: informers.Dataset, Algorithm: informers.Algorithm, Model: informers.Model, Image: informers.Image },
    } as unknown as Caches;
    this.lookups = cacheLookups(caches);
  }

  start(): void {
    this.factory.start();
  }

  async waitForSync(signal?: AbortSignal): Promise<boolean> {
    const synced = await Promise.all(Object.values(this.informers).map((informer) => informer.waitForSync(signal)));
    return synced.every(Boolean);
  }

  stop(): Promise<void> {
    return this.factory.stop();
  }
}
