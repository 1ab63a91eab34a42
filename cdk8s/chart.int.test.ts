import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AuthorizationV1Api, KubernetesObjectApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { resolveTool } from '../hack/cluster/tools.js';
import { repoRoot } from '../hack/cluster/paths.js';
import { installCrds } from '../e2e/harness/crds.js';
import { deleteNamespace, testKubeConfig, uniqueSuffix } from '../e2e/harness/kube.js';

const run = promisify(execFile);
const chart = join(repoRoot, 'charts', 'octopus');
const helm = resolveTool('helm');
const work = mkdtempSync(join(tmpdir(), 'octopus-chart-'));

const custom = {
  global: { image: { repository: { address: 'registry.example.com:5000', pathname: 'ai/octopus' }, tag: '1.2.3', pullPolicy: 'Always' }, nodeSelector: { 'node-role/octopus': 'yes' } },
  Common: { resourceTagKey: 'example.com/pool', resourceTagValuePrefix: 'prod-' },
  controller: { replicas: 3, workers: 8, kubeApiQps: 50, kubeApiBurst: 100, heapLimitMiB: 1024, semiSpaceMiB: 4 },
  monitoring: { serviceMonitor: { enabled: true, labels: { release: 'kube-prometheus' } }, grafanaDashboard: { enabled: true } },
  networkPolicy: { enabled: false },
  defaults: { enabled: true },
};
const customFile = join(work, 'custom-values.yaml');
writeFileSync(customFile, stringify(custom, { version: '1.1' }));

async function template(args: string[]): Promise<KubernetesObject[]> {
  const { stdout } = await run(helm, ['template', 'octopus', chart, '--namespace', 'octopus-test', ...args], { maxBuffer: 64 * 1024 * 1024 });
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as KubernetesObject | null)
    .filter((d): d is KubernetesObject => d !== null);
}

