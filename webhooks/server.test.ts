// The HTTP server on loopback with test handlers: routing, verdicts, failures, metrics, TLS reload, close.
import type { Agent } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { AdmissionReview, Validator } from './admission.js';
import { generateTlsBundle, servingIdentity, type TlsBundle } from './certs.js';
import { createWebhookServer, type WebhookServer } from './server.js';
import { gadgetLabeler, gadgetValidator, makeGadgetReview, mutatedLabel, sizeWarning } from './testing/gadgets.js';
import { send, trustingAgent, type Reply } from './testing/https.js';

const identity = servingIdentity({ service: 'octopus-webhooks', namespace: 'octopus-system', local: true });
const boom: Validator = {
  async validate() {
    throw new Error('kaboom');
  },
};

let tls: TlsBundle;
let registry: Registry;
let webhooks: WebhookServer;
let agent: Agent;
let base: string;

beforeAll(async () => {
  tls = await generateTlsBundle({ identity, now: new Date(), validityDays: 30 });
  registry = new Registry();
  webhooks = createWebhookServer({
    validators: { gadget: gadgetValidator, boom },
    mutators: { gadget: gadgetLabeler },
    tls,
    logger: pino({ level: 'silent' }),
    registry,
    bodyLimit: '16kb',
  });
  const { port } = await webhooks.listen(0, '127.0.0.1');
  base = `https://127.0.0.1:${port}`;
  agent = trustingAgent(tls.caBundle);
});

afterAll(async () => {
  agent.destroy();
  await webhooks.close(0);
});

const post = (path: string, body: unknown): Promise<Reply> => send(agent, base + path, { body: typeof body === 'string' ? body : JSON.stringify(body) });

function responseOf(reply: Reply): NonNullable<AdmissionReview['response']> {
  const review = JSON.parse(reply.text) as AdmissionReview;
  expect(review).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' });
  return review.response as NonNullable<AdmissionReview['response']>;
}

async function requestCount(labels: Record<string, string>): Promise<number> {
  const metric = await registry.getSingleMetric('octopus_webhook_requests_total')?.get();
  const match = metric?.values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want));
  return match?.value ?? 0;
}

describe('POST /validate/<kind>', () => {
  it.each<[string, string, unknown, Record<string, unknown>]>([
    ['a valid object', '/validate/gadget', makeGadgetReview(3), { uid: 'uid-1', allowed: true }],
    ['a risky object', '/validate/gadget', makeGadgetReview(10), { uid: 'uid-1', allowed: true, warnings: [sizeWarning] }],
    [
      'an invalid object',
      '/validate/gadget',
      makeGadgetReview(11),
      { uid: 'uid-1', allowed: false, auditAnnotations: { size: '11' }, status: expect.objectContaining({ code: 422, reason: 'Invalid', message: 'spec.size: must be at most 10' }) },
    ],
    [
      'a kind without a validator',
      '/validate/widget',
      makeGadgetReview(3),
      { uid: 'uid-1', allowed: false, status: expect.objectContaining({ code: 500, message: 'Octopus webhooks: no validator is registered for kind "widget"' }) },
    ],
    [
      'a kind named like an Object.prototype member',
      '/validate/constructor',
      makeGadgetReview(3),
      { uid: 'uid-1', allowed: false, status: expect.objectContaining({ message: 'Octopus webhooks: no validator is registered for kind "constructor"' }) },
    ],
    [
      'a validator that throws',
      '/validate/boom',
      makeGadgetReview(3, { kind: { group: 'g', version: 'v1', kind: 'Boom' } }),
      { uid: 'uid-1', allowed: false, status: expect.objectContaining({ code: 500, reason: 'InternalError', message: 'Octopus webhooks: validating Boom failed: kaboom' }) },
    ],
    [
      'a review of another kind',
      '/validate/boom',
      makeGadgetReview(3),
      { uid: 'uid-1', allowed: false, status: expect.objectContaining({ code: 500, message: 'Octopus webhooks: a Gadget was sent to the validate webhook of kind "boom"' }) },
    ],
    [
      'a malformed review that has a uid',
      '/validate/gadget',
      makeGadgetReview(3, { operation: 'PATCH' }),
      { uid: 'uid-1', allowed: false, status: expect.objectContaining({ code: 400, reason: 'BadRequest', message: 'malformed AdmissionReview: unsupported request.operation "PATCH"' }) },
    ],
  ])('answers %s with 200 and a verdict', async (_case, path, body, want) => {
    const reply = await post(path, body);
    expect(reply.status).toBe(200);
    expect(responseOf(reply)).toEqual(want);
  });

  it.each<[string, number, string, string]>([
    ['no uid', 400, JSON.stringify(makeGadgetReview(3, { uid: undefined })), 'request.uid is missing'],
    ['invalid JSON', 400, '{"apiVersion": "admission.k8s.io/v1", "kind": "Adm', ''],
    ['a JSON string', 400, '"AdmissionReview"', ''],
    ['a body over the limit', 413, JSON.stringify(makeGadgetReview(3, { object: { spec: { note: 'x'.repeat(20_000) } } })), 'too large'],
  ])('answers %s with a %d Status', async (_case, wantCode, body, wantMessage) => {
    const reply = await post('/validate/gadget', body);
    expect(reply.status).toBe(wantCode);
    expect(JSON.parse(reply.text)).toMatchObject({ apiVersion: 'v1', kind: 'Status', status: 'Failure', code: wantCode, message: expect.stringContaining(wantMessage) });
  });

  it('counts each verdict under bounded labels', async () => {
    const denied = { webhook: 'validate', kind: 'gadget', operation: 'CREATE', verdict: 'denied' };
    const unknown = { webhook: 'validate', kind: 'unknown', operation: 'CREATE', verdict: 'error' };
    const [deniedBefore, unknownBefore] = [await requestCount(denied), await requestCount(unknown)];
    await post('/validate/gadget', makeGadgetReview(12));
    await post('/validate/no-such-kind', makeGadgetReview(1));
    expect(await requestCount(denied)).toBe(deniedBefore + 1);
    expect(await requestCount(unknown)).toBe(unknownBefore + 1);
    const text = (await send(agent, `${base}/metrics`)).text;
    expect(text).toMatch(/^octopus_webhook_duration_seconds_bucket\{le="0\.005",webhook="validate",kind="gadget",operation="CREATE"\} [1-9]/m);
    expect(text).not.toContain('no-such-kind');
  });
});

