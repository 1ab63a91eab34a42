/** REST resources the controllers read and write. */
import { allKinds, group, version, type KindDefinition } from '../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { ResourceRef } from './runtime/index.js';

export function octopusResource(def: KindDefinition): ResourceRef {
  return { group, version, plural: def.plural, kind: def.kind, namespaced: def.scope === 'Namespaced' };
}

const byKind = new Map(allKinds.map((def) => [def.kind, octopusResource(def)]));

/** Octopus kinds by Kind name, e.g. `octopus.Job`. */
export const octopus = {
  Dataset: byKind.get('Dataset')!,
  Algorithm: byKind.get('Algorithm')!,
  Image: byKind.get('Image')!,
  Model: byKind.get('Model')!,
  Job: byKind.get('Job')!,
  Notebook: byKind.get('Notebook')!,
  ModelService: byKind.get('ModelService')!,
  Quota: byKind.get('Quota')!,
  Workspace: byKind.get('Workspace')!,
  ResourcePool: byKind.get('ResourcePool')!,
  ResourceSpec: byKind.get('ResourceSpec')!,
  DevicePolicy: byKind.get('DevicePolicy')!,
  WorkloadPriorityClass: byKind.get('WorkloadPriorityClass')!,
} as const;

export const core = {
  Pod: { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true },
  Node: { group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false },
  Service: { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true },
  ConfigMap: { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true },
  Secret: { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true },
  PersistentVolumeClaim: { group: '', version: 'v1', plural: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim', namespaced: true },
  PersistentVolume: { group: '', version: 'v1', plural: 'persistentvolumes', kind: 'PersistentVolume', namespaced: false },
  Namespace: { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false },
  BatchJob: { group: 'batch', version: 'v1', plural: 'jobs', kind: 'Job', namespaced: true },
  Deployment: { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true },
  StatefulSet: { group: 'apps', version: 'v1', plural: 'statefulsets', kind: 'StatefulSet', namespaced: true },
  Ingress: { group: 'networking.k8s.io', version: 'v1', plural: 'ingresses', kind: 'Ingress', namespaced: true },
  NetworkPolicy: { group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies', kind: 'NetworkPolicy', namespaced: true },
  RoleBinding: { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', kind: 'RoleBinding', namespaced: true },
} as const satisfies Record<string, ResourceRef>;
