// Property: whatever arrives at the webhook server — random JSON, truncated or mistyped reviews, huge
// strings, random bytes — it answers below 500, stays up, and every 200 is a well-formed AdmissionReview v1
// for the uid the request carried. No apiserver: the server on loopback with the test Gadget handlers.
import type { Agent } from 'node:https';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { generateTlsBundle, servingIdentity } from './certs.js';
import { createWebhookServer, type WebhookServer } from './server.js';
import { gadgetLabeler, gadgetValidator, makeGadgetReview } from './testing/gadgets.js';
import { send, trustingAgent } from './testing/https.js';

const bodyLimit = 64 * 1024;
// Concurrent runners, each a sequential fc.assert over single requests: 16 in flight at once, and a
// failure still shrinks to one minimal request.
const runners = 16;
const runsPerRunner = 625; // 10,000 requests

let webhooks: WebhookServer;
let agent: Agent;
let base: string;

beforeAll(async () => {
  const tls = await generateTlsBundle({ identity: servingIdentity({ service: 's', namespace: 'n', local: true }), now: new Date(), validityDays: 1 });
  webhooks = createWebhookServer({
    validators: { gadget: gadgetValidator },
    mutators: { gadget: gadgetLabeler },
    tls,
    logger: pino({ level: 'silent' }),
    registry: new Registry(),
    bodyLimit,
  });
  const { port } = await webhooks.listen(0, '127.0.0.1');
  base = `https://127.0.0.1:${port}`;
  agent = trustingAgent(tls.caBundle, 16);
});

afterAll(async () => {
  agent.destroy();
  await webhooks.close(0);
});

const review = fc
  .record({
    uid: fc.oneof(fc.uuid(), fc.string({ minLength: 1 })),
    operation: fc.constantFrom('CREATE', 'UPDATE', 'DELETE'),
    size: fc.integer({ min: -5, max: 20 }),
    name: fc.string(),
    withLabels: fc.boolean(),
  })
  .map(({ uid, operation, size, name, withLabels }) => {
    const r = makeGadgetReview(size, { uid, operation, name });
    const request = r.request as Record<string, unknown>;
    const object = request.object as { metadata: Record<string, unknown> };
    if (withLabels) object.metadata.labels = { team: 'a' };
    if (operation !== 'CREATE') request.oldObject = structuredClone(object);
    if (operation === 'DELETE') delete request.object;
    return r;
  });

const fields = [
  ['apiVersion'],
  ['kind'],
  ['request'],
  ['request', 'uid'],
  ['request', 'kind'],
  ['request', 'kind', 'kind'],
  ['request', 'operation'],
  ['request', 'userInfo'],
  ['request', 'userInfo', 'groups'],
  ['request', 'name'],
  ['request', 'namespace'],
  ['request', 'dryRun'],
  ['request', 'object'],
  ['request', 'oldObject'],
  ['request', 'object', 'metadata'],
  ['request', 'object', 'metadata', 'labels'],
  ['request', 'object', 'spec'],
  ['request', 'object', 'spec', 'size'],
];

/** Sets (or, with `remove`, deletes) `path` in a copy of `doc`, creating objects on the way. */
function edit(doc: Record<string, unknown>, path: string[], value: unknown, remove = false): Record<string, unknown> {
  const copy = structuredClone(doc);
  let node: Record<string, unknown> = copy;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    node = typeof next === 'object' && next !== null && !Array.isArray(next) ? (next as Record<string, unknown>) : (node[key] = {});
  }
  const last = path[path.length - 1] as string;
  if (remove) delete node[last];
  else node[last] = value;
  return copy;
}

const body = fc.oneof(
  { arbitrary: review.map((r) => JSON.stringify(r)), weight: 2 },
  { arbitrary: fc.json(), weight: 2 },
  { arbitrary: fc.tuple(review, fc.nat()).map(([r, n]) => JSON.stringify(r).slice(0, n % JSON.stringify(r).length)), weight: 2 },
  { arbitrary: fc.tuple(review, fc.constantFrom(...fields), fc.jsonValue()).map(([r, path, v]) => JSON.stringify(edit(r, path, v))), weight: 4 },
  { arbitrary: fc.tuple(review, fc.constantFrom(...fields)).map(([r, path]) => JSON.stringify(edit(r, path, undefined, true))), weight: 2 },
  {
    // Up to a little past the limit: over it must be a 413, not a crash.
    arbitrary: fc.tuple(review, fc.integer({ min: 1_000, max: bodyLimit + 1_000 })).map(([r, n]) => JSON.stringify(edit(r, ['request', 'object', 'spec', 'note'], 'x'.repeat(n)))),
    weight: 1,
  },
  { arbitrary: fc.uint8Array({ maxLength: 2_000 }).map((b) => Buffer.from(b)), weight: 1 },
);

const path = fc.oneof(
  { arbitrary: fc.constantFrom('/validate/gadget', '/mutate/gadget'), weight: 6 },
  { arbitrary: fc.constantFrom('/validate/constructor', '/mutate/__proto__', '/validate/Gadget', '/validate/'), weight: 1 },
  { arbitrary: fc.string().map((s) => `/validate/${encodeURIComponent(s)}`), weight: 1 },
);

/** The uid the server must echo: present when the body is a JSON object whose request.uid is a non-empty string. */
function uidOf(raw: string | Buffer): string | undefined {
  try {
    const uid = (JSON.parse(raw.toString()) as { request?: { uid?: unknown } } | null)?.request?.uid;
    return typeof uid === 'string' && uid !== '' ? uid : undefined;
  } catch {
    return undefined;
  }
}

function expectWellFormedReview(text: string, wantUid: string | undefined): void {
  const r = JSON.parse(text) as Record<string, unknown> & { response: Record<string, unknown> };
  expect(r).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: expect.any(Object) });
  expect(wantUid).toBeDefined();
  expect(r.response.uid).toBe(wantUid);
  expect(typeof r.response.allowed).toBe('boolean');
  if (r.response.allowed === false) expect(r.response.status).toMatchObject({ code: expect.any(Number), message: expect.stringMatching(/./) });
  if (r.response.patch !== undefined) {
    expect(r.response.patchType).toBe('JSONPatch');
    expect(Array.isArray(JSON.parse(Buffer.from(r.response.patch as string, 'base64').toString()))).toBe(true);
  }
}

it('answers every request below 500, and every 200 with a well-formed review for its uid', async () => {
  let sent = 0;
  const property = fc.asyncProperty(path, body, async (p, b) => {
    const reply = await send(agent, base + p, { body: b });
    sent++;
    expect(reply.status).toBeLessThan(500);
    if (reply.status === 200) expectWellFormedReview(reply.text, uidOf(b));
  });
  await Promise.all(Array.from({ length: runners }, () => fc.assert(property, { numRuns: runsPerRunner })));
  expect(sent).toBeGreaterThanOrEqual(10_000);
  expect((await send(agent, `${base}/healthz`)).status).toBe(200);
}, 120_000);
