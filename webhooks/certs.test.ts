import { X509Certificate } from 'node:crypto';
import { connect, createServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { beforeAll, describe, expect, it, jest } from '@jest/globals';
import { pino } from 'pino';
import { CertificateRotator, checkTlsBundle, generateTlsBundle, servingIdentity, splitPem, type TlsBundle } from './certs.js';

const day = 24 * 60 * 60 * 1000;
const now = new Date('2026-06-01T00:00:00Z');
const local = servingIdentity({ service: 'octopus-webhooks', namespace: 'octopus-system', local: true });
const inCluster = servingIdentity({ service: 'octopus-webhooks', namespace: 'octopus-system', local: false });

describe('servingIdentity', () => {
  it.each([
    [false, { commonName: 'octopus-webhooks.octopus-system.svc', dnsNames: ['octopus-webhooks.octopus-system.svc', 'octopus-webhooks.octopus-system.svc.cluster.local'], ipAddresses: [] }],
    [
      true,
      {
        commonName: 'octopus-webhooks.octopus-system.svc',
        dnsNames: ['octopus-webhooks.octopus-system.svc', 'octopus-webhooks.octopus-system.svc.cluster.local', 'localhost'],
        ipAddresses: ['127.0.0.1'],
      },
    ],
  ])('local=%s', (isLocal, want) => {
    expect(servingIdentity({ service: 'octopus-webhooks', namespace: 'octopus-system', local: isLocal })).toEqual(want);
  });
});

describe('generateTlsBundle', () => {
  it('issues a serving certificate for the identity, signed by the one CA in ca.crt', async () => {
    const bundle = await generateTlsBundle({ identity: local, now, validityDays: 365 });
    const leaf = new X509Certificate(bundle.cert);
    const cas = splitPem(bundle.caBundle).map((p) => new X509Certificate(p));
    expect(cas).toHaveLength(1);
    expect(cas[0]?.ca).toBe(true);
    expect(leaf.checkIssued(cas[0] as X509Certificate) && leaf.verify((cas[0] as X509Certificate).publicKey)).toBe(true);
    expect(leaf.subjectAltName).toBe('DNS:octopus-webhooks.octopus-system.svc, DNS:octopus-webhooks.octopus-system.svc.cluster.local, DNS:localhost, IP Address:127.0.0.1');
    expect(new Date(leaf.validTo)).toEqual(new Date(now.getTime() + 365 * day));
    expect(new Date(leaf.validFrom) < now).toBe(true);
    expect(bundle.key).toContain('BEGIN PRIVATE KEY');
  });

  it('keeps the previous CA while it is unexpired, and only the newest one', async () => {
    const first = await generateTlsBundle({ identity: local, now, validityDays: 365 });
    const second = await generateTlsBundle({ identity: local, now: new Date(now.getTime() + 340 * day), validityDays: 365, previousCaBundle: first.caBundle });
    const third = await generateTlsBundle({ identity: local, now: new Date(now.getTime() + 680 * day), validityDays: 365, previousCaBundle: second.caBundle });
    expect(splitPem(second.caBundle)).toEqual([splitPem(second.caBundle)[0], splitPem(first.caBundle)[0]]);
    expect(splitPem(third.caBundle)).toHaveLength(2);
    expect(splitPem(third.caBundle)[1]).toBe(splitPem(second.caBundle)[0]);
    const expired = await generateTlsBundle({ identity: local, now: new Date(now.getTime() + 400 * day), validityDays: 365, previousCaBundle: first.caBundle });
    expect(splitPem(expired.caBundle)).toHaveLength(1);
  });

  it('serves TLS that a client trusting ca.crt accepts for 127.0.0.1', async () => {
    const bundle = await generateTlsBundle({ identity: local, now: new Date(), validityDays: 30 });
    const server = createServer({ cert: bundle.cert, key: bundle.key }, (socket) => socket.end('hello'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const got = await new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, ca: bundle.caBundle }, () => socket.once('data', (d) => resolve(d.toString())));
        socket.once('error', reject);
      });
      expect(got).toBe('hello');
    } finally {
      server.close();
    }
  });
});