const find = (objs: KubernetesObject[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata?.name === name);

describe('helm lint and template', () => {
  it.each([
    { name: 'default values', args: [] as string[] },
    { name: 'a customized values file', args: ['--values', customFile] },
  ])('helm lint passes with $name', async ({ args }) => {
    const { stdout } = await run(helm, ['lint', chart, '--strict', ...args]);
    expect(stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
  });

  it('renders the defaults: two controllers on server nodes, policy on, optional parts off', async () => {
    const objs = await template([]);
    const deployment = find(objs, 'Deployment', 'octopus-controller') as { spec: { replicas: number; template: { spec: { nodeSelector: Record<string, string>; containers: { image: string; imagePullPolicy: string }[] } } } };
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.template.spec.nodeSelector).toEqual({ 'octopus.openi.pcl.cn/node': 'server' });
    expect(deployment.spec.template.spec.containers[0]!.image).toMatch(/^ghcr\.io\/openi-octopus\/octopus:\d+\.\d+\.\d+$/);
    expect(find(objs, 'NetworkPolicy', 'octopus')).toBeDefined();
    expect(find(objs, 'ServiceMonitor', 'octopus-controller')).toBeUndefined();
    expect(find(objs, 'ResourcePool', 'gpu')).toBeUndefined();
  });

  it('renders a customized values file into the key fields', async () => {
    const objs = await template(['--values', customFile]);
    const deployment = find(objs, 'Deployment', 'octopus-controller') as { spec: { replicas: number; template: { spec: { nodeSelector: Record<string, string>; containers: { image: string; imagePullPolicy: string; command: string[]; args: string[] }[] } } } };
    const container = deployment.spec.template.spec.containers[0]!;
    expect(container.command).toEqual(['node', '--max-old-space-size=1024', '--max-semi-space-size=4', 'dist/controllers/main.js']);
    expect(deployment.spec.replicas).toBe(3);
    // Helm merges maps with the defaults (set a default key to null to drop it).
    expect(deployment.spec.template.spec.nodeSelector).toEqual({ 'node-role/octopus': 'yes', 'octopus.openi.pcl.cn/node': 'server' });
    expect(container.image).toBe('registry.example.com:5000/ai/octopus:1.2.3');
    expect(container.imagePullPolicy).toBe('Always');
    expect(container.args).toEqual(expect.arrayContaining(['--resource-tag-key=example.com/pool', '--resource-tag-value-prefix=prod-', '--workers=8', '--kube-api-qps=50', '--kube-api-burst=100', '--lease-namespace=octopus-test']));
    expect(find(objs, 'NetworkPolicy', 'octopus')).toBeUndefined();
    expect((find(objs, 'ServiceMonitor', 'octopus-controller') as { metadata: { labels: Record<string, string> } }).metadata.labels).toEqual({ release: 'kube-prometheus' });
    const dashboard = find(objs, 'ConfigMap', 'octopus-dashboard') as { data: Record<string, string> };
    expect(JSON.parse(dashboard.data['octopus.json']!).title).toBe('Octopus');
    expect((find(objs, 'ResourcePool', 'gpu') as { spec: { resourceTag: string } }).spec.resourceTag).toBe('prod-gpu-a100');
  });

  it('refuses values the schema does not allow, naming the field', async () => {
    const bad = join(work, 'bad.yaml');
    writeFileSync(bad, stringify({ controller: { replicas: 'two' } }));
    await expect(run(helm, ['template', 'octopus', chart, '--values', bad])).rejects.toMatchObject({ stderr: expect.stringMatching(/controller\/replicas|controller\.replicas/) });
  });
});

describe('helm install on the local plane', () => {
  let kc: KubeConfig;
  let namespace: string;
  let installed: KubernetesObject[] = [];
  const release = 'octopus';

  beforeAll(async () => {
    kc = testKubeConfig();
    await installCrds(kc);
    namespace = `octopus-chart-${uniqueSuffix()}`;
    const kubeconfig = process.env.OCTOPUS_TEST_KUBECONFIG!;
    // A builds namespace of its own: the chart creates it, and a platform on the same cluster may hold the default one.
    const builds = `${namespace}-builds`;
    const values = ['--set', 'networkPolicy.enabled=true', '--set', `controller.buildNamespace=${builds}`];
    await run(helm, ['install', release, chart, '--namespace', namespace, '--create-namespace', '--kubeconfig', kubeconfig, ...values], { maxBuffer: 16 * 1024 * 1024 });
    installed = await template(values).then((objs) =>
      objs.map((o) => ({ ...o, metadata: { ...o.metadata, ...(o.metadata?.namespace && o.metadata.namespace !== builds ? { namespace } : {}) } })),
    );
  });

  afterAll(async () => {
    // The webhook configurations fail closed while nothing serves them: remove them first.
    await run(helm, ['uninstall', release, '--namespace', namespace, '--kubeconfig', process.env.OCTOPUS_TEST_KUBECONFIG!, '--wait']).catch(() => undefined);
    await deleteNamespace(kc, namespace);
  });

  it('creates every object of the chart', async () => {
    const api = KubernetesObjectApi.makeApiClient(kc);
    expect(installed.length).toBeGreaterThan(15);
    for (const obj of installed) {
      const got = await api.read({ apiVersion: obj.apiVersion!, kind: obj.kind!, metadata: { name: obj.metadata!.name!, ...(obj.metadata?.namespace ? { namespace: obj.metadata.namespace } : {}) } });
      expect(got.metadata?.name).toBe(obj.metadata!.name);
    }
  });

  const can = async (user: string, verb: string, resource: { group: string; resource: string; namespace?: string; subresource?: string }) => {
    const review = await kc.makeApiClient(AuthorizationV1Api).createSubjectAccessReview({
      body: { spec: { user, groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`], resourceAttributes: { verb, ...resource } } },
    });
    return review.status?.allowed ?? false;
  };

  it.each([
    { verb: 'create', group: '', resource: 'pods', ns: 'team-x', want: true },
    { verb: 'delete', group: '', resource: 'pods', ns: 'team-x', want: true },
    { verb: 'update', group: 'octopus.openi.pcl.cn', resource: 'jobs', subresource: 'status', ns: 'team-x', want: true },
    { verb: 'create', group: 'batch', resource: 'jobs', ns: 'team-x', want: true },
    { verb: 'create', group: 'coordination.k8s.io', resource: 'leases', ns: 'self', want: true },
    { verb: 'list', group: '', resource: 'nodes', want: true },
    { verb: 'create', group: 'octopus.openi.pcl.cn', resource: 'quotas', ns: 'team-x', want: true },
    // A Workspace's NetworkPolicy, kept and removed as its spec.network says.
    { verb: 'create', group: 'networking.k8s.io', resource: 'networkpolicies', ns: 'team-x', want: true },
    { verb: 'delete', group: 'networking.k8s.io', resource: 'networkpolicies', ns: 'team-x', want: true },
    { verb: 'get', group: '', resource: 'secrets', ns: 'team-x', want: false },
    { verb: 'list', group: '', resource: 'secrets', want: false },
    { verb: 'delete', group: '', resource: 'nodes', want: false },
    { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'clusterroles', want: false },
    { verb: 'create', group: 'coordination.k8s.io', resource: 'leases', ns: 'kube-system', want: false },
  ])('controller may $verb $group/$resource in $ns: $want', async ({ verb, group, resource, subresource, ns, want }) => {
    const user = `system:serviceaccount:${namespace}:octopus-controller`;
    const where = ns === 'self' ? namespace : ns;
    expect(await can(user, verb, { group, resource, ...(where ? { namespace: where } : {}), ...(subresource ? { subresource } : {}) })).toBe(want);
  });

  it.each([
    { verb: 'get', resource: 'secrets', name: 'octopus-webhook-tls', ns: 'self', want: true },
    { verb: 'get', resource: 'secrets', name: 'other', ns: 'self', want: false },
    { verb: 'get', resource: 'secrets', name: 'octopus-webhook-tls', ns: 'team-x', want: false },
  ])('webhooks may $verb $resource/$name in $ns: $want', async ({ verb, resource, name, ns, want }) => {
    const user = `system:serviceaccount:${namespace}:octopus-webhooks`;
    const review = await kc.makeApiClient(AuthorizationV1Api).createSubjectAccessReview({
      body: { spec: { user, resourceAttributes: { verb, resource, name, namespace: ns === 'self' ? namespace : ns } } },
    });
    expect(review.status?.allowed ?? false).toBe(want);
  });
});
