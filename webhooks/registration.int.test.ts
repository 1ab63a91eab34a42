// Webhook configurations on a real apiserver: local mode creates and updates them; cluster mode only
// patches the CA into what the chart installed. Rules name a throw-away API group, so nothing is intercepted.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AdmissionregistrationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { testKubeConfig } from '../e2e/harness/kube.js';
import { generateTlsBundle, servingIdentity } from './certs.js';
import {
  buildMutatingWebhookConfiguration,
  buildValidatingWebhookConfiguration,
  syncWebhookConfigurations,
  type SyncOptions,
  type WebhookKind,
  type WebhookTarget,
} from './registration.js';
import { deleteWebhookConfigurations } from './testing/kube.js';

const suffix = randomBytes(3).toString('hex');
const gadget: WebhookKind = { kind: 'Gadget', plural: 'gadgets', scope: 'Namespaced', group: `r${suffix}.webhook-test.octopus.openi.pcl.cn`, version: 'v1alpha1' };
const service: WebhookTarget = { service: { namespace: 'octopus-system', name: 'octopus-webhooks', port: 443 } };
const names = { local: `octopus-webhooks-test-local-${suffix}`, chart: `octopus-webhooks-test-chart-${suffix}`, missing: `octopus-webhooks-test-missing-${suffix}` };

let kc: KubeConfig;
let api: AdmissionregistrationV1Api;
let pemA: string;
let pemB: string;

beforeAll(async () => {
  kc = testKubeConfig();
  api = kc.makeApiClient(AdmissionregistrationV1Api);
  const identity = servingIdentity({ service: 's', namespace: 'n', local: true });
  [pemA, pemB] = (await Promise.all([1, 2].map(() => generateTlsBundle({ identity, now: new Date(), validityDays: 1 })))).map((b) => b.caBundle) as [string, string];
});

afterAll(async () => {
  for (const name of Object.values(names)) await deleteWebhookConfigurations(api, name);
});

function syncOptions(name: string, target: WebhookTarget, caBundle: string, manage: SyncOptions['manage'], mutatingKinds = [gadget]): SyncOptions {
  return {
    api,
    validating: buildValidatingWebhookConfiguration({ name, kinds: [gadget], target }),
    mutating: buildMutatingWebhookConfiguration({ name, kinds: mutatingKinds, target }),
    caBundle,
    manage,
    logger: pino({ level: 'silent' }),
  };
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('local mode (manage all)', () => {
  it('creates both configurations with the URL and CA', async () => {
    await syncWebhookConfigurations(syncOptions(names.local, { url: 'https://127.0.0.1:1111' }, pemA, 'all'));
    const validating = await api.readValidatingWebhookConfiguration({ name: names.local });
    const mutating = await api.readMutatingWebhookConfiguration({ name: names.local });
    expect(validating.webhooks?.[0]?.clientConfig).toEqual({ url: 'https://127.0.0.1:1111/validate/gadget', caBundle: b64(pemA) });
    expect(mutating.webhooks?.[0]?.clientConfig).toEqual({ url: 'https://127.0.0.1:1111/mutate/gadget', caBundle: b64(pemA) });
    expect(validating.webhooks?.[0]).toMatchObject({ failurePolicy: 'Fail', sideEffects: 'None', timeoutSeconds: 5, matchPolicy: 'Equivalent' });
  });

  it('updates them in place on the next start, dropping webhooks of kinds no longer served', async () => {
    await syncWebhookConfigurations(syncOptions(names.local, { url: 'https://127.0.0.1:2222' }, pemB, 'all', []));
    const validating = await api.readValidatingWebhookConfiguration({ name: names.local });
    const mutating = await api.readMutatingWebhookConfiguration({ name: names.local });
    expect(validating.webhooks?.map((w) => w.clientConfig)).toEqual([{ url: 'https://127.0.0.1:2222/validate/gadget', caBundle: b64(pemB) }]);
    expect(mutating.webhooks ?? []).toEqual([]);
  });
});

describe('cluster mode (manage caBundle)', () => {
  it('patches the CA into every webhook of the configurations the chart installed, and nothing else', async () => {
    for (const body of [
      buildValidatingWebhookConfiguration({ name: names.chart, kinds: [gadget], target: service }),
      buildMutatingWebhookConfiguration({ name: names.chart, kinds: [gadget], target: service }),
    ]) {
      body.metadata = { ...body.metadata, labels: { 'helm.sh/chart': 'octopus-0.1.0' } };
      if (body.kind === 'ValidatingWebhookConfiguration') await api.createValidatingWebhookConfiguration({ body });
      else await api.createMutatingWebhookConfiguration({ body });
    }
    await syncWebhookConfigurations(syncOptions(names.chart, { url: 'https://ignored.invalid' }, pemA, 'caBundle'));
    for (const config of [await api.readValidatingWebhookConfiguration({ name: names.chart }), await api.readMutatingWebhookConfiguration({ name: names.chart })]) {
      expect(config.metadata?.labels).toEqual({ 'helm.sh/chart': 'octopus-0.1.0' });
      expect(config.webhooks?.map((w) => w.clientConfig)).toEqual([
        { service: { ...(service as { service: object }).service, path: expect.stringMatching(/^\/(validate|mutate)\/gadget$/) }, caBundle: b64(pemA) },
      ]);
    }
  });

  it('writes nothing when the CA is already there', async () => {
    const before = await api.readValidatingWebhookConfiguration({ name: names.chart });
    await syncWebhookConfigurations(syncOptions(names.chart, service, pemA, 'caBundle'));
    expect((await api.readValidatingWebhookConfiguration({ name: names.chart })).metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
  });

  it('fails clearly when the chart did not install a configuration it needs', async () => {
    await expect(syncWebhookConfigurations(syncOptions(names.missing, service, pemA, 'caBundle'))).rejects.toThrow(
      `ValidatingWebhookConfiguration ${names.missing} not found: in cluster mode the chart installs it`,
    );
  });

  it('does not need a configuration that would have no webhooks', async () => {
    await expect(syncWebhookConfigurations({ ...syncOptions(names.chart, service, pemB, 'caBundle', []), mutating: buildMutatingWebhookConfiguration({ name: names.missing, kinds: [], target: service }) })).resolves.toBeUndefined();
    expect((await api.readValidatingWebhookConfiguration({ name: names.chart })).webhooks?.[0]?.clientConfig.caBundle).toBe(b64(pemB));
  });
});