describe('checkTlsBundle', () => {
  let valid: TlsBundle;
  let other: TlsBundle;
  const options = { identity: local, now, rotateBeforeDays: 30 };

  beforeAll(async () => {
    [valid, other] = await Promise.all([generateTlsBundle({ identity: local, now, validityDays: 365 }), generateTlsBundle({ identity: local, now, validityDays: 365 })]);
  });

  it('accepts a fresh bundle and reports its expiry', () => {
    expect(checkTlsBundle(valid, options)).toEqual({ ok: true, notAfter: new Date(now.getTime() + 365 * day) });
    expect(checkTlsBundle(valid, { ...options, identity: inCluster })).toMatchObject({ ok: true });
  });

  it.each<[string, () => TlsBundle, Partial<typeof options>, string]>([
    ['inside the rotation window', () => valid, { now: new Date(now.getTime() + 336 * day) }, 'within the 30-day rotation window'],
    ['expired', () => valid, { now: new Date(now.getTime() + 400 * day) }, 'rotation window'],
    ['not yet valid', () => valid, { now: new Date(now.getTime() - 2 * day) }, 'is not valid before'],
    [
      'missing a name',
      () => valid,
      { identity: { ...local, dnsNames: [...local.dnsNames, 'other.ns.svc'], ipAddresses: ['127.0.0.1', '10.0.0.1'] } },
      'does not cover other.ns.svc, 10.0.0.1',
    ],
    ['with a foreign key', () => ({ ...valid, key: other.key }), {}, 'tls.key does not belong to tls.crt'],
    ['with a foreign CA', () => ({ ...valid, caBundle: other.caBundle }), {}, 'not signed by a CA in ca.crt'],
    ['with an empty ca.crt', () => ({ ...valid, caBundle: '' }), {}, 'not signed by a CA in ca.crt'],
    ['with garbage for a certificate', () => ({ ...valid, cert: 'not a certificate' }), {}, 'does not parse'],
    ['with garbage for a key', () => ({ ...valid, key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }), {}, 'does not parse'],
  ])('rejects a bundle %s', (_case, bundle, patch, wantReason) => {
    const got = checkTlsBundle(bundle(), { ...options, ...patch });
    expect(got.ok).toBe(false);
    expect(!got.ok && got.reason).toContain(wantReason);
  });
});

describe('CertificateRotator.check', () => {
  const a: TlsBundle = { cert: 'a', key: 'ka', caBundle: 'ca-a' };
  const b: TlsBundle = { cert: 'b', key: 'kb', caBundle: 'ca-a' + 'ca-b' };

  function makeRotator(served: TlsBundle[], onRotate: (next: TlsBundle) => Promise<void>): CertificateRotator {
    return new CertificateRotator({ ensure: async () => served.shift() ?? a, current: a, onRotate, intervalMs: 1000, logger: pino({ level: 'silent' }) });
  }

  it('does nothing while the Secret holds the certificate being served', async () => {
    const onRotate = jest.fn(async (_next: TlsBundle) => {});
    const rotator = makeRotator([a, a], onRotate);
    await expect(rotator.check()).resolves.toBe(false);
    await expect(rotator.check()).resolves.toBe(false);
    expect(onRotate).not.toHaveBeenCalled();
  });

  it('applies a new bundle once', async () => {
    const onRotate = jest.fn(async (_next: TlsBundle) => {});
    const rotator = makeRotator([b, b], onRotate);
    await expect(rotator.check()).resolves.toBe(true);
    await expect(rotator.check()).resolves.toBe(false);
    expect(onRotate.mock.calls).toEqual([[b]]);
  });

  it('tries again at the next check when applying failed', async () => {
    const onRotate = jest.fn<(next: TlsBundle) => Promise<void>>().mockRejectedValueOnce(new Error('apiserver down')).mockResolvedValue(undefined);
    const rotator = makeRotator([b, b], onRotate);
    await expect(rotator.check()).rejects.toThrow('apiserver down');
    await expect(rotator.check()).resolves.toBe(true);
    expect(onRotate).toHaveBeenCalledTimes(2);
  });
});
