import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApiextensionsV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { invalidExamples, validExamples, type KubeManifest } from '../../../e2e/harness/examples.js';
import { installCrds } from '../../../e2e/harness/crds.js';
import { apiErrorMessage, createTestNamespace, deleteNamespace, rawGet, testKubeConfig } from '../../../e2e/harness/kube.js';
import { allKinds, group, kindByName, version } from './index.js';

let kc: KubeConfig;
let ns: string;

beforeAll(async () => {
  kc = testKubeConfig();
  await installCrds(kc);
  ns = await createTestNamespace(kc, 'examples');
});
afterAll(async () => {
  await deleteNamespace(kc, ns);
});

/** Creates through the Octopus API exactly as `kubectl apply` would, with strict field validation. */
async function create(doc: KubeManifest, dryRun: boolean): Promise<void> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const def = kindByName(doc.kind)!;
  const body = def.scope === 'Namespaced' ? { ...doc, metadata: { ...doc.metadata, namespace: ns } } : doc;
  const common = { group, version, plural: def.plural, body, fieldValidation: 'Strict', ...(dryRun ? { dryRun: 'All' } : {}) };
  if (def.scope === 'Namespaced') await api.createNamespacedCustomObject({ ...common, namespace: ns });
  else await api.createClusterCustomObject(common);
}

async function replace(doc: KubeManifest): Promise<void> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const def = kindByName(doc.kind)!;
  const current = (await api.getNamespacedCustomObject({ group, version, plural: def.plural, namespace: ns, name: doc.metadata.name })) as KubeManifest;
  const body = { ...doc, metadata: { ...doc.metadata, namespace: ns, resourceVersion: current.metadata.resourceVersion } };
  await api.replaceNamespacedCustomObject({ group, version, plural: def.plural, namespace: ns, name: doc.metadata.name, body, dryRun: 'All', fieldValidation: 'Strict' });
}

const octopusDocuments = validExamples().flatMap((f) =>
  f.documents.filter((d) => d.apiVersion.startsWith(`${group}/`)).map((d) => ({ file: f.file, name: `${d.kind}/${d.metadata.name}`, doc: d })),
);

describe('CRDs on the apiserver', () => {
  it('puts every kind in the octopus category with its short name', async () => {
    const api = kc.makeApiClient(ApiextensionsV1Api);
    for (const def of allKinds) {
      const crd = await api.readCustomResourceDefinition({ name: `${def.plural}.${group}` });
      expect(crd.status?.acceptedNames?.categories).toContain('octopus');
      expect(crd.status?.acceptedNames?.shortNames).toEqual(def.shortNames);
    }
  });

  it('publishes field descriptions (what kubectl explain prints)', async () => {
    const res = await rawGet(kc, `/openapi/v3/apis/${group}/${version}`);
    expect(res.status).toBe(200);
    const doc = JSON.parse(res.body) as { components: { schemas: Record<string, { properties?: Record<string, { description?: string; items?: unknown }> }> } };
    const job = doc.components.schemas[`cn.pcl.openi.octopus.${version}.Job`];
    expect(job).toBeDefined();
    const spec = (job!.properties!.spec as { properties: Record<string, { description?: string; items?: { properties?: Record<string, { description?: string }> } }> }).properties;
    expect(spec.tasks!.description).toMatch(/roles of the gang/);
    expect(spec.tasks!.items?.properties?.replicas?.description).toMatch(/Number of pods/);
  });
});

describe('examples/ on the apiserver', () => {
  it.each(octopusDocuments)('$file $name passes server-side dry-run', async ({ doc }) => {
    await expect(create(doc, true)).resolves.toBeUndefined();
  });
});

describe('examples/invalid/ on the apiserver', () => {
  // Rules only the webhooks enforce are proven through them, in webhooks/kinds/.
  it.each(invalidExamples().filter((e) => e.enforcedBy === 'schema'))('$file is rejected: $rule', async (example) => {
    const [first, second] = example.documents;
    let failure: unknown;
    try {
      if (example.update) {
        await create(first!, false);
        await replace(second!);
      } else {
        await create(first!, true);
      }
    } catch (err) {
      failure = err;
    }
    expect(failure).toBeDefined();
    const text = apiErrorMessage(failure);
    expect(text).toContain(example.wantPath);
    expect(text).toContain(example.wantMessage);
  });
});