describe('POST /mutate/<kind>', () => {
  it('answers with a JSON Patch that adds the label', async () => {
    const response = responseOf(await post('/mutate/gadget', makeGadgetReview(3)));
    expect(response).toMatchObject({ uid: 'uid-1', allowed: true, patchType: 'JSONPatch' });
    expect(JSON.parse(Buffer.from(response.patch ?? '', 'base64').toString())).toEqual([{ op: 'add', path: '/metadata/labels', value: { [mutatedLabel]: 'true' } }]);
  });

  it('denies a kind without a mutator', async () => {
    expect(responseOf(await post('/mutate/boom', makeGadgetReview(3)))).toMatchObject({
      allowed: false,
      status: { message: 'Octopus webhooks: no mutator is registered for kind "boom"' },
    });
  });
});

describe('health and readiness', () => {
  it('is healthy at once and ready only when told', async () => {
    expect((await send(agent, `${base}/healthz`)).status).toBe(200);
    expect((await send(agent, `${base}/readyz`)).status).toBe(503);
    webhooks.setReady(true);
    expect((await send(agent, `${base}/readyz`)).status).toBe(200);
  });

  it('answers an unknown route with a 404 Status', async () => {
    const reply = await send(agent, `${base}/validate`, { body: '{}' });
    expect(reply.status).toBe(404);
    expect(JSON.parse(reply.text)).toMatchObject({ kind: 'Status', code: 404 });
  });
});

describe('reloadTls', () => {
  it('serves a new certificate to new connections without a restart', async () => {
    const next = await generateTlsBundle({ identity, now: new Date(), validityDays: 60 });
    const oldTrust = trustingAgent(tls.caBundle);
    const newTrust = trustingAgent(next.caBundle);
    try {
      webhooks.reloadTls(next);
      expect((await send(newTrust, `${base}/healthz`)).status).toBe(200);
      await expect(send(oldTrust, `${base}/healthz`)).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
      const expiry = await registry.getSingleMetric('octopus_webhook_certificate_expiry_timestamp_seconds')?.get();
      expect(expiry?.values[0]?.value).toBeGreaterThan(Date.now() / 1000 + 59 * 86400);
    } finally {
      webhooks.reloadTls(tls);
      oldTrust.destroy();
      newTrust.destroy();
    }
  });
});

describe('close', () => {
  it('lets a request in flight finish, then stops listening', async () => {
    const local = await generateTlsBundle({ identity, now: new Date(), validityDays: 30 });
    let release = (): void => {};
    let entered = (): void => {};
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    const slow: Validator = {
      async validate() {
        entered();
        await new Promise<void>((resolve) => (release = resolve));
        return { errors: [] };
      },
    };
    const server = createWebhookServer({ validators: { gadget: slow }, mutators: {}, tls: local, logger: pino({ level: 'silent' }), registry: new Registry() });
    const { port } = await server.listen(0, '127.0.0.1');
    const client = trustingAgent(local.caBundle);
    try {
      const inFlight = send(client, `https://127.0.0.1:${port}/validate/gadget`, { body: JSON.stringify(makeGadgetReview(1)) });
      await inHandler;
      const closed = server.close();
      release();
      const reply = await inFlight;
      await closed;
      expect(responseOf(reply)).toMatchObject({ allowed: true });
      expect(server.server.listening).toBe(false);
    } finally {
      client.destroy();
    }
  });
});
