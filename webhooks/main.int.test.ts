// The apiserver calls our webhooks: startWebhooks in local mode on a free loopback port, serving a
// throw-away Gadget CRD (unique API group per run) with the test validator and labeler.
import { randomBytes, X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AdmissionregistrationV1Api, ApiextensionsV1Api, ApiException, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createTestNamespace, deleteNamespace, eventually, testKubeConfig } from '../e2e/harness/kube.js';
import type { AdmissionContext, Validator } from './admission.js';
import { startWebhooks, type RunningWebhooks, type WebhooksOptions } from './main.js';
import type { WebhookKind } from './registration.js';
import { gadgetLabeler, gadgetValidator, mutatedLabel, sizeWarning, type Gadget } from './testing/gadgets.js';
import { send, trustingAgent } from './testing/https.js';
import { deleteWebhookConfigurations, ignoreNotFound } from './testing/kube.js';

const day = 24 * 60 * 60 * 1000;
const suffix = randomBytes(3).toString('hex');
const group = `g${suffix}.webhook-test.octopus.openi.pcl.cn`;
const version = 'v1alpha1';
const plural = 'gadgets';
const gadgetKind: WebhookKind = { kind: 'Gadget', plural, scope: 'Namespaced', group, version };
const configName = `octopus-webhooks-test-${suffix}`;
const sizeDenied = 'spec.size: must be at most 10';

let kc: KubeConfig;
let custom: CustomObjectsApi;
let namespace: string;
let running: RunningWebhooks | undefined;
let registry: Registry;
// Starts 340 days back, so the first certificate (365 days) is valid now but due for rotation once the
// clock reaches the present: both certificates are then valid for the real apiserver.
let clock = Date.now() - 340 * day;
const seen: AdmissionContext<Gadget>[] = [];

// Records what the apiserver sent, then judges like the plain test validator.
const recordingValidator: Validator<Gadget> = {
  async validate(req) {
    seen.push(req);
    return gadgetValidator.validate(req);
  },
};

const options: WebhooksOptions = {
  mode: 'local',
  namespace: '', // set once the namespace exists
  serviceName: 'octopus-webhooks',
  servicePort: 443,
  host: '127.0.0.1',
  port: 0,
  logLevel: 'info',
  certSecret: 'octopus-webhook-tls',
  configName,
  certValidityDays: 365,
  certRotateBeforeDays: 30,
  certCheckIntervalSeconds: 3600,
  shutdownDelaySeconds: 0,
  ingressDomain: 'octopus.local',
  buildRegistry: '',
};

function gadget(name: string, size: number): Record<string, unknown> {
  return { apiVersion: `${group}/${version}`, kind: 'Gadget', metadata: { name }, spec: { size } };
}

const create = (name: string, size: number, dryRun?: 'All') => custom.createNamespacedCustomObjectWithHttpInfo({ group, version, namespace, plural, body: gadget(name, size), ...(dryRun ? { dryRun } : {}) });

/** The rejection message of a create, or undefined when it was admitted. */
async function rejection(call: Promise<unknown>): Promise<{ code: number; body: string } | undefined> {
  try {
    await call;
    return undefined;
  } catch (err) {
    if (!(err instanceof ApiException)) throw err;
    return { code: err.code, body: typeof err.body === 'string' ? err.body : JSON.stringify(err.body) };
  }
}

async function requests(verdict: string): Promise<number> {
  const metric = await registry.getSingleMetric('octopus_webhook_requests_total')?.get();
  return metric?.values.filter((v) => v.labels.kind === 'gadget' && v.labels.webhook === 'validate' && v.labels.verdict === verdict).reduce((n, v) => n + v.value, 0) ?? 0;
}

beforeAll(async () => {
  kc = testKubeConfig();
  custom = kc.makeApiClient(CustomObjectsApi);
  namespace = await createTestNamespace(kc, 'wh-e2e');
  const crds = kc.makeApiClient(ApiextensionsV1Api);
  await crds.createCustomResourceDefinition({
    body: {
      metadata: { name: `${plural}.${group}` },
      spec: {
        group,
        scope: 'Namespaced',
        names: { kind: 'Gadget', plural, singular: 'gadget', listKind: 'GadgetList' },
        versions: [
          {
            name: version,
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'integer' } } } } } },
          },
        ],
      },
    },
  });
  await eventually('the Gadget CRD to be established', async () => {
    const crd = await crds.readCustomResourceDefinition({ name: `${plural}.${group}` });
    return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') || undefined;
  });
  registry = new Registry();
  running = await startWebhooks(
    { ...options, namespace },
    {
      kubeConfig: kc,
      logger: pino({ level: 'silent' }),
      registry,
      now: () => new Date(clock),
      kinds: [gadgetKind],
      validators: { gadget: recordingValidator },
      mutators: { gadget: gadgetLabeler },
    },
  );
  // The apiserver picks up new configurations (and CRDs) through watches: wait until ours is consulted.
  await eventually('the apiserver to call the validating webhook', async () => ((await rejection(create('probe', 11, 'All')))?.body.includes(sizeDenied) ? true : undefined));
});

