import { describe, expect, it } from '@jest/globals';
import type { V1ClusterRole } from '@kubernetes/client-node';
import { userClusterRoles } from './roles.js';

/** Whether a role's rules allow `verb` on `resource` of `group`, as RBAC reads them. */
function allows(role: V1ClusterRole, group: string, resource: string, verb: string): boolean {
  return (role.rules ?? []).some((r) => (r.apiGroups ?? []).includes(group) && (r.resources ?? []).includes(resource) && r.verbs.includes(verb));
}

const roles = Object.fromEntries(userClusterRoles().map((r) => [r.metadata!.name!, r]));
const octopus = 'octopus.openi.pcl.cn';

describe('userClusterRoles', () => {
  it('folds each into the built-in role of the same rank', () => {
    expect(Object.fromEntries(Object.entries(roles).map(([name, r]) => [name, Object.keys(r.metadata!.labels!).filter((l) => l.startsWith('rbac.authorization.k8s.io/aggregate-to-'))]))).toEqual({
      'octopus-admin': ['rbac.authorization.k8s.io/aggregate-to-admin'],
      'octopus-edit': ['rbac.authorization.k8s.io/aggregate-to-edit'],
      'octopus-view': ['rbac.authorization.k8s.io/aggregate-to-view'],
    });
  });

  it.each([
    { role: 'octopus-view', group: octopus, resource: 'jobs', verb: 'list', want: true },
    { role: 'octopus-view', group: octopus, resource: 'jobs', verb: 'create', want: false },
    { role: 'octopus-view', group: octopus, resource: 'notebooks/status', verb: 'get', want: true },
    { role: 'octopus-view', group: '', resource: 'pods/log', verb: 'get', want: true },
    { role: 'octopus-view', group: '', resource: 'secrets', verb: 'get', want: false },
    { role: 'octopus-edit', group: octopus, resource: 'jobs', verb: 'create', want: true },
    { role: 'octopus-edit', group: octopus, resource: 'modelservices', verb: 'patch', want: true },
    { role: 'octopus-edit', group: '', resource: 'secrets', verb: 'create', want: true },
    { role: 'octopus-edit', group: '', resource: 'pods', verb: 'delete', want: false },
    // Limits come from the Workspace: nobody in the namespace raises their own.
    { role: 'octopus-admin', group: octopus, resource: 'quotas', verb: 'update', want: false },
    { role: 'octopus-admin', group: octopus, resource: 'quotas', verb: 'get', want: true },
    // Status belongs to the controllers.
    { role: 'octopus-admin', group: octopus, resource: 'jobs/status', verb: 'update', want: false },
    { role: 'octopus-admin', group: '', resource: 'pods', verb: 'delete', want: true },
    // Pods are made by controllers that apply quota and policy, never directly.
    { role: 'octopus-admin', group: '', resource: 'pods', verb: 'create', want: false },
    // The workspace's NetworkPolicy is the Workspace's: no member loosens their own isolation.
    ...['create', 'update', 'patch', 'delete'].map((verb) => ({ role: 'octopus-admin', group: 'networking.k8s.io', resource: 'networkpolicies', verb, want: false })),
    { role: 'octopus-edit', group: 'networking.k8s.io', resource: 'networkpolicies', verb: 'delete', want: false },
  ])('$role: $verb $resource ($group) → $want', ({ role, group, resource, verb, want }) => {
    expect(allows(roles[role]!, group, resource, verb)).toBe(want);
  });
});
