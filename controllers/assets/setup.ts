/** Registers a versioned-asset controller (Dataset, Algorithm or Model) with a manager. */
import type { KubernetesObject, V1PersistentVolume } from '@kubernetes/client-node';
import type { Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { group } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { ControllerContext, ControllerSetup } from '../context.js';
import { enqueueController, objectKey } from '../runtime/index.js';
import { assetCaches, enqueueAnnotatedOwner, indexChildren, namespaced, type Scope } from './caches.js';
import { AssetReconciler, type AssetKindBehaviour } from './reconciler.js';
import type { VersionedAsset } from './types.js';

/** Assets by the `namespace/name` of each claim a pvc version names, so a claim appearing wakes them. */
const claimIndex = 'pvc-source';

function claimsNamed(asset: VersionedAsset): string[] {
  return (asset.spec.versions ?? []).flatMap((v) => (v.source.pvc ? [`${asset.metadata.namespace}/${v.source.pvc.claimName}`] : []));
}

function setupAssetController({ manager, options }: ControllerContext, behaviour: AssetKindBehaviour, scope: Scope = {}): void {
  const { kind, resource } = behaviour;
  const assets = manager.informer<VersionedAsset>(resource, namespaced(scope));
  assets.addIndex(claimIndex, claimsNamed);
  const caches = assetCaches(manager, scope);
  indexChildren(caches, kind);
  const reconciler = new AssetReconciler({ behaviour, assets, caches, client: manager.client, events: manager.events, clock: manager.clock, options });
  const owned = enqueueController({ group, kind, namespaced: true });
  const claimUsers = (claim: KubernetesObject) => [...owned(claim), ...assets.byIndex(claimIndex, objectKey(claim)).map(objectKey)];
  // A volume bound (or rebound) to a user's claim is judged by the policy: wake the claim's users.
  const boundClaimUsers = (pv: V1PersistentVolume) => {
    const ref = pv.spec?.claimRef;
    return ref?.namespace && ref.name ? assets.byIndex(claimIndex, `${ref.namespace}/${ref.name}`).map(objectKey) : [];
  };
  // The policy may change at any time: every asset of the Workspace's namespace is judged again.
  const policyUsers = (workspace: Workspace) => assets.list(workspace.metadata.name).map(objectKey);
  manager
    .addController({ name: kind.toLowerCase(), concurrency: options.workers, reconcile: (key, { logger }) => reconciler.reconcile(key, logger) })
    .watches(assets)
    .watches(caches.claims, claimUsers)
    .watches(caches.jobs, owned)
    .watches(caches.configMaps, owned)
    .watches(caches.pods, enqueueAnnotatedOwner(kind))
    .watches(caches.volumes, (pv) => [...enqueueAnnotatedOwner(kind)(pv), ...boundClaimUsers(pv)])
    .watches(caches.workspaces, policyUsers);
}

/** The ControllerSetup of a versioned kind, watching one namespace or (by default) all. */
export function assetController(behaviour: AssetKindBehaviour, scope: Scope = {}): ControllerSetup {
  return (ctx) => setupAssetController(ctx, behaviour, scope);
}
