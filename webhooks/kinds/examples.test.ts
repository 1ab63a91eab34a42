// examples/ through the webhooks' validators, as the apiserver would send them: every valid example is
// admitted, and every examples/invalid/ file is denied with its expected path and message — the rules only
// the webhooks enforce, and, offline, the schema's too (judged as the apiserver does). Served webhooks leave
// the schema to the apiserver: they must answer the rules only webhooks enforce exactly as offline.
import { describe, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import { kindByName } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { validatorFor } from '../../apis/octopus.openi.pcl.cn/v1alpha1/validation.js';
import { invalidExamples, validExamples, type KubeManifest } from '../../e2e/harness/examples.js';
import { parseAdmissionReview, verdictResponse, type AdmissionResponse } from '../admission.js';
import { kindKey } from '../registration.js';
import { admissionReview, lookupsOf, namespace } from '../testing/octopus.js';
import { cachedKinds } from './caches.js';
import type { SchemaJudged } from './check.js';
import { octopusAdmission } from './index.js';
import type { Lookups } from './lookups.js';

/** The object as the apiserver hands it to a validating webhook: defaults applied, status kept. */
function asStored(doc: KubeManifest): KubeManifest {
  const def = kindByName(doc.kind)!;
  const stored = validatorFor(def).withDefaults(doc);
  if (def.scope === 'Namespaced') stored.metadata = { ...stored.metadata, namespace: doc.metadata.namespace ?? namespace };
  return doc.status === undefined ? stored : { ...stored, status: doc.status };
}

async function admit(lookups: Lookups, object: KubeManifest, oldObject?: KubeManifest, schemaJudgedBy: SchemaJudged = 'nobody'): Promise<AdmissionResponse> {
  const parsed = parseAdmissionReview(admissionReview(asStored(object), oldObject && asStored(oldObject)));
  if (!parsed.ok) throw new Error(parsed.message);
  const validator = octopusAdmission(lookups, undefined, { schemaJudgedBy }).validators[kindKey(object.kind)]!;
  return verdictResponse(parsed.context, await validator.validate(parsed.context));
}

const cacheable = (docs: KubeManifest[]): KubernetesObject[] => docs.filter((d) => (cachedKinds as readonly string[]).includes(d.kind)).map(asStored);

describe('valid examples through the webhooks', () => {
  const documents = validExamples().flatMap((f) => f.documents.filter((d) => d.apiVersion.startsWith('octopus.openi.pcl.cn/')).map((doc) => ({ file: f.file, doc })));
  // Everything a user applies with the examples is in the caches, as after `kubectl apply -f examples/`.
  const lookups = lookupsOf(cacheable(documents.map((d) => d.doc)));

  it.each(documents.map((d) => ({ ...d, name: `${d.doc.kind}/${d.doc.metadata.name}` })))('$file $name is admitted', async ({ doc }) => {
    for (const by of ['nobody', 'apiserver'] as const) {
      const response = await admit(lookups, doc, undefined, by);
      expect(response.status?.message).toBeUndefined();
      expect(response.allowed).toBe(true);
    }
  });
});

describe('examples/invalid/ through the webhooks', () => {
  it.each(invalidExamples())('$file is denied: $rule', async (example) => {
    const response = await admit(lookupsOf(cacheable(example.prerequisites)), example.object, example.oldObject);
    expect(response.allowed).toBe(false);
    expect(response.status?.message).toContain(example.wantMessage);
    // One file, one rule: exactly the expected error.
    expect(response.status?.details?.causes).toEqual([expect.objectContaining({ field: example.wantPath, message: expect.stringContaining(example.wantMessage) })]);
  });

  it.each(invalidExamples().filter((e) => e.enforcedBy === 'webhook'))('$file is denied alike by the served webhook', async (example) => {
    const lookups = lookupsOf(cacheable(example.prerequisites));
    expect(await admit(lookups, example.object, example.oldObject, 'apiserver')).toEqual(await admit(lookups, example.object, example.oldObject));
  });

  it.each(invalidExamples().filter((e) => e.enforcedBy === 'webhook'))('$file passes the CRD schema: only the webhooks refuse it', (example) => {
    const validator = validatorFor(kindByName(example.object.kind)!);
    for (const doc of example.prerequisites) expect(validatorFor(kindByName(doc.kind)!).validate(doc)).toEqual([]);
    expect(validator.validate(example.object, example.oldObject)).toEqual([]);
  });

  it('covers every rule only the webhooks enforce', () => {
    const files = invalidExamples()
      .filter((e) => e.enforcedBy === 'webhook')
      .map((e) => e.file.replace('examples/invalid/', ''));
    expect(files).toEqual(
      expect.arrayContaining([
        'job-quota-exceeded.yaml',
        'job-quota-pool-exceeded.yaml',
        'job-budget-spent.yaml',
        'job-device-not-allowed.yaml',
        'job-device-per-pod-max.yaml',
        'job-device-per-job-max.yaml',
        'job-device-pool-not-allowed.yaml',
        'job-dataset-private-cross-namespace.yaml',
        'job-admitted-tasks-changed.yaml',
        'job-priority-class-not-in-workspace.yaml',
        'job-priority-class-missing.yaml',
        'job-non-preemptible-not-allowed.yaml',
        'quota-lending-not-held.yaml',
        'notebook-ingress-host-not-granted.yaml',
        'modelservice-ingress-host-taken.yaml',
      ]),
    );
  });
});
