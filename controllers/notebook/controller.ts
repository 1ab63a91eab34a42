/**
 * Notebook controller: resolves references, waits for the admission controller to reserve quota
 * (status.admission), then runs JupyterLab in one pod with the Job's mounts plus /userhome, behind
 * a Service and optionally an Ingress. Stopping deletes the pod and releases the reservation.
 *
 * A bare pod with a stable name rather than a StatefulSet of one: the pod must exist only while the
 * notebook holds a reservation, and only this controller — which holds it — may create it. A
 * StatefulSet would recreate a deleted or evicted pod on its own, also after the reservation is
 * gone, and would roll its pod on template changes that admission never saw. The name `<nb>-0`
 * gives the same stable identity; the home claim is ours, so it is kept across stops without
 * volumeClaimTemplates.
 */
import type { V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { JobReasons, type Notebook } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { notebookLabel } from '../admission/workloads.js';
import { localMounts, ShareError } from '../assets/share.js';
import { schedulingCaches } from '../cluster/caches.js';
import type { ControllerContext, ControllerSetup } from '../context.js';
import { assetLookups } from '../job/controller.js';
import type { Lookups } from '../job/references.js';
import { expose, exposureCaches, serviceUrl, type ExposureCaches } from '../modelservice/expose.js';
import { core, octopus } from '../resources.js';
import { enqueueController, isAlreadyExists, isControlledBy, refusal, resourcePath, type ChildProblem, type Informer, type Manager, type ResourceRef, type Result } from '../runtime/index.js';
import { decideNotebook, markFailed } from './lifecycle.js';
import { buildNotebookPod, desiredHomeClaim, homeClaimName, notebookLabels, notebookPodName, observeNotebookPod, resolveNotebookReferences } from './pod.js';

/** A reference that does not resolve yet is looked at again this often (objects may be applied in any order). */
const unresolvedRecheckMs = 15_000;

interface Children extends ExposureCaches {
  pods: Informer<V1Pod>;
  claims: Informer<V1PersistentVolumeClaim>;
}

export class NotebookReconciler {
  constructor(
    private readonly ctx: ControllerContext,
    private readonly notebooks: Informer<Notebook>,
    private readonly children: Children,
    private readonly lookups: Lookups,
  ) {}

  private get manager(): Manager {
    return this.ctx.manager;
  }

  async reconcile(key: string): Promise<Result | void> {
    const nb = this.notebooks.get(key);
    if (!nb || nb.metadata.deletionTimestamp) return; // owner references let the garbage collector remove the children
    const { options } = this.ctx;
    const now = this.manager.clock.now();
    const refs = resolveNotebookReferences(nb, this.lookups, { key: options.resourceTagKey, valuePrefix: options.resourceTagValuePrefix });
    const cachedPod = this.children.pods.get(`${nb.metadata.namespace}/${notebookPodName(nb.metadata.name!)}`);
    const ours = cachedPod && isControlledBy(cachedPod, nb) ? cachedPod : undefined;
    const url = serviceUrl(nb, nb.spec.ingress, options.ingressDomain);
    const decision = decideNotebook(nb, { refs: refs.ok ? { ok: true } : refs, ...(cachedPod ? { pod: observeNotebookPod(cachedPod, ours !== undefined) } : {}), url }, now);

    // A Service or Ingress of someone else's under our name: fail rather than send users to somebody else's endpoint.
    const problem = await expose(this.manager.client, this.children, { owner: nb, labels: notebookLabels(nb), selector: { [notebookLabel]: nb.metadata.name! }, ingress: nb.spec.ingress, domain: options.ingressDomain, className: options.ingressClass });
    if (problem) markFailed(decision, nb, problem.reason, problem.message, now);
    if (decision.deletePod && ours && !ours.metadata?.deletionTimestamp) await this.manager.client.deleteIgnoreNotFound(ours);
    let notShared = false;
    if (decision.createPod && refs.ok && decision.status.admission) {
      try {
        const local = await localMounts(this.manager, nb, refs.refs);
        const refused = await this.start(nb, buildNotebookPod({ notebook: nb, admission: decision.status.admission, refs: local, runAsUser: options.runAsUser }));
        if (refused) markFailed(decision, nb, refused.reason, refused.message, now);
      } catch (err) {
        if (!(err instanceof ShareError)) throw err;
        // Not bound yet, most likely: retried like an unresolved reference.
        this.manager.events.record({ regarding: nb, type: 'Warning', reason: JobReasons.NotShareable, note: err.message });
        notShared = true;
      }
    }

    const { changed, object } = await this.manager.client.updateStatusIfChanged(octopus.Notebook, nb, decision.status);
    if (changed) for (const e of decision.events) this.manager.events.record({ regarding: object, ...e });
    const waits = [decision.requeueAfterMs, refs.ok && !notShared ? undefined : unresolvedRecheckMs].filter((w): w is number => w !== undefined);
    return waits.length ? { requeueAfterMs: Math.min(...waits) } : undefined;
  }

  /** Creates the home claim (once) and the pod; returns why the notebook cannot start, if the apiserver refuses or the name is taken. */
  private async start(nb: Notebook, pod: V1Pod): Promise<ChildProblem | undefined> {
    const ns = nb.metadata.namespace!;
    const homeName = homeClaimName(nb.metadata.name!);
    let home = this.children.claims.get(`${ns}/${homeName}`);
    if (!home) {
      const claim = await this.create(core.PersistentVolumeClaim, desiredHomeClaim(nb, this.ctx.options));
      if (claim.refused) return { reason: 'Refused', message: claim.refused };
      if (claim.existed) home = await this.manager.client.get<V1PersistentVolumeClaim>(core.PersistentVolumeClaim, homeName, ns);
    }
    // A claim planted under the home's name (any member may create claims) would hand the pod someone else's files.
    if (home && !isControlledBy(home, nb)) return { reason: 'NameConflict', message: `PersistentVolumeClaim ${homeName} exists and is not owned by Notebook ${nb.metadata.name}; it is not used as /userhome` };
    const created = await this.create(core.Pod, pod);
    if (created.refused) return { reason: 'Refused', message: created.refused };
    if (!created.existed) return undefined;
    // Our cache selects on the notebook label: a pod of that name it does not hold may be someone else's.
    const live = await this.manager.client.get<V1Pod>(core.Pod, pod.metadata!.name!, ns);
    return isControlledBy(live, nb) ? undefined : { reason: 'NameConflict', message: `Pod ${pod.metadata!.name} exists and is not owned by Notebook ${nb.metadata.name}` };
  }

  /**
   * POST; deterministic names make AlreadyExists an expected answer. A refusal (Pod Security
   * Admission, a ResourceQuota, an invalid name) is reported rather than retried: retrying cannot fix it.
   */
  private async create(resource: ResourceRef, obj: V1Pod | V1PersistentVolumeClaim): Promise<{ existed?: boolean; refused?: string }> {
    try {
      await this.manager.rest.request({ method: 'POST', path: resourcePath(resource, { namespace: obj.metadata!.namespace! }), body: obj });
      return {};
    } catch (err) {
      if (isAlreadyExists(err)) return { existed: true };
      const refused = refusal(err);
      if (refused !== undefined) return { refused: `${obj.kind} ${obj.metadata?.name} was refused: ${refused}` };
      throw new Error(`create ${obj.kind} ${obj.metadata?.name}`, { cause: err });
    }
  }
}

export const setupNotebookController: ControllerSetup = (ctx) => {
  const { manager, options } = ctx;
  const { notebooks } = schedulingCaches(manager);
  // Whole pods, not the scheduling caches' slim ones: the lifecycle reads the pod's annotations.
  const selector = { labelSelector: notebookLabel };
  const children: Children = {
    pods: manager.informer<V1Pod>(core.Pod, selector),
    claims: manager.informer<V1PersistentVolumeClaim>(core.PersistentVolumeClaim, selector),
    ...exposureCaches(manager, notebookLabel),
  };
  const reconciler = new NotebookReconciler(ctx, notebooks, children, assetLookups(manager));
  const owned = enqueueController({ group: octopus.Notebook.group, kind: octopus.Notebook.kind, namespaced: true });
  const controller = manager.addController({ name: 'notebook', concurrency: options.workers, reconcile: (key) => reconciler.reconcile(key) }).watches(notebooks);
  for (const child of Object.values(children)) controller.watches(child, owned);
};
