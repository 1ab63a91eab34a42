/**
 * The informers the scheduling controllers (Job, Notebook, admission, Quota, ResourcePool,
 * ResourceSpec) share, with their indexes, registered once per Manager whichever controller asks
 * first.
 */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { DevicePolicy, Job, ModelService, Notebook, Quota, ResourcePool, ResourceSpec, WorkloadPriorityClass, Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { labels } from '../job/pods.js';
import { chargedToLabel, modelServiceLabel, notebookLabel } from '../admission/workloads.js';
import { core, octopus } from '../resources.js';
import type { Informer, Manager } from '../runtime/index.js';
import { slimNode, slimPod } from './nodes.js';

export interface SchedulingCaches {
  jobs: Informer<Job>;
  notebooks: Informer<Notebook>;
  modelServices: Informer<ModelService>;
  /** Every pod of the cluster (capacity accounting), slimmed. Indexes: `node`, `job`, `notebook` and `modelService` (namespace/name), `chargedTo` (namespace). */
  pods: Informer<V1Pod>;
  nodes: Informer<V1Node>;
  pools: Informer<ResourcePool>;
  specs: Informer<ResourceSpec>;
  quotas: Informer<Quota>;
  policies: Informer<DevicePolicy>;
  /** Whether a namespace's workloads must be limited by a Quota (spec.requireQuota). */
  workspaces: Informer<Workspace>;
  priorityClasses: Informer<WorkloadPriorityClass>;
}

export const podIndexes = { node: 'node', job: 'job', notebook: 'notebook', modelService: 'modelService', chargedTo: 'chargedTo' } as const;

const perManager = new WeakMap<Manager, SchedulingCaches>();

export function schedulingCaches(manager: Manager): SchedulingCaches {
  const existing = perManager.get(manager);
  if (existing) return existing;
  const pods = manager.informer<V1Pod>(core.Pod, {}, slimPod);
  pods.addIndex(podIndexes.node, (p) => (p.spec?.nodeName ? [p.spec.nodeName] : []));
  pods.addIndex(podIndexes.job, (p) => {
    const job = p.metadata?.labels?.[labels.job];
    return job ? [`${p.metadata!.namespace}/${job}`] : [];
  });
  pods.addIndex(podIndexes.notebook, (p) => {
    const nb = p.metadata?.labels?.[notebookLabel];
    return nb ? [`${p.metadata!.namespace}/${nb}`] : [];
  });
  pods.addIndex(podIndexes.modelService, (p) => {
    const ms = p.metadata?.labels?.[modelServiceLabel];
    return ms ? [`${p.metadata!.namespace}/${ms}`] : [];
  });
  pods.addIndex(podIndexes.chargedTo, (p) => {
    const ns = p.metadata?.labels?.[chargedToLabel];
    return ns ? [ns] : [];
  });
  const caches: SchedulingCaches = {
    jobs: manager.informer<Job>(octopus.Job),
    notebooks: manager.informer<Notebook>(octopus.Notebook),
    modelServices: manager.informer<ModelService>(octopus.ModelService),
    pods,
    nodes: manager.informer<V1Node>(core.Node, {}, slimNode),
    pools: manager.informer<ResourcePool>(octopus.ResourcePool),
    specs: manager.informer<ResourceSpec>(octopus.ResourceSpec),
    quotas: manager.informer<Quota>(octopus.Quota),
    policies: manager.informer<DevicePolicy>(octopus.DevicePolicy),
    workspaces: manager.informer<Workspace>(octopus.Workspace),
    priorityClasses: manager.informer<WorkloadPriorityClass>(octopus.WorkloadPriorityClass),
  };
  perManager.set(manager, caches);
  return caches;
}
