import { describe, expect, it } from '@jest/globals';
import { apiVersion, type Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { FieldError } from '../admission.js';
import { createContext, lookupsOf } from '../testing/octopus.js';
import { validateMembers } from './members.js';

type Member = NonNullable<Workspace['spec']['members']>[number];
const workspace = (members: Member[]): Workspace => ({ apiVersion, kind: 'Workspace', metadata: { name: 'team-a' }, spec: { members } });

describe('validateMembers', () => {
  it.each<{ name: string; members: Member[]; want: FieldError[] }>([
    {
      name: 'allows users, groups and ServiceAccounts, one role each',
      members: [
        { name: 'alice', role: 'owner' },
        { kind: 'User', name: 'oidc:bob@example.com', role: 'member' },
        { kind: 'Group', name: 'vision interns', role: 'viewer' },
        { kind: 'ServiceAccount', name: 'ci.bot-1', namespace: 'ci', role: 'member' },
      ],
      want: [],
    },
    { name: 'allows a user and a group of the same name', members: [{ name: 'ops', role: 'owner' }, { kind: 'Group', name: 'ops', role: 'viewer' }], want: [] },
    {
      name: 'allows ServiceAccounts of the same name in different namespaces',
      members: [{ kind: 'ServiceAccount', name: 'bot', namespace: 'a', role: 'member' }, { kind: 'ServiceAccount', name: 'bot', namespace: 'b', role: 'member' }],
      want: [],
    },
    {
      name: 'denies a ServiceAccount name Kubernetes would refuse',
      members: [{ kind: 'ServiceAccount', name: 'CI_Bot', namespace: 'ci', role: 'member' }],
      want: [{ path: 'spec.members[0].name', message: `Invalid value: "CI_Bot": a ServiceAccount name must consist of lower case alphanumeric characters, '-' or '.', e.g. ci-bot` }],
    },
    { name: 'denies a blank name', members: [{ kind: 'Group', name: '  ', role: 'viewer' }], want: [{ path: 'spec.members[0].name', message: 'Invalid value: "  ": must not be blank' }] },
    {
      name: 'denies a user listed twice, whatever the roles',
      members: [{ name: 'alice', role: 'owner' }, { name: 'bob', role: 'member' }, { kind: 'User', name: 'alice', role: 'viewer' }],
      want: [{ path: 'spec.members[2]', message: 'Duplicate value: User alice is already spec.members[0]; give each member one role' }],
    },
    {
      name: 'denies a ServiceAccount listed twice',
      members: [{ kind: 'ServiceAccount', name: 'bot', namespace: 'ci', role: 'member' }, { kind: 'ServiceAccount', name: 'bot', namespace: 'ci', role: 'owner' }],
      want: [{ path: 'spec.members[1]', message: 'Duplicate value: ServiceAccount ci/bot is already spec.members[0]; give each member one role' }],
    },
  ])('$name', ({ members, want }) => {
    expect(validateMembers(createContext(workspace(members)), lookupsOf([]))).toEqual({ errors: want });
  });

  it('allows a workspace without members', () => {
    expect(validateMembers(createContext({ ...workspace([]), spec: {} }), lookupsOf([]))).toEqual({ errors: [] });
  });
});
