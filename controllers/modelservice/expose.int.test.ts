/**
 * The controller's own check of ingress hosts, on the real plane with no webhook in front: a host the
 * Workspace does not grant, or a host and path someone else's Ingress routes, gets no Ingress and is
 * reported; a granted host gets one, of the platform's IngressClass.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { NetworkingV1Api, type KubeConfig, type V1Ingress } from '@kubernetes/client-node';
import { apiVersion, type Notebook, type Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { installCrds } from '../../e2e/harness/crds.js';
import { createCluster, createNamespaced, deleteCluster, getNamespaced } from '../../e2e/harness/fixtures.js';
import { createTestNamespace, deleteNamespace, eventually, testKubeConfig } from '../../e2e/harness/kube.js';
import { startOctopus, type RunningOctopus } from '../../e2e/harness/octopus.js';
import { setupNotebookController } from '../notebook/controller.js';
import { octopus as kinds } from '../resources.js';

const ingressClass = 'platform-nginx';
let kc: KubeConfig;
let octopus: RunningOctopus;
let ns: string;
let squatterNs: string;

beforeAll(async () => {
  kc = testKubeConfig();
  await installCrds(kc);
  ns = await createTestNamespace(kc, 'expose');
  squatterNs = await createTestNamespace(kc, 'squat');
  // Only the Notebook controller: nothing but its own check stands between a spec and an Ingress.
  octopus = await startOctopus(kc, { ingressClass }, [setupNotebookController]);
});

afterAll(async () => {
  await octopus?.stop();
  await deleteCluster(kc, 'workspaces', ns);
  for (const namespace of [ns, squatterNs]) if (namespace) await deleteNamespace(kc, namespace);
});

function notebook(name: string, ingress: NonNullable<Notebook['spec']['ingress']>): Notebook {
  return { apiVersion, kind: 'Notebook', metadata: { name, namespace: ns }, spec: { image: { reference: 'quay.io/jupyter/base-notebook:2024-12-02' }, pool: 'none', resources: { requests: { cpu: 1 } }, ingress } };
}

const networking = () => kc.makeApiClient(NetworkingV1Api);
const ingressesFor = async (host: string): Promise<V1Ingress[]> => (await networking().listIngressForAllNamespaces()).items.filter((i) => i.spec?.rules?.some((r) => r.host === host));

async function waitReason(name: string, reason: string): Promise<Notebook> {
  return eventually(`Notebook ${name} reports ${reason}`, async () => {
    const nb = await getNamespaced<Notebook>(kc, 'notebooks', ns, name);
    return nb.status?.conditions?.find((c) => c.type === 'Ready')?.reason === reason ? nb : undefined;
  });
}

describe('expose on the real plane', () => {
  it("reports a host and path someone else's Ingress routes, and creates no Ingress for it", async () => {
    const host = `taken-${ns}.${octopus.options.ingressDomain}`;
    await networking().createNamespacedIngress({
      namespace: squatterNs,
      body: { metadata: { name: 'squatter' }, spec: { rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'x', port: { number: 80 } } } }] } }] } },
    });
    await createNamespaced(kc, 'notebooks', notebook('taken', { enabled: true }));
    const nb = await waitReason('taken', 'HostConflict');
    expect(nb.status?.conditions?.find((c) => c.type === 'Ready')?.message).toBe(`spec.ingress.host: ${host} path / is routed by an Ingress in another namespace already`);
    expect((await ingressesFor(host)).map((i) => `${i.metadata?.namespace}/${i.metadata?.name}`)).toEqual([`${squatterNs}/squatter`]);
  });

  it('reports a host the Workspace does not grant, and creates no Ingress for it', async () => {
    await createNamespaced(kc, 'notebooks', notebook('console', { enabled: true, host: 'console.platform.example.com' }));
    const nb = await waitReason('console', 'HostNotAllowed');
    expect(nb.status?.conditions?.find((c) => c.type === 'Ready')?.message).toContain(`spec.ingress.host: console.platform.example.com is not allowed in workspace ${ns}`);
    expect(await ingressesFor('console.platform.example.com')).toEqual([]);
  });

  it("gives a host the Workspace grants an Ingress of the platform's class", async () => {
    // The Workspace object alone grants: no Workspace controller runs here to take the namespace.
    const grant: Workspace = { apiVersion, kind: 'Workspace', metadata: { name: ns }, spec: { hosts: ['.granted.example.com'] } };
    await createCluster(kc, 'workspaces', grant);
    await eventually('the controller sees the grant', async () => (octopus.manager.informer<Workspace>(kinds.Workspace).get(ns) ? true : undefined));
    await createNamespaced(kc, 'notebooks', notebook('lab', { enabled: true, host: 'lab.granted.example.com', path: '/x' }));
    const ingress = await eventually('the Ingress of lab', async () => (await ingressesFor('lab.granted.example.com'))[0]);
    expect(ingress.metadata?.namespace).toBe(ns);
    expect(ingress.spec?.ingressClassName).toBe(ingressClass);
    expect(ingress.spec?.rules?.[0]?.http?.paths?.[0]?.path).toBe('/x');
  });
});
