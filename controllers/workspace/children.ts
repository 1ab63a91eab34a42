/**
 * A Workspace's children and status as pure functions: its namespace (with Pod Security Admission
 * labels), one RoleBinding per role that has members, the Quota "default", the NetworkPolicy that
 * isolates the namespace, and the status read back.
 */
import type { KubernetesObject, RbacV1Subject, V1LabelSelector, V1Namespace, V1NetworkPolicyPeer, V1RoleBinding } from '@kubernetes/client-node';
import { apiVersion, WorkspaceConditions as C, WorkspaceReasons as R, workspaceLabel, WorkspaceRoles, type Quota, type Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { labels as jobLabels } from '../job/pods.js';
import { controllerReference, setCondition, type ChildProblem, type Condition } from '../runtime/index.js';
import { workspaceClusterRoles } from './roles.js';

/** Holds a deleted Workspace until its deletionPolicy is carried out. */
export const workspaceFinalizer = 'octopus.openi.pcl.cn/workspace';
export const quotaName = 'default';
export const networkPolicyName = 'octopus-isolation';
const podSecurityModes = ['enforce', 'audit', 'warn'] as const;

type Member = NonNullable<Workspace['spec']['members']>[number];
export type WorkspaceStatus = NonNullable<Workspace['status']>;

export function childLabels(ws: Workspace): Record<string, string> {
  return { [workspaceLabel]: ws.metadata.name!, [jobLabels.managedBy]: 'octopus' };
}

export function desiredNamespace(ws: Workspace): V1Namespace {
  const level = ws.spec.podSecurity ?? 'restricted';
  const podSecurity = Object.fromEntries(podSecurityModes.map((mode) => [`pod-security.kubernetes.io/${mode}`, level]));
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: ws.metadata.name!, labels: { ...childLabels(ws), ...podSecurity }, ownerReferences: [controllerReference(ws)] },
  };
}

export function memberSubject(m: Member): RbacV1Subject {
  const kind = m.kind ?? 'User';
  if (kind === 'ServiceAccount') return { kind, name: m.name, namespace: m.namespace! };
  return { kind, apiGroup: 'rbac.authorization.k8s.io', name: m.name };
}

/** One RoleBinding per role with members, named like its ClusterRole (a binding's roleRef cannot change, its name never does either). */
export function desiredRoleBindings(ws: Workspace): V1RoleBinding[] {
  const members = ws.spec.members ?? [];
  return WorkspaceRoles.flatMap((role) => {
    const subjects = members.filter((m) => m.role === role).map(memberSubject);
    if (subjects.length === 0) return [];
    const name = workspaceClusterRoles[role];
    return [
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name, namespace: ws.metadata.name!, labels: childLabels(ws), ownerReferences: [controllerReference(ws)] },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
        subjects,
      },
    ];
  });
}

export function desiredQuota(ws: Workspace): Quota | undefined {
  if (!ws.spec.quota) return undefined;
  return {
    apiVersion,
    kind: 'Quota',
    metadata: { name: quotaName, namespace: ws.metadata.name!, labels: childLabels(ws), ownerReferences: [controllerReference(ws)] },
    spec: ws.spec.quota,
  };
}

/** Namespaces of the platform whose pods reach every workspace: the ingress controller and the metrics scraper. */
export interface PlatformNamespaces {
  ingressNamespace: string;
  monitoringNamespace: string;
}

/** A NetworkPolicy as the API has it (client-node's V1NetworkPolicy calls `from` `_from`, which only its own serializer knows). */
export interface NetworkPolicy extends KubernetesObject {
  spec: { podSelector: V1LabelSelector; policyTypes: string[]; ingress: { from: V1NetworkPolicyPeer[] }[] };
}

/** Every namespace carries its name in this label (set by the apiserver), so a peer can name a namespace. */
const namespaceNameLabel = 'kubernetes.io/metadata.name';

/**
 * With isolation Isolated (the default), a policy selecting every pod of the namespace that admits
 * traffic only from the namespace itself, the platform's namespaces and spec.network.allowFromNamespaces;
 * with None, no policy. Egress is left alone.
 */
export function desiredNetworkPolicy(ws: Workspace, platform: PlatformNamespaces): NetworkPolicy | undefined {
  const network = ws.spec.network ?? {};
  if ((network.isolation ?? 'Isolated') === 'None') return undefined;
  const namespaces = [...new Set([platform.ingressNamespace, platform.monitoringNamespace, ...(network.allowFromNamespaces ?? [])].filter((ns) => ns !== '' && ns !== ws.metadata.name))];
  const from: V1NetworkPolicyPeer[] = [{ podSelector: {} }, ...namespaces.map((ns) => ({ namespaceSelector: { matchLabels: { [namespaceNameLabel]: ns } } }))];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: networkPolicyName, namespace: ws.metadata.name!, labels: childLabels(ws), ownerReferences: [controllerReference(ws)] },
    spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from }] },
  };
}

export interface WorkspaceObservation {
  /** Why the namespace is not usable, if it is not: someone else's, or going away. */
  namespace?: { reason: string; message: string };
  /** A child that could not be written. */
  problem?: ChildProblem;
  quota?: Quota;
  /** spec.pools that name no ResourcePool (yet). */
  missingPools: string[];
  deleting?: string;
}

export function workspaceStatus(ws: Workspace, o: WorkspaceObservation, now: number): WorkspaceStatus {
  const gen = ws.metadata.generation;
  const status: WorkspaceStatus = { ...structuredClone(ws.status ?? {}), observedGeneration: gen ?? 0, memberCount: ws.spec.members?.length ?? 0 };
  const ready = (s: Condition['status'], reason: string, message: string) => {
    status.conditions = setCondition(status.conditions as Condition[] | undefined, { type: C.Ready, status: s, reason, message }, gen, now);
  };
  const accelerators = ws.spec.quota ? o.quota?.status?.summary?.accelerators : undefined;
  if (accelerators) status.quota = accelerators;
  else delete status.quota;
  const existingPools = (ws.spec.pools ?? []).filter((p) => !o.missingPools.includes(p));
  if (existingPools.length) status.pools = existingPools;
  else delete status.pools;
  if (o.namespace?.reason === R.NamespaceConflict) delete status.namespace;
  else status.namespace = ws.metadata.name!;

  if (o.deleting) {
    ready('False', R.Terminating, o.deleting);
  } else if (o.namespace) {
    ready('False', o.namespace.reason, o.namespace.message);
  } else if (o.problem) {
    ready('False', o.problem.reason, o.problem.message);
  } else {
    const pools = ws.spec.pools?.length ? `pools ${ws.spec.pools.join(', ')}${o.missingPools.length ? ` (not found yet: ${o.missingPools.join(', ')})` : ''}` : 'every pool';
    ready('True', R.NamespaceReady, `namespace ${ws.metadata.name} with ${status.memberCount} members; may use ${pools}`);
  }
  return status;
}
