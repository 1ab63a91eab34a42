// Property: the Octopus validators and mutators never crash, whatever the object. 10,000 AdmissionReviews of
// every kind — the examples, with random fields replaced by random JSON, amounts that do not parse, or
// removed, as creates and updates — go to the webhook server over HTTPS with caches that hold broken
// objects too. Every answer is a well-formed review for its uid, and none is the 500 a throwing handler gets.
// Those that judge the CRD schema themselves take any object; served webhooks leave the schema to the
// apiserver, so each review it would forward goes to them too, and their answer must be the same.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import fc from 'fast-check';
import { kindByName } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { validatorFor } from '../../apis/octopus.openi.pcl.cn/v1alpha1/validation.js';
import { invalidExamples, validExamples, type KubeManifest } from '../../e2e/harness/examples.js';
import { kindKey } from '../registration.js';
import { send, serveOnLoopback, type LoopbackWebhooks } from '../testing/https.js';
import { admissionReview, lookupsOf, makeQuota, makeResourceSpec, namespace } from '../testing/octopus.js';
import { cachedKinds } from './caches.js';
import { octopusAdmission } from './index.js';

const runners = 16;
const namespaced = (kind: string): boolean => kindByName(kind)?.scope === 'Namespaced';
const runsPerRunner = 625; // 10,000 requests

const documents: KubeManifest[] = [...validExamples(), ...invalidExamples()]
  .flatMap((f) => f.documents)
  .filter((d) => d.apiVersion.startsWith('octopus.openi.pcl.cn/'))
  .map((d) => (d.metadata.namespace === undefined && namespaced(d.kind) ? { ...d, metadata: { ...d.metadata, namespace } } : d));

// What the apiserver's schema would have refused can still sit in a cache written before a schema change.
const cached: KubernetesObject[] = [
  ...documents.filter((d) => (cachedKinds as readonly string[]).includes(d.kind) && !(d.kind === 'DevicePolicy' && d.metadata.name === 'npu-not-for-team-a')),
  makeQuota('broken', { hard: { cpu: '1e1.5' } }, { used: { cpu: 'lots' } }),
  makeResourceSpec('gpu-1x', { 'nvidia.com/gpu': '1e1.5' }),
].filter((o, i, all) => all.findIndex((p) => p.kind === o.kind && p.metadata?.name === o.metadata?.name && p.metadata?.namespace === o.metadata?.namespace) === i);

let webhooks: LoopbackWebhooks;
let served: LoopbackWebhooks;

beforeAll(async () => {
  webhooks = await serveOnLoopback(octopusAdmission(lookupsOf(cached), undefined, { schemaJudgedBy: 'nobody' }));
  served = await serveOnLoopback(octopusAdmission(lookupsOf(cached)));
});

afterAll(async () => {
  await webhooks.close();
  await served.close();
});

/** Whether the CRD schema refuses `object` (an update of `old`) as the apiserver does: but for the integer formats it strips (see integer-formats.ts). */
const apiserverRefuses = (kind: string, object: unknown, old?: unknown): boolean =>
  validatorFor(kindByName(kind)!)
    .validate(object, old)
    .some((e) => !/ in body must be of type int(32|64)$/.test(e.message));

/** Every path into `value` (objects and arrays), the root excluded. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (typeof value !== 'object' || value === null) return [];
  const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  return entries.flatMap(([k, v]) => [[...prefix, k], ...paths(v, [...prefix, k])]);
}

function mutate(doc: KubeManifest, path: (string | number)[], value: unknown, remove: boolean): KubeManifest {
  const copy = structuredClone(doc) as unknown as Record<string | number, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (remove) delete node[last];
  else node[last] = value;
  return copy as unknown as KubeManifest;
}

const oddValue = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom('1e1.5', '-1', '0.5', '1500m', '', 'Public', 'Private', 'Running', 'team-a', 'shared', 'gpu-1x', 'nvidia.com/gpu', 2 ** 60, -1, 0.5, null),
);

const mutation = fc.record({ at: fc.nat(), value: oddValue, remove: fc.boolean() });

const review = fc
  .record({
    doc: fc.constantFrom(...documents),
    mutations: fc.array(mutation, { minLength: 0, maxLength: 3 }),
    update: fc.boolean(),
    admitted: fc.boolean(),
    webhook: fc.constantFrom('validate', 'mutate'),
    uid: fc.uuid(),
  })
  .map(({ doc, mutations, update, admitted, webhook, uid }) => {
    let object = doc;
    for (const m of mutations) {
      const all = paths(object);
      if (all.length > 0) object = mutate(object, all[m.at % all.length]!, m.value, m.remove);
    }
    // An admitted Job on the old side reaches the immutability rule.
    const old = admitted && doc.kind === 'Job' ? { ...doc, status: { phase: 'Running', admission: { pool: 'cpu', admittedAt: '2025-06-01T08:00:00Z', podSets: [], total: {} } } } : doc;
    // The request's kind, name and namespace come from the URL the client used, whatever the body says.
    const r = admissionReview(doc, update ? old : undefined, uid);
    r.request!.object = object;
    // Only namespaced kinds have a mutating webhook.
    const type = namespaced(doc.kind) ? webhook : 'validate';
    const forwarded = type === 'validate' && !apiserverRefuses(doc.kind, object, update ? old : undefined) && !(update && apiserverRefuses(doc.kind, old));
    return { path: `/${type}/${kindKey(doc.kind)}`, body: JSON.stringify(r), uid, forwarded };
  });

it('answers 10,000 random and mutated reviews of every kind without a handler ever failing', async () => {
  let sent = 0;
  let denied = 0;
  let forwardedSent = 0;
  const property = fc.asyncProperty(review, async ({ path, body, uid, forwarded }) => {
    const reply = await send(webhooks.agent, webhooks.base + path, { body });
    sent++;
    if (forwarded) {
      forwardedSent++;
      const answer = await send(served.agent, served.base + path, { body });
      expect({ status: answer.status, review: JSON.parse(answer.text) as unknown }).toEqual({ status: reply.status, review: JSON.parse(reply.text) as unknown });
    }
    expect(reply.status).toBe(200);
    const { response } = JSON.parse(reply.text) as { response: { uid: string; allowed: boolean; status?: { code: number; message: string } } };
    expect(response.uid).toBe(uid);
    expect(typeof response.allowed).toBe('boolean');
    if (!response.allowed) {
      denied++;
      expect(response.status?.message).toMatch(/./);
      // 500 is what the server answers when a validator or mutator throws.
      expect(response.status?.code).not.toBe(500);
    }
  });
  await Promise.all(Array.from({ length: runners }, () => fc.assert(property, { numRuns: runsPerRunner })));
  expect(sent).toBeGreaterThanOrEqual(10_000);
  // The mutations reach the rules: many reviews are refused, many admitted.
  expect(denied).toBeGreaterThan(1_000);
  expect(denied).toBeLessThan(sent - 1_000);
  // Many reviews are ones the apiserver would forward, so the served webhooks are put to the test.
  expect(forwardedSent).toBeGreaterThan(1_000);
}, 180_000);
