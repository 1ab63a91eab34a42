// The webhook process and its caches on the real apiserver: the informers fill the lookups, and the
// webhooks are neither registered nor ready until the caches have listed — an empty cache would admit a
// Job its Quota forbids.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AdmissionregistrationV1Api, CoreV1Api, CustomObjectsApi, Watch, type KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { group, version } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { InformerFactory, RestClient, SystemClock } from '../../controllers/runtime/index.js';
import { installCrds } from '../../e2e/harness/crds.js';
import { createTestNamespace, deleteNamespace, eventually, testKubeConfig } from '../../e2e/harness/kube.js';
import { parseOptions, startWebhooks } from '../main.js';
import { send, trustingAgent } from '../testing/https.js';
import { deleteWebhookConfigurations, ignoreNotFound } from '../testing/kube.js';
import { lookupsOf, makeDataset, makeDevicePolicy, makeNotebook, makeQuota } from '../testing/octopus.js';
import { WebhookCaches, type AdmissionCaches } from './caches.js';
import { octopusAdmission } from './index.js';

const suffix = randomBytes(3).toString('hex');
const configName = `octopus-webhooks-caches-${suffix}`;
// Matches no object: these webhooks are registered only to see when they are.
const objectSelector = { matchLabels: { 'webhook-test.octopus.openi.pcl.cn/run': `none-${suffix}` } };

let kc: KubeConfig;
let namespace: string;

beforeAll(async () => {
  kc = testKubeConfig();
  await installCrds(kc);
  namespace = await createTestNamespace(kc, 'wh-caches');
});

afterAll(async () => {
  await deleteWebhookConfigurations(kc.makeApiClient(AdmissionregistrationV1Api), configName);
  await deleteNamespace(kc, namespace);
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** The status of /readyz, or undefined when nothing answers. */
async function readyz(port: number): Promise<number | undefined> {
  try {
    const secret = await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ name: 'octopus-webhook-tls', namespace });
    const agent = trustingAgent(Buffer.from(secret.data?.['ca.crt'] ?? '', 'base64').toString());
    try {
      return (await send(agent, `https://127.0.0.1:${port}/readyz`)).status;
    } finally {
      agent.destroy();
    }
  } catch {
    return undefined;
  }
}

describe('WebhookCaches', () => {
  it('lists and watches what the validators read', async () => {
    const caches = new WebhookCaches(new InformerFactory({ rest: new RestClient(kc), watch: new Watch(kc), clock: new SystemClock(), logger: pino({ level: 'silent' }) }));
    caches.start();
    try {
      expect(await caches.waitForSync()).toBe(true);
      const custom = kc.makeApiClient(CustomObjectsApi);
      const policy = makeDevicePolicy(`caches-${suffix}`, [{ resource: 'example.com/never-used', maxPerPod: 1 }]);
      await custom.createNamespacedCustomObject({ group, version, namespace, plural: 'quotas', body: makeQuota('gpu', { hard: { 'nvidia.com/gpu': 8 } }, undefined, namespace) });
      await custom.createNamespacedCustomObject({ group, version, namespace, plural: 'datasets', body: makeDataset(namespace, 'imagenet', 'Public') });
      await custom.createClusterCustomObject({ group, version, plural: 'devicepolicies', body: policy });
      const notebook = makeNotebook({ ingress: { enabled: true } }, 'lab');
      await custom.createNamespacedCustomObject({ group, version, namespace, plural: 'notebooks', body: { ...notebook, metadata: { ...notebook.metadata, namespace } } });
      // Found by the host it derives under whatever domain the webhook server is given.
      const derived = `lab-${namespace}.apps.example.com`;
      try {
        await eventually('the caches to hold the new objects', async () =>
          caches.lookups.quotas(namespace).length === 1 &&
          caches.lookups.ingressClaims(derived, 'apps.example.com').length === 1 &&
          caches.lookups.visibility('Dataset', namespace, 'imagenet') === 'Public' &&
          caches.lookups.devicePolicies().some((p) => p.metadata.name === policy.metadata.name)
            ? true
            : undefined,
        );
        expect(caches.lookups.quotas(namespace)[0]?.hard.get('nvidia.com/gpu')).toBe(8000n);
        expect(caches.lookups.ingressClaims(derived, 'apps.example.com')[0]?.metadata.name).toBe('lab');
        expect(caches.lookups.ingressClaims(derived, 'other.example.com')).toEqual([]);
      } finally {
        await custom.deleteClusterCustomObject({ group, version, plural: 'devicepolicies', name: policy.metadata.name! }).catch(ignoreNotFound);
      }
    } finally {
      await caches.stop();
    }
  });
});

describe('startWebhooks with caches', () => {
  const deps = () => ({ kubeConfig: kc, logger: pino({ level: 'silent' }), registry: new Registry(), now: () => new Date(), objectSelector, ...octopusAdmission(lookupsOf([])) });
  const options = (port: number) => parseOptions(['--mode', 'local', '--port', String(port), '--namespace', namespace, '--config-name', configName], {});

  it('serves, unready and unregistered, until the caches have listed', async () => {
    let synced!: (ok: boolean) => void;
    const events: string[] = [];
    const caches: AdmissionCaches = {
      start: () => void events.push('start'),
      waitForSync: () => new Promise((resolve) => (synced = resolve)),
      stop: async () => void events.push('stop'),
    };
    const port = await freePort();
    const starting = startWebhooks(options(port), { ...deps(), caches });
    const admission = kc.makeApiClient(AdmissionregistrationV1Api);
    await eventually('the server to listen', async () => ((await readyz(port)) === 503 ? true : undefined));
    expect(events).toEqual(['start']);
    await expect(admission.readValidatingWebhookConfiguration({ name: configName })).rejects.toMatchObject({ code: 404 });
    synced(true);
    const running = await starting;
    try {
      expect(await readyz(port)).toBe(200);
      const registered = await admission.readValidatingWebhookConfiguration({ name: configName });
      expect(registered.webhooks?.map((w) => w.objectSelector)).toEqual(registered.webhooks?.map(() => objectSelector));
    } finally {
      await deleteWebhookConfigurations(admission, configName);
      await running.stop();
    }
    expect(events).toEqual(['start', 'stop']);
  });

  it('gives up, listening no more, when the caches stop before they list', async () => {
    const events: string[] = [];
    const caches: AdmissionCaches = { start: () => void events.push('start'), waitForSync: async () => false, stop: async () => void events.push('stop') };
    const port = await freePort();
    await expect(startWebhooks(options(port), { ...deps(), caches })).rejects.toThrow('the caches stopped before they listed');
    expect(events).toEqual(['start', 'stop']);
    expect(await readyz(port)).toBeUndefined();
  });
});
