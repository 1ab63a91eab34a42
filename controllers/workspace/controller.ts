/**
 * Workspace controller (cluster-scoped): creates and owns the namespace of the same name, the
 * members' RoleBindings, the Quota "default" and the NetworkPolicy isolating the namespace; reports
 * them in status. A namespace someone else
 * made is never taken over. Deleting a Workspace follows spec.deletionPolicy, behind a finalizer:
 * Delete removes the namespace (and waits until it is gone); Retain lets go of everything — owner
 * references and the workspace label — so garbage collection leaves the namespace as it was.
 *
 * Known limit: `kubectl delete --cascade=foreground` makes the garbage collector delete owned
 * children before the finalizer runs, so Retain needs the default (background) deletion.
 */
import type { KubernetesObject, V1Namespace, V1RoleBinding } from '@kubernetes/client-node';
import { WorkspaceReasons as R, workspaceLabel, type Quota, type ResourcePool, type Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { schedulingCaches } from '../cluster/caches.js';
import type { ControllerSetup } from '../context.js';
import { core, octopus } from '../resources.js';
import {
  addFinalizer,
  applyOwnedChild,
  desiredHashAnnotation,
  enqueueController,
  findCondition,
  hasFinalizer,
  isControlledBy,
  removeFinalizer,
  type ChildProblem,
  type Condition,
  type Informer,
  type Manager,
} from '../runtime/index.js';
import {
  desiredNamespace,
  desiredNetworkPolicy,
  desiredQuota,
  desiredRoleBindings,
  networkPolicyName,
  quotaName,
  workspaceFinalizer,
  workspaceStatus,
  type NetworkPolicy,
  type PlatformNamespaces,
  type WorkspaceObservation,
} from './children.js';

/** Workspaces by the pools they name, so a pool appearing updates their status. */
const byPool = 'pool';

interface Caches {
  workspaces: Informer<Workspace>;
  namespaces: Informer<V1Namespace>;
  bindings: Informer<V1RoleBinding>;
  quotas: Informer<Quota>;
  pools: Informer<ResourcePool>;
  networkPolicies: Informer<NetworkPolicy>;
}

export class WorkspaceReconciler {
  constructor(
    private readonly manager: Manager,
    private readonly caches: Caches,
    private readonly platform: PlatformNamespaces,
  ) {}

  async reconcile(name: string): Promise<void> {
    const cached = this.caches.workspaces.get(name);
    if (!cached) return;
    if (cached.metadata.deletionTimestamp) return this.finalize(cached);
    // The finalizer goes on before the namespace exists, so no namespace outlives a Workspace unnoticed.
    const ws = await addFinalizer(this.manager.client, cached, workspaceFinalizer);
    const observed: WorkspaceObservation = { missingPools: (ws.spec.pools ?? []).filter((p) => !this.caches.pools.get(p)) };
    const namespace = this.caches.namespaces.get(name);
    if (namespace && !isControlledBy(namespace, ws)) {
      observed.namespace = { reason: R.NamespaceConflict, message: `namespace ${name} exists and is not owned by this Workspace; Octopus never takes over a namespace: delete it or choose another name` };
    } else if (namespace?.metadata?.deletionTimestamp) {
      observed.namespace = { reason: R.Terminating, message: `namespace ${name} is being deleted; it is made again once it is gone` };
    } else {
      const applied = await applyOwnedChild(this.manager.client, ws, desiredNamespace(ws), namespace);
      if (applied.problem) observed.namespace = { reason: applied.problem.reason === 'NameConflict' ? R.NamespaceConflict : applied.problem.reason, message: applied.problem.message };
      else {
        if (applied.wrote && !namespace) this.record(ws, 'Normal', 'NamespaceCreated', `created namespace ${name}`);
        observed.problem = await this.reconcileChildren(ws);
      }
    }
    observed.quota = this.caches.quotas.get(`${name}/${quotaName}`);
    await this.writeStatus(ws, observed);
  }

  /** RoleBindings, the Quota and the NetworkPolicy; the first problem, if any. */
  private async reconcileChildren(ws: Workspace): Promise<ChildProblem | undefined> {
    const name = ws.metadata.name!;
    const problems: ChildProblem[] = [];
    const desired = desiredRoleBindings(ws);
    for (const rb of desired) {
      const applied = await applyOwnedChild(this.manager.client, ws, rb, this.caches.bindings.get(`${name}/${rb.metadata!.name}`));
      if (applied.problem) problems.push(applied.problem);
    }
    const wanted = new Set(desired.map((rb) => rb.metadata!.name));
    for (const rb of this.owned(this.caches.bindings.list(name), ws)) {
      if (!wanted.has(rb.metadata!.name)) await this.manager.client.deleteIgnoreNotFound(rb);
    }
    const optional = [
      await this.applyOptional(ws, desiredQuota(ws), this.caches.quotas.get(`${name}/${quotaName}`), 'QuotaRemoved', `spec.quota is unset: deleted Quota ${name}/${quotaName}`),
      await this.applyOptional(
        ws,
        desiredNetworkPolicy(ws, this.platform),
        this.caches.networkPolicies.get(`${name}/${networkPolicyName}`),
        'NetworkPolicyRemoved',
        `spec.network.isolation is None: deleted NetworkPolicy ${name}/${networkPolicyName}`,
      ),
    ];
    problems.push(...optional.filter((p): p is ChildProblem => p !== undefined));
    return problems[0];
  }

  /** A child the spec may leave out: applied when wanted, else ours is deleted (and an Event says why); its problem, if any. */
  private async applyOptional<T extends KubernetesObject>(ws: Workspace, desired: T | undefined, cached: T | undefined, removedReason: string, removedNote: string): Promise<ChildProblem | undefined> {
    if (desired) return (await applyOwnedChild(this.manager.client, ws, desired, cached)).problem;
    if (cached && isControlledBy(cached, ws)) {
      await this.manager.client.deleteIgnoreNotFound(cached);
      this.record(ws, 'Normal', removedReason, removedNote);
    }
    return undefined;
  }

  private async finalize(ws: Workspace): Promise<void> {
    if (!hasFinalizer(ws, workspaceFinalizer)) return;
    const name = ws.metadata.name!;
    const namespace = this.caches.namespaces.get(name);
    const ours = namespace && isControlledBy(namespace, ws) ? namespace : undefined;
    if (ws.spec.deletionPolicy === 'Delete' && ours) {
      if (!ours.metadata?.deletionTimestamp) {
        await this.manager.client.deleteIgnoreNotFound(ours);
        this.record(ws, 'Normal', 'DeletingNamespace', `deletionPolicy Delete: deleting namespace ${name} and everything in it`);
      }
      // The namespace's deletion is watched: once it is gone, this runs again and lets the Workspace go.
      await this.writeStatus(ws, { missingPools: [], deleting: `deleting namespace ${name} (deletionPolicy Delete)` });
      return;
    }
    if (ws.spec.deletionPolicy !== 'Delete') {
      const kept = [
        ...(ours ? [ours] : []),
        ...this.owned(this.caches.bindings.list(name), ws),
        ...this.owned([this.caches.quotas.get(`${name}/${quotaName}`), this.caches.networkPolicies.get(`${name}/${networkPolicyName}`)], ws),
      ];
      for (const obj of kept) await this.release(obj, ws, obj === ours);
      if (ours) this.record(ws, 'Normal', 'NamespaceRetained', `deletionPolicy Retain: namespace ${name} is kept, no longer owned by the Workspace`);
    }
    await removeFinalizer(this.manager.client, ws, workspaceFinalizer);
  }

  /** Drops the Workspace's owner reference (and, from the namespace, the workspace label and our apply hash) so garbage collection keeps the object. */
  private async release(obj: KubernetesObject, ws: Workspace, isNamespace: boolean): Promise<void> {
    const ownerReferences = (obj.metadata?.ownerReferences ?? []).filter((r) => r.uid !== ws.metadata.uid);
    const metadata = {
      resourceVersion: obj.metadata!.resourceVersion,
      ownerReferences,
      ...(isNamespace ? { labels: { [workspaceLabel]: null }, annotations: { [desiredHashAnnotation]: null } } : {}),
    };
    await this.manager.client.patch(obj, { metadata });
  }

  private owned<T extends KubernetesObject>(objects: (T | undefined)[], ws: Workspace): T[] {
    return objects.filter((o): o is T => o !== undefined && isControlledBy(o, ws));
  }

  private async writeStatus(ws: Workspace, observed: WorkspaceObservation): Promise<void> {
    const status = workspaceStatus(ws, observed, this.manager.clock.now());
    const { changed, object } = await this.manager.client.updateStatusIfChanged(octopus.Workspace, ws, status);
    const before = findCondition(ws.status?.conditions as Condition[] | undefined, 'Ready');
    const after = findCondition(status.conditions as Condition[] | undefined, 'Ready');
    if (changed && after && after.reason !== before?.reason) this.record(object, after.status === 'True' || after.reason === R.Terminating ? 'Normal' : 'Warning', after.reason, after.message);
  }

  private record(regarding: KubernetesObject, type: 'Normal' | 'Warning', reason: string, note: string): void {
    this.manager.events.record({ regarding, type, reason, note });
  }
}

export const setupWorkspaceController: ControllerSetup = ({ manager, options }) => {
  const { quotas, pools } = schedulingCaches(manager);
  const workspaces = manager.informer<Workspace>(octopus.Workspace);
  workspaces.addIndex(byPool, (ws) => ws.spec.pools ?? []);
  const caches: Caches = {
    workspaces,
    namespaces: manager.informer<V1Namespace>(core.Namespace),
    bindings: manager.informer<V1RoleBinding>(core.RoleBinding, { labelSelector: workspaceLabel }),
    quotas,
    pools,
    networkPolicies: manager.informer<NetworkPolicy>(core.NetworkPolicy, { labelSelector: workspaceLabel }),
  };
  const reconciler = new WorkspaceReconciler(manager, caches, { ingressNamespace: options.ingressNamespace, monitoringNamespace: options.monitoringNamespace });
  const owned = enqueueController({ group: octopus.Workspace.group, kind: octopus.Workspace.kind, namespaced: false });
  manager
    .addController({ name: 'workspace', concurrency: 2, reconcile: (key) => reconciler.reconcile(key) })
    .watches(workspaces)
    // A namespace is its workspace's, by name: made, taken, or gone.
    .watches(caches.namespaces, (ns: V1Namespace) => [ns.metadata!.name!])
    .watches(caches.bindings, owned)
    .watches(quotas, owned)
    .watches(caches.networkPolicies, owned)
    .watches(pools, (pool) => workspaces.byIndex(byPool, pool.metadata!.name!).map((ws) => ws.metadata.name!));
};
