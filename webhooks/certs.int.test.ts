// The certificate Secret on a real apiserver: created, reused, rotated, raced for.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { pino } from 'pino';
import { createTestNamespace, deleteNamespace, testKubeConfig } from '../e2e/harness/kube.js';
import { checkTlsBundle, ensureTlsSecret, servingIdentity, splitPem, type ServingIdentity, type TlsBundle, type TlsSecretOptions } from './certs.js';

const day = 24 * 60 * 60 * 1000;
const t0 = new Date();

let kc: KubeConfig;
let core: CoreV1Api;
let namespace: string;
let identity: ServingIdentity;

beforeAll(async () => {
  kc = testKubeConfig();
  core = kc.makeApiClient(CoreV1Api);
  namespace = await createTestNamespace(kc, 'wh-certs');
  identity = servingIdentity({ service: 'octopus-webhooks', namespace, local: true });
});

afterAll(async () => {
  await deleteNamespace(kc, namespace);
});

function options(name: string, daysLater = 0, patch: Partial<TlsSecretOptions> = {}): TlsSecretOptions {
  return {
    core,
    namespace,
    name,
    identity,
    now: () => new Date(t0.getTime() + daysLater * day),
    validityDays: 365,
    rotateBeforeDays: 30,
    logger: pino({ level: 'silent' }),
    ...patch,
  };
}

async function stored(name: string): Promise<{ secret: V1Secret; bundle: TlsBundle }> {
  const secret = await core.readNamespacedSecret({ name, namespace });
  const get = (k: string): string => Buffer.from(secret.data?.[k] ?? '', 'base64').toString();
  return { secret, bundle: { cert: get('tls.crt'), key: get('tls.key'), caBundle: get('ca.crt') } };
}

describe('ensureTlsSecret', () => {
  let first: TlsBundle;

  it('creates a kubernetes.io/tls Secret with ca.crt when there is none', async () => {
    first = await ensureTlsSecret(options('tls'));
    const { secret, bundle } = await stored('tls');
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(Object.keys(secret.data ?? {}).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    expect(bundle).toEqual(first);
    expect(checkTlsBundle(first, { identity, now: t0, rotateBeforeDays: 30 })).toMatchObject({ ok: true });
  });

  it('reuses a valid Secret without writing it', async () => {
    const before = await stored('tls');
    await expect(ensureTlsSecret(options('tls', 300))).resolves.toEqual(first);
    expect((await stored('tls')).secret.metadata?.resourceVersion).toBe(before.secret.metadata?.resourceVersion);
  });

  it('rotates inside the rotation window, keeping the previous CA in ca.crt', async () => {
    const rotated = await ensureTlsSecret(options('tls', 340));
    expect(rotated.cert).not.toBe(first.cert);
    expect(splitPem(rotated.caBundle)[1]).toBe(splitPem(first.caBundle)[0]);
    expect((await stored('tls')).bundle).toEqual(rotated);
  });

  it('regenerates when the certificate does not cover the names asked for', async () => {
    const renamed = servingIdentity({ service: 'renamed', namespace, local: false });
    const before = await stored('tls');
    const got = await ensureTlsSecret(options('tls', 340, { identity: renamed }));
    expect(checkTlsBundle(before.bundle, { identity: renamed, now: t0, rotateBeforeDays: 30 })).toMatchObject({ ok: false });
    expect(checkTlsBundle(got, { identity: renamed, now: new Date(t0.getTime() + 340 * day), rotateBeforeDays: 30 })).toMatchObject({ ok: true });
  });

  it('replaces unusable data in place, keeping the Secret metadata', async () => {
    const garbage = Buffer.from('garbage').toString('base64');
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'broken', labels: { keep: 'me' } }, type: 'kubernetes.io/tls', data: { 'tls.crt': garbage, 'tls.key': garbage, 'ca.crt': garbage } },
    });
    const got = await ensureTlsSecret(options('broken'));
    const { secret, bundle } = await stored('broken');
    expect(bundle).toEqual(got);
    expect(secret.metadata?.labels).toEqual({ keep: 'me' });
  });

  it('lets replicas racing on an absent Secret agree on one bundle', async () => {
    const bundles = await Promise.all([1, 2, 3].map(() => ensureTlsSecret(options('race'))));
    const { bundle } = await stored('race');
    expect(bundles).toEqual([bundle, bundle, bundle]);
  });
});
