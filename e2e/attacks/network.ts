/**
 * Attacks on hosts and the network (items 3 and 10 of the tenant isolation issue): a member claiming
 * an Ingress host that is not theirs — a platform host, another workload's host and path — and a
 * member reaching, or opening, another workspace's pods over the network.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { KubernetesObjectApi, NetworkingV1Api, PatchStrategy, type KubernetesObject, type V1Ingress, type V1NetworkPolicyPeer } from '@kubernetes/client-node';
import { apiVersion, type ModelService, type Notebook, type Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { defaultIngressDomain } from '../../controllers/modelservice/expose.js';
import { networkPolicyName } from '../../controllers/workspace/children.js';
import { eventually } from '../harness/kube.js';
import type { AttackWorld } from './tenants.js';

type Ingress = NonNullable<Notebook['spec']['ingress']>;

const platformHost = 'console.platform.example.com';
/** A suffix the admin grants both tenants, so their workloads may meet on it. */
const sharedSuffix = '.apps.example.com';
const grantManager = 'octopus-attacks-network';

function notebook(namespace: string, name: string, ingress: Ingress): Notebook {
  return {
    apiVersion,
    kind: 'Notebook',
    metadata: { name, namespace },
    spec: { image: { reference: 'docker.io/jupyter/base-notebook:latest' }, pool: 'cpu', resources: { requests: { cpu: 1, memory: '1Gi' } }, ingress },
  };
}

function modelService(namespace: string, name: string, ingress: Ingress): ModelService {
  return {
    apiVersion,
    kind: 'ModelService',
    metadata: { name, namespace },
    spec: { model: { name: 'resnet50', version: 'v1' }, image: { reference: 'docker.io/pytorch/torchserve:0.12.0-cpu' }, pool: 'cpu', resources: { requests: { cpu: 1, memory: '1Gi' } }, ingress },
  };
}

/** What the admin reads an Octopus object by. */
const ref = (kind: string, namespace: string, name: string) => ({ apiVersion, kind, metadata: { name, namespace } });

/** Every Ingress of the cluster routing `host`, as the admin sees them. */
async function ingressesFor(world: AttackWorld, host: string): Promise<V1Ingress[]> {
  const all = await world.admin.makeApiClient(NetworkingV1Api).listIngressForAllNamespaces();
  return all.items.filter((ing) => ing.spec?.rules?.some((r) => r.host === host));
}

type PolicyObject = KubernetesObject & { spec?: { podSelector?: object; policyTypes?: string[]; ingress?: Record<string, unknown>[] } };

/** The peers of a policy's rules, whichever name the client gave `from` (its typed model calls it `_from`). */
function peersOf(policy: PolicyObject): V1NetworkPolicyPeer[] {
  return (policy.spec?.ingress ?? []).flatMap((rule) => (rule.from ?? rule._from ?? []) as V1NetworkPolicyPeer[]);
}

