import { describe, expect, it } from '@jest/globals';
import type { Quota, Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { desiredNamespace, desiredNetworkPolicy, desiredQuota, desiredRoleBindings, memberSubject, workspaceStatus, type WorkspaceObservation } from './children.js';

const now = Date.parse('2026-01-01T00:00:00Z');
const owner = { apiVersion: 'octopus.openi.pcl.cn/v1alpha1', kind: 'Workspace', name: 'team-a', uid: 'uid-ws', controller: true, blockOwnerDeletion: true };

function makeWorkspace(spec: Workspace['spec'] = {}, status?: Workspace['status']): Workspace {
  return { apiVersion: 'octopus.openi.pcl.cn/v1alpha1', kind: 'Workspace', metadata: { name: 'team-a', uid: 'uid-ws', generation: 2 }, spec, ...(status ? { status } : {}) };
}

describe('desiredNamespace', () => {
  it.each([
    { name: 'restricted by default', podSecurity: undefined, want: 'restricted' },
    { name: 'the level asked for', podSecurity: 'baseline' as const, want: 'baseline' },
  ])('enforces, audits and warns at $name', ({ podSecurity, want }) => {
    const ns = desiredNamespace(makeWorkspace(podSecurity ? { podSecurity } : {}));
    expect(ns.metadata).toEqual({
      name: 'team-a',
      labels: {
        'octopus.openi.pcl.cn/workspace': 'team-a',
        'app.kubernetes.io/managed-by': 'octopus',
        'pod-security.kubernetes.io/enforce': want,
        'pod-security.kubernetes.io/audit': want,
        'pod-security.kubernetes.io/warn': want,
      },
      ownerReferences: [owner],
    });
  });
});

describe('memberSubject', () => {
  it.each([
    { member: { name: 'alice', role: 'owner' as const }, want: { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'alice' } },
    { member: { kind: 'Group' as const, name: 'vision', role: 'viewer' as const }, want: { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'vision' } },
    { member: { kind: 'ServiceAccount' as const, name: 'ci', namespace: 'ci-system', role: 'member' as const }, want: { kind: 'ServiceAccount', name: 'ci', namespace: 'ci-system' } },
  ])('$member.kind $member.name', ({ member, want }) => {
    expect(memberSubject(member)).toEqual(want);
  });
});

describe('desiredRoleBindings', () => {
  it.each([
    { name: 'no members: no bindings', members: undefined, want: [] },
    {
      name: 'one binding per role that has members, named like its ClusterRole',
      members: [
        { name: 'alice', role: 'owner' as const },
        { name: 'bob', role: 'member' as const },
        { name: 'carol', role: 'owner' as const },
      ],
      want: [
        ['octopus-admin', ['alice', 'carol']],
        ['octopus-edit', ['bob']],
      ],
    },
  ])('$name', ({ members, want }) => {
    const bindings = desiredRoleBindings(makeWorkspace(members ? { members } : {}));
    expect(bindings.map((rb) => [rb.metadata!.name, rb.subjects!.map((s) => s.name)])).toEqual(want);
    for (const rb of bindings) {
      expect(rb.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: rb.metadata!.name });
      expect(rb.metadata).toMatchObject({ namespace: 'team-a', labels: { 'octopus.openi.pcl.cn/workspace': 'team-a' }, ownerReferences: [owner] });
    }
  });
});

describe('desiredQuota', () => {
  it('is the Quota "default" with spec.quota as its spec, or none', () => {
    const quota = { hard: { 'nvidia.com/gpu': 8 }, budget: { resourceHours: { 'nvidia.com/gpu': 100 } } };
    expect(desiredQuota(makeWorkspace({ quota }))).toEqual({
      apiVersion: 'octopus.openi.pcl.cn/v1alpha1',
      kind: 'Quota',
      metadata: { name: 'default', namespace: 'team-a', labels: { 'octopus.openi.pcl.cn/workspace': 'team-a', 'app.kubernetes.io/managed-by': 'octopus' }, ownerReferences: [owner] },
      spec: quota,
    });
    expect(desiredQuota(makeWorkspace())).toBeUndefined();
  });
});

