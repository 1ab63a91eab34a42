import { describe, expect, it } from '@jest/globals';
import { apiVersion, type ModelService, type Notebook, type Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { createContext, lookupsOf, makeNotebook, updateContext } from '../testing/octopus.js';
import { validateIngressHost } from './hosts.js';
import { octopusAdmission } from './index.js';

const domain = 'platform.example.com';
const check = validateIngressHost(domain);
type Ingress = NonNullable<Notebook['spec']['ingress']>;

const workspace = (name: string, hosts?: string[]): Workspace => ({ apiVersion, kind: 'Workspace', metadata: { name }, spec: hosts ? { hosts } : {} });
const notebook = (ingress: Ingress | undefined, name = 'dev', namespace = 'team-a'): Notebook => {
  const nb = makeNotebook(ingress ? { ingress } : {}, name);
  return { ...nb, metadata: { ...nb.metadata, namespace } };
};
const service = (ingress: Ingress, name = 'serve', namespace = 'team-a'): ModelService => ({
  apiVersion,
  kind: 'ModelService',
  metadata: { name, namespace },
  spec: { model: { name: 'bert', version: 'v1' }, image: { reference: 'docker.io/pytorch/torchserve:0.12.0-cpu' }, pool: 'cpu', resources: { requests: { cpu: 1 } }, ingress },
});

const world = [
  workspace('team-a', ['lab.example.com', '.team-a.example.com']),
  workspace('team-b'),
  service({ enabled: true }, 'serve', 'team-b'),
  service({ enabled: true, host: 'lab.example.com', path: '/alice/' }, 'alice'),
  notebook({ enabled: false, host: 'off.team-a.example.com' }, 'idle'),
];
const lookups = lookupsOf(world);
const hostError = (message: string) => [{ path: 'spec.ingress.host', message }];

describe('validateIngressHost', () => {
  it.each([
    { name: 'no ingress claims nothing', ctx: createContext(notebook(undefined)), want: [] },
    { name: 'a disabled ingress claims nothing, whatever its host', ctx: createContext(notebook({ enabled: false, host: 'console.platform.example.com' })), want: [] },
    { name: 'the derived host', ctx: createContext(notebook({ enabled: true })), want: [] },
    { name: 'a granted host', ctx: createContext(notebook({ enabled: true, host: 'x.team-a.example.com' })), want: [] },
    { name: 'a granted host on a free path', ctx: createContext(notebook({ enabled: true, host: 'lab.example.com', path: '/bob' })), want: [] },
    { name: 'a host a disabled ingress names is free', ctx: createContext(notebook({ enabled: true, host: 'off.team-a.example.com' })), want: [] },
    {
      name: 'a platform host',
      ctx: createContext(notebook({ enabled: true, host: 'console.platform.example.com' })),
      want: hostError("console.platform.example.com is not allowed in workspace team-a (hosts under the platform domain platform.example.com are only derived ones: this workload's is dev-team-a.platform.example.com)"),
    },
    {
      name: 'a host outside what the workspace grants',
      ctx: createContext(notebook({ enabled: true, host: 'console.example.com' })),
      want: hostError('console.example.com is not allowed in workspace team-a (its spec.hosts grants only lab.example.com, .team-a.example.com; the derived host is dev-team-a.platform.example.com)'),
    },
    {
      name: 'any other host in a workspace that grants none',
      ctx: createContext(notebook({ enabled: true, host: 'lab.example.com' }, 'dev', 'team-b')),
      want: hostError('lab.example.com is not allowed in workspace team-b (its spec.hosts grants no host; the derived host is dev-team-b.platform.example.com)'),
    },
    {
      name: 'the host and path another workload of the namespace routes (a trailing slash does not count)',
      ctx: createContext(notebook({ enabled: true, host: 'lab.example.com', path: '/alice' })),
      want: hostError('lab.example.com path /alice is already routed by ModelService alice: no two workloads may claim the same host and path'),
    },
    {
      // team-b's `serve` derives serve-team-b; a Notebook `serve-team` in a namespace `b` would derive it too.
      name: "another namespace's derived host, reached by a colliding name, without naming the other tenant's workload",
      ctx: createContext(notebook({ enabled: true }, 'serve-team', 'b')),
      want: hostError('serve-team-b.platform.example.com path / is already routed by a workload in another namespace: no two workloads may claim the same host and path'),
    },
    { name: 're-applying itself is no conflict', ctx: createContext(service({ enabled: true, host: 'lab.example.com', path: '/alice' }, 'alice')), want: [] },
    {
      name: 'an update keeping a host the workspace no longer grants',
      ctx: updateContext(notebook({ enabled: true, host: 'old.example.com' }), { ...notebook({ enabled: true, host: 'old.example.com', path: '/' }), metadata: { name: 'dev', namespace: 'team-a', labels: { edited: 'yes' } } }),
      want: [],
    },
    {
      name: 'an update moving to a host not granted',
      ctx: updateContext(notebook({ enabled: true }), notebook({ enabled: true, host: 'console.example.com' })),
      want: hostError('console.example.com is not allowed in workspace team-a (its spec.hosts grants only lab.example.com, .team-a.example.com; the derived host is dev-team-a.platform.example.com)'),
    },
    {
      name: 'an update turning the ingress on is judged',
      ctx: updateContext(notebook({ enabled: false, host: 'console.example.com' }), notebook({ enabled: true, host: 'console.example.com' })),
      want: hostError('console.example.com is not allowed in workspace team-a (its spec.hosts grants only lab.example.com, .team-a.example.com; the derived host is dev-team-a.platform.example.com)'),
    },
  ])('$name', ({ ctx, want }) => {
    expect(check(ctx, lookups).errors).toEqual(want);
  });

  it('is a policy of Notebooks and ModelServices under the domain the webhook server was given', async () => {
    const admission = octopusAdmission(lookups, { ingressDomain: domain });
    const refused = await admission.validators['modelservice']!.validate(createContext(service({ enabled: true, host: 'console.platform.example.com' }, 'grab')) as never);
    expect(refused.reason).toBe('Forbidden');
    expect(refused.errors).toEqual(hostError("console.platform.example.com is not allowed in workspace team-a (hosts under the platform domain platform.example.com are only derived ones: this workload's is grab-team-a.platform.example.com)"));
  });
});