export function describeNetworkAttacks(world: () => AttackWorld): void {
  describe('3. Ingress host hijack', () => {
    const created: KubernetesObject[] = [];
    const attempt = async (obj: KubernetesObject) => {
      created.push(obj);
      return world().tryApply(obj);
    };

    afterAll(async () => {
      const objects = KubernetesObjectApi.makeApiClient(world().admin);
      for (const obj of created) await objects.delete(obj).catch(() => undefined);
      // Take back the grants: fields only this manager applied go with an apply that leaves them out.
      for (const ns of [world().ns, world().victimNs]) {
        await objects.patch({ apiVersion, kind: 'Workspace', metadata: { name: ns } } as KubernetesObject, undefined, undefined, grantManager, true, PatchStrategy.ServerSideApply).catch(() => undefined);
      }
    });

    it.each([
      { kind: 'Notebook', make: notebook },
      { kind: 'ModelService', make: modelService },
    ])('a $kind claiming a platform host is refused naming spec.ingress.host, and no Ingress routes that host', async ({ kind, make }) => {
      const { ns } = world();
      const refused = await attempt(make(ns, 'grab-console', { enabled: true, host: platformHost }));
      expect(refused).toContain(`spec.ingress.host: ${platformHost} is not allowed in workspace ${ns} (its spec.hosts grants no host`);
      // Another tenant's derived host is under the platform domain: never claimable by name.
      const victimsHost = `shop-${world().victimNs}.${defaultIngressDomain}`;
      const underDomain = await attempt(make(ns, 'grab-victim', { enabled: true, host: victimsHost }));
      expect(underDomain).toContain(`spec.ingress.host: ${victimsHost} is not allowed in workspace ${ns} (hosts under the platform domain ${defaultIngressDomain} are only derived ones`);

      expect(await world().read(ref(kind, ns, 'grab-console'))).toBeUndefined();
      expect(await world().read(ref(kind, ns, 'grab-victim'))).toBeUndefined();
      expect(await ingressesFor(world(), platformHost)).toEqual([]);
      expect(await ingressesFor(world(), victimsHost)).toEqual([]);
    });

    it('the derived host of an accepted workload is <name>-<namespace>.<domain>, and a second workload on its host and path is refused', async () => {
      const { ns } = world();
      const host = `web-${ns}.${defaultIngressDomain}`;
      expect(await attempt(notebook(ns, 'web', { enabled: true }))).toBeUndefined();
      const ingress = await eventually(`the Ingress of Notebook web routes ${host}`, async () => {
        const found = await world().read<V1Ingress>({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'web', namespace: ns } });
        return found?.spec?.rules?.[0]?.host === host ? found : undefined;
      });
      // The platform's class (the cluster default here): a workload has no say in it.
      expect(ingress.spec?.ingressClassName).toBeUndefined();
      expect((await world().read<Notebook>(ref('Notebook', ns, 'web')))?.status?.url).toBe(`http://${host}/`);

      // A ModelService of the same name derives the same host, with the same path.
      const refused = await attempt(modelService(ns, 'web', { enabled: true, path: '/' }));
      expect(refused).toContain(`spec.ingress.host: ${host} path / is already routed by Notebook web: no two workloads may claim the same host and path`);
      expect(await world().read(ref('ModelService', ns, 'web'))).toBeUndefined();
      expect((await ingressesFor(world(), host)).map((ing) => `${ing.metadata?.namespace}/${ing.metadata?.name}`)).toEqual([`${ns}/web`]);
    });

    it("another tenant's host and path, on a suffix the admin granted both, is refused without naming the other tenant's workload", async () => {
      const { ns, victimNs, admin } = world();
      const objects = KubernetesObjectApi.makeApiClient(admin);
      for (const name of [ns, victimNs]) {
        const grant: Workspace = { apiVersion, kind: 'Workspace', metadata: { name }, spec: { hosts: [sharedSuffix] } };
        await objects.patch(grant as KubernetesObject, undefined, undefined, grantManager, true, PatchStrategy.ServerSideApply);
      }
      const host = `shop${sharedSuffix}`;
      // The victim's service, made by the admin (the victim's owner would do the same).
      const victims = modelService(victimNs, 'shop', { enabled: true, host, path: '/api' });
      created.push(victims);
      // Refused until the webhook's cache holds the grant.
      await eventually('the victim may use the granted host', async () => {
        await objects.patch(victims as KubernetesObject, undefined, undefined, 'octopus-victim', true, PatchStrategy.ServerSideApply);
        return true;
      });

      const refused = await attempt(notebook(ns, 'shop', { enabled: true, host, path: '/api/' }));
      expect(refused).toContain(`spec.ingress.host: ${host} path /api is already routed by a workload in another namespace: no two workloads may claim the same host and path`);
      expect(refused).not.toContain(victimNs);
      expect(await world().read(ref('Notebook', ns, 'shop'))).toBeUndefined();
      expect((await ingressesFor(world(), host)).filter((ing) => ing.metadata?.namespace === ns)).toEqual([]);
      // Another path on the granted host is the attacker's to take.
      expect(await attempt(notebook(ns, 'shop', { enabled: true, host, path: '/mine' }))).toBeUndefined();
    });
  });

  describe('10. Open network between workspaces', () => {
    const policyRef = (ns: string) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: networkPolicyName, namespace: ns } });

    it("each workspace namespace has a NetworkPolicy admitting its own pods, the ingress controller and the scraper, and not another tenant's", async () => {
      const { ns, victimNs } = world();
      for (const namespace of [ns, victimNs]) {
        const policy = await eventually(`NetworkPolicy in ${namespace}`, () => world().read<PolicyObject>(policyRef(namespace)));
        // Every pod, ingress only: whatever no peer admits is denied.
        expect(policy.spec?.podSelector).toEqual({});
        expect(policy.spec?.policyTypes).toEqual(['Ingress']);
        expect(policy.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'Workspace', name: namespace, controller: true })]);
        const peers = peersOf(policy);
        const namespaces = peers.map((p) => p.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name']);
        expect(namespaces).toEqual([undefined, 'ingress-nginx', 'monitoring']);
        // The first peer is the namespace itself: a pod selector without a namespace selector.
        expect(peers[0]).toEqual({ podSelector: {} });
        // No peer selects namespaces by anything else (an empty namespaceSelector would admit every namespace).
        for (const p of peers.slice(1)) expect(Object.keys(p.namespaceSelector ?? {})).toEqual(['matchLabels']);
        expect(namespaces).not.toContain(namespace === ns ? victimNs : ns);
      }
    });

    it('a member cannot delete, edit or outflank the policy, nor loosen the Workspace', async () => {
      const { ns, kubectl } = world();
      const before = await world().read(policyRef(ns));
      expect(before).toBeDefined();

      const deleted = kubectl(['delete', 'networkpolicy', networkPolicyName, '-n', ns]);
      expect(deleted.status).not.toBe(0);
      expect(deleted.output).toContain('forbidden');
      const patched = kubectl(['patch', 'networkpolicy', networkPolicyName, '-n', ns, '--type=merge', '-p', '{"spec":{"ingress":[{}]}}']);
      expect(patched.status).not.toBe(0);
      expect(patched.output).toContain('forbidden');
      // A second policy admitting everything would widen what the first allows: policies add up.
      const allowAll = kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'allow-all', namespace: ns }, spec: { podSelector: {}, ingress: [{}] } }));
      expect(allowAll.status).not.toBe(0);
      expect(allowAll.output).toContain('forbidden');
      const loosened = kubectl(['patch', 'workspaces.octopus.openi.pcl.cn', ns, '--type=merge', '-p', '{"spec":{"network":{"isolation":"None"}}}']);
      expect(loosened.status).not.toBe(0);
      expect(loosened.output).toContain('forbidden');

      const after = await world().read(policyRef(ns));
      expect(after?.metadata?.uid).toBe(before?.metadata?.uid);
      expect(after?.metadata?.resourceVersion).toBe(before?.metadata?.resourceVersion);
      expect(await world().read({ ...policyRef(ns), metadata: { name: 'allow-all', namespace: ns } })).toBeUndefined();
    });
  });
}