afterAll(async () => {
  // Configurations first: with failurePolicy Fail they would refuse Gadgets once the server is gone.
  await deleteWebhookConfigurations(kc.makeApiClient(AdmissionregistrationV1Api), configName);
  await running?.stop();
  await kc.makeApiClient(ApiextensionsV1Api).deleteCustomResourceDefinition({ name: `${plural}.${group}` }).catch(ignoreNotFound);
  await deleteNamespace(kc, namespace);
});

describe('the apiserver calling octopus-webhooks', () => {
  it('is ready once registered, serving the certificate its Secret holds', async () => {
    const secret = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ name: options.certSecret, namespace });
    const agent = trustingAgent(Buffer.from(secret.data?.['ca.crt'] ?? '', 'base64').toString());
    try {
      expect((await send(agent, `https://127.0.0.1:${running?.port}/readyz`)).status).toBe(200);
    } finally {
      agent.destroy();
    }
  });

  it('rejects an invalid Gadget with the field path and message, as kubectl shows them', async () => {
    const deniedBefore = await requests('denied');
    const got = await rejection(create('too-big', 11));
    expect(got?.code).toBe(422);
    expect(got?.body).toContain(`admission webhook \\"gadget.validate.${group}\\" denied the request: ${sizeDenied}`);
    expect(await requests('denied')).toBe(deniedBefore + 1);
  });

  it('admits a Gadget at the limit with a warning, and shows the validator who asked', async () => {
    const allowedBefore = await requests('allowed');
    const reply = await create('at-limit', 10);
    expect(reply.httpStatusCode).toBe(201);
    expect(reply.headers.warning).toContain(sizeWarning);
    expect(await requests('allowed')).toBe(allowedBefore + 1);
    const ctx = seen.findLast((c) => c.name === 'at-limit');
    expect(ctx).toMatchObject({ operation: 'CREATE', namespace, dryRun: false, oldObject: null, kind: { group, version, kind: 'Gadget' } });
    expect(ctx?.userInfo.username).toBeTruthy();
  });

  it('labels a Gadget through the mutating webhook', async () => {
    await create('labelled', 1);
    const stored = (await custom.getNamespacedCustomObject({ group, version, namespace, plural, name: 'labelled' })) as Gadget;
    expect(stored.metadata?.labels?.[mutatedLabel]).toBe('true');
  });

  it('validates updates against the old object', async () => {
    await create('grows', 5);
    const got = await rejection(
      custom.patchNamespacedCustomObject({ group, version, namespace, plural, name: 'grows', body: { spec: { size: 12 } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)),
    );
    expect(got?.body).toContain(sizeDenied);
    expect(seen.findLast((c) => c.name === 'grows' && c.operation === 'UPDATE')).toMatchObject({ object: { spec: { size: 12 } }, oldObject: { spec: { size: 5 } } });
  });

  it('rotates its certificate without a restart and keeps answering the apiserver', async () => {
    const webhooks = running as RunningWebhooks;
    clock = Date.now();
    expect(await webhooks.checkCertificate()).toBe(true);
    const secret = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ name: options.certSecret, namespace });
    const wantCert = new X509Certificate(Buffer.from(secret.data?.['tls.crt'] ?? '', 'base64'));
    const served = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: webhooks.port, ca: Buffer.from(secret.data?.['ca.crt'] ?? '', 'base64') }, () => {
        resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? '');
        socket.end();
      });
      socket.once('error', reject);
    });
    expect(served).toBe(wantCert.fingerprint256);
    await eventually('the apiserver to call the webhook with the new certificate', async () =>
      (await rejection(create('after-rotation', 11, 'All')))?.body.includes(sizeDenied) ? true : undefined,
    );
  });
});
