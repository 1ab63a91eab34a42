/**
 * The ClusterRoles workspace members are bound to in their namespace: owner → octopus-admin,
 * member → octopus-edit, viewer → octopus-view. The chart ships them (its generator calls
 * `userClusterRoles()`); the aggregation labels also fold them into the built-in admin, edit and
 * view roles, so whoever holds those in a namespace can use Octopus there too.
 *
 * Quotas are read-only to everyone: a workspace's limits come from its Workspace, which only
 * cluster admins edit. Status subresources are read-only: controllers own them.
 */
import type { V1ClusterRole, V1PolicyRule } from '@kubernetes/client-node';
import { allKinds, group, type WorkspaceRole } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';

export const workspaceClusterRoles = { owner: 'octopus-admin', member: 'octopus-edit', viewer: 'octopus-view' } as const satisfies Record<WorkspaceRole, string>;

const read = ['get', 'list', 'watch'];
const write = ['create', 'update', 'patch', 'delete', 'deletecollection'];

const namespacedKinds = allKinds.filter((k) => k.scope === 'Namespaced').map((k) => k.plural);
/** What members make: assets and workloads. */
const userKinds = allKinds.filter((k) => k.scope === 'Namespaced' && k.kind !== 'Quota').map((k) => k.plural);

const viewRules: V1PolicyRule[] = [
  { apiGroups: [group], resources: [...namespacedKinds, ...namespacedKinds.map((p) => `${p}/status`)], verbs: read },
  // What Octopus makes for them, to follow their workloads: pods and their logs, services, claims, events.
  { apiGroups: [''], resources: ['pods', 'pods/log', 'services', 'persistentvolumeclaims', 'configmaps', 'events'], verbs: read },
  { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: read },
];

const editRules: V1PolicyRule[] = [
  ...viewRules,
  { apiGroups: [group], resources: userKinds, verbs: write },
  // Assets name these: a claim holding a dataset, a ConfigMap of code, a Secret with S3 or registry credentials.
  { apiGroups: [''], resources: ['persistentvolumeclaims', 'configmaps', 'secrets'], verbs: [...read, ...write] },
];

const adminRules: V1PolicyRule[] = [
  ...editRules,
  // Owners may clear a stuck pod; creating pods stays with the controllers, which apply the workspace's limits.
  { apiGroups: [''], resources: ['pods'], verbs: ['delete'] },
];

function clusterRole(name: string, aggregateTo: 'admin' | 'edit' | 'view', rules: V1PolicyRule[]): V1ClusterRole {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name, labels: { 'app.kubernetes.io/part-of': 'octopus', [`rbac.authorization.k8s.io/aggregate-to-${aggregateTo}`]: 'true' } },
    rules,
  };
}

export function userClusterRoles(): V1ClusterRole[] {
  return [
    clusterRole(workspaceClusterRoles.owner, 'admin', adminRules),
    clusterRole(workspaceClusterRoles.member, 'edit', editRules),
    clusterRole(workspaceClusterRoles.viewer, 'view', viewRules),
  ];
}