describe('desiredNetworkPolicy', () => {
  const platform = { ingressNamespace: 'ingress-nginx', monitoringNamespace: 'monitoring' };
  const fromNamespace = (name: string) => ({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': name } } });
  const sameNamespace = { podSelector: {} };

  it.each([
    { name: 'isolated by default: the namespace, the ingress controller and the scraper', network: undefined, platform, wantFrom: [sameNamespace, fromNamespace('ingress-nginx'), fromNamespace('monitoring')] },
    {
      name: 'further namespaces the workspace allows, each once',
      network: { isolation: 'Isolated' as const, allowFromNamespaces: ['gateway', 'monitoring', 'team-a'] },
      platform,
      wantFrom: [sameNamespace, fromNamespace('ingress-nginx'), fromNamespace('monitoring'), fromNamespace('gateway')],
    },
    { name: 'a platform namespace configured empty is left out', network: {}, platform: { ingressNamespace: 'ingress', monitoringNamespace: '' }, wantFrom: [sameNamespace, fromNamespace('ingress')] },
  ])('$name', ({ network, platform: p, wantFrom }) => {
    const policy = desiredNetworkPolicy(makeWorkspace(network ? { network } : {}), p);
    expect(policy).toEqual({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'octopus-isolation', namespace: 'team-a', labels: { 'octopus.openi.pcl.cn/workspace': 'team-a', 'app.kubernetes.io/managed-by': 'octopus' }, ownerReferences: [owner] },
      // Every pod, ingress only: what no rule admits is denied.
      spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: wantFrom }] },
    });
  });

  it('is none with isolation None', () => {
    expect(desiredNetworkPolicy(makeWorkspace({ network: { isolation: 'None', allowFromNamespaces: ['gateway'] } }), platform)).toBeUndefined();
  });
});

describe('workspaceStatus', () => {
  const quota = { status: { summary: { accelerators: '2/8' } } } as Quota;
  const ready = (s: NonNullable<Workspace['status']>) => s.conditions?.find((c) => c.type === 'Ready');
  const members = [{ name: 'alice', role: 'owner' as const }, { name: 'bob', role: 'member' as const }];

  it.each<{ name: string; spec: Workspace['spec']; observed: WorkspaceObservation; want: Record<string, unknown>; wantNamespace?: string; wantQuota?: string }>([
    {
      name: 'Ready, with members, quota and pools',
      spec: { members, quota: { hard: { 'nvidia.com/gpu': 8 } }, pools: ['gpu', 'npu'] },
      observed: { quota, missingPools: ['npu'] },
      want: { status: 'True', reason: 'NamespaceReady', message: 'namespace team-a with 2 members; may use pools gpu, npu (not found yet: npu)' },
      wantNamespace: 'team-a',
      wantQuota: '2/8',
    },
    { name: 'every pool when none is named', spec: {}, observed: { missingPools: [] }, want: { status: 'True', message: 'namespace team-a with 0 members; may use every pool' }, wantNamespace: 'team-a', wantQuota: undefined },
    {
      name: "someone else's namespace",
      spec: { members },
      observed: { missingPools: [], namespace: { reason: 'NamespaceConflict', message: 'namespace team-a exists' } },
      want: { status: 'False', reason: 'NamespaceConflict', message: 'namespace team-a exists' },
      wantNamespace: undefined,
      wantQuota: undefined,
    },
    {
      name: 'a child it could not write',
      spec: { quota: { hard: { cpu: 1 } } },
      observed: { missingPools: [], problem: { reason: 'NameConflict' as const, message: 'Quota default exists and is not owned by Workspace team-a' } },
      want: { status: 'False', reason: 'NameConflict' },
      wantNamespace: 'team-a',
      wantQuota: undefined,
    },
    { name: 'deleting', spec: {}, observed: { missingPools: [], deleting: 'deleting namespace team-a (deletionPolicy Delete)' }, want: { status: 'False', reason: 'Terminating' }, wantNamespace: 'team-a', wantQuota: undefined },
  ])('$name', ({ spec, observed, want, wantNamespace, wantQuota }) => {
    const status = workspaceStatus(makeWorkspace(spec), observed, now);
    expect(ready(status)).toMatchObject({ ...want, observedGeneration: 2 });
    expect(status.namespace).toBe(wantNamespace);
    expect(status.quota).toBe(wantQuota);
    expect(status.observedGeneration).toBe(2);
  });

  it('is stable: the same observation yields the same status', () => {
    const first = workspaceStatus(makeWorkspace({ members }), { missingPools: [] }, now);
    expect(workspaceStatus(makeWorkspace({ members }, first), { missingPools: [] }, now + 60_000)).toEqual(first);
  });
});
