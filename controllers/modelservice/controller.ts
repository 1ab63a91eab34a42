/**
 * ModelService controller: resolves the model version and image, keeps a Deployment serving it
 * (with a Service, and an Ingress when enabled), and reports the Deployment's progress. Children
 * are server-side applied only when they differ from what is wanted, so a steady service costs no
 * writes; a new model version changes the pod template, and the Deployment rolls.
 */
import type { KubernetesObject, V1Deployment } from '@kubernetes/client-node';
import { JobReasons, type Model, type ModelService } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { localMount, ShareError } from '../assets/share.js';
import type { ControllerSetup } from '../context.js';
import { assetLookups } from '../job/controller.js';
import type { Mount } from '../job/pods.js';
import { core, octopus } from '../resources.js';
import { applyOwnedChild, enqueueController, isControlledBy, type Informer, type Manager, type Result } from '../runtime/index.js';
import { expose, exposureCaches, serviceUrl, type ExposureCaches } from './expose.js';
import { modelServiceLabel } from '../admission/workloads.js';
import { childLabels, desiredDeployment, quantityEquivalent, resolveServing, selectorLabels, servingEvents, servingStatus } from './serving.js';

/** A reference that does not resolve yet is looked at again this often (objects may be applied in any order). */
const unresolvedRecheckMs = 15_000;
/** ModelServices by the Model they serve, `<model namespace>/<model name>`. */
const byModel = 'model';

interface Children extends ExposureCaches {
  deployments: Informer<V1Deployment>;
}

export class ModelServiceReconciler {
  constructor(
    private readonly manager: Manager,
    private readonly modelServices: Informer<ModelService>,
    private readonly children: Children,
    private readonly lookups: ReturnType<typeof assetLookups>,
    private readonly options: { runAsUser: number; ingressDomain: string; ingressClass: string; resourceTagKey: string; resourceTagValuePrefix: string },
  ) {}

  async reconcile(key: string): Promise<Result | void> {
    const ms = this.modelServices.get(key);
    if (!ms || ms.metadata.deletionTimestamp) return; // owner references let the garbage collector remove the children
    const resolved = resolveServing(ms, this.lookups, { key: this.options.resourceTagKey, valuePrefix: this.options.resourceTagValuePrefix });
    const deployment = this.children.deployments.get(key);
    // Unresolved, the Deployment stays as it was: a typo in a new version must not stop the one being served.
    // Undefined while the served version cannot be mounted: unresolved, or not shareable yet.
    const model = resolved.ok ? await this.localModel(ms, resolved.refs.model) : undefined;
    const admission = ms.status?.admission;
    // Serving pods exist only as admitted: before admission there is no Deployment, after a release it runs none.
    const applied = resolved.ok && model && admission ? await applyOwnedChild(this.manager.client, ms, desiredDeployment(ms, { ...resolved.refs, model }, admission, this.options.runAsUser), deployment, quantityEquivalent) : undefined;
    if (!admission && deployment && isControlledBy(deployment, ms) && (deployment.spec?.replicas ?? 1) > 0) await this.manager.client.patch(deployment, { spec: { replicas: 0 } });
    const exposed = await expose(this.manager.client, this.children, { owner: ms, labels: childLabels(ms), selector: selectorLabels(ms), ingress: ms.spec.ingress, domain: this.options.ingressDomain, className: this.options.ingressClass });
    const problem = applied?.problem ?? exposed;

    const status = servingStatus(
      ms,
      {
        refs: resolved.ok ? { ok: true } : resolved,
        ...(deployment && isControlledBy(deployment, ms) ? { deployment } : {}),
        ...(problem ? { problem } : {}),
        url: serviceUrl(ms, ms.spec.ingress, this.options.ingressDomain),
      },
      this.manager.clock.now(),
    );
    const { changed, object } = await this.manager.client.updateStatusIfChanged(octopus.ModelService, ms, status);
    if (changed) for (const e of servingEvents(ms, ms.status, status)) this.manager.events.record({ regarding: object, ...e });
    // A host taken by another workload or not granted yet frees up without an event of ours: look again.
    return model && !exposed ? undefined : { requeueAfterMs: unresolvedRecheckMs };
  }

  /** The served version's claim, shared into this namespace when it is another's; an Event says why it cannot be yet. */
  private async localModel(ms: ModelService, model: Mount): Promise<Mount | undefined> {
    try {
      return await localMount(this.manager, ms, model);
    } catch (err) {
      if (!(err instanceof ShareError)) throw err;
      this.manager.events.record({ regarding: ms, type: 'Warning', reason: JobReasons.NotShareable, note: err.message });
      return undefined;
    }
  }
}

export const setupModelServiceController: ControllerSetup = ({ manager, options }) => {
  const modelServices = manager.informer<ModelService>(octopus.ModelService);
  modelServices.addIndex(byModel, (ms) => [`${ms.spec.model.namespace ?? ms.metadata.namespace}/${ms.spec.model.name}`]);
  const children: Children = { deployments: manager.informer<V1Deployment>(core.Deployment, { labelSelector: modelServiceLabel }), ...exposureCaches(manager, modelServiceLabel) };
  const models = manager.informer<Model>(octopus.Model);
  const reconciler = new ModelServiceReconciler(manager, modelServices, children, assetLookups(manager), options);
  const owned = enqueueController({ group: octopus.ModelService.group, kind: octopus.ModelService.kind, namespaced: true });
  const controller = manager
    .addController({ name: 'modelservice', concurrency: options.workers, reconcile: (key) => reconciler.reconcile(key) })
    .watches(modelServices)
    // A version becoming Ready (a Job's output registered) is what a waiting service waits for.
    .watches(models, (m: KubernetesObject) => modelServices.byIndex(byModel, `${m.metadata!.namespace}/${m.metadata!.name}`).map((ms) => `${ms.metadata.namespace}/${ms.metadata.name}`));
  for (const child of Object.values(children)) controller.watches(child, owned);
};
