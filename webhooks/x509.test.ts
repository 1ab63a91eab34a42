import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { issueCertificate, type CertificateTemplate } from './x509.js';

const caKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const leafKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const issuer = { commonName: 'test-ca', ...caKeys };

function makeTemplate(patch: Partial<CertificateTemplate> = {}): CertificateTemplate {
  return {
    commonName: 'svc.ns.svc',
    publicKey: leafKeys.publicKey,
    serialNumber: Buffer.from([1, 2, 3]),
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2027-01-01T00:00:00Z'),
    isCA: false,
    ...patch,
  };
}

describe('issueCertificate', () => {
  const ca = new X509Certificate(issueCertificate(makeTemplate({ commonName: 'test-ca', publicKey: caKeys.publicKey, isCA: true }), issuer));

  it('issues a self-signed CA', () => {
    expect(ca.ca).toBe(true);
    expect(ca.subject).toBe('CN=test-ca');
    expect(ca.verify(caKeys.publicKey)).toBe(true);
    expect(ca.checkIssued(ca)).toBe(true);
  });

  it('issues a serving certificate the CA signed, for its names and addresses', () => {
    const leaf = new X509Certificate(issueCertificate(makeTemplate({ dnsNames: ['svc.ns.svc', 'localhost'], ipAddresses: ['127.0.0.1'] }), issuer));
    expect(leaf.ca).toBe(false);
    expect(leaf.issuer).toBe('CN=test-ca');
    expect(leaf.subject).toBe('CN=svc.ns.svc');
    expect(leaf.checkIssued(ca) && leaf.verify(caKeys.publicKey)).toBe(true);
    expect(leaf.checkPrivateKey(leafKeys.privateKey)).toBe(true);
    expect(leaf.subjectAltName).toBe('DNS:svc.ns.svc, DNS:localhost, IP Address:127.0.0.1');
    expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // node reports the extended key usage here
    expect(leaf.checkIP('127.0.0.2')).toBeUndefined();
  });

  it.each([
    ['UTCTime', '2026-03-04T05:06:07.890Z', 'Mar  4 05:06:07 2026 GMT'],
    ['the last UTCTime second', '2049-12-31T23:59:59Z', 'Dec 31 23:59:59 2049 GMT'],
    ['GeneralizedTime from 2050', '2050-01-01T00:00:00Z', 'Jan  1 00:00:00 2050 GMT'],
  ])('encodes %s', (_case, notAfter, want) => {
    const cert = new X509Certificate(issueCertificate(makeTemplate({ notAfter: new Date(notAfter) }), issuer));
    expect(cert.validTo).toBe(want);
  });

  it.each([
    [[0x01, 0x02, 0x03], '010203'],
    [[0x80, 0x01], '8001'], // high bit set: stays positive
    [[0x00, 0x00, 0x05], '05'], // leading zeros dropped
  ])('encodes serial %j as %s', (serial, want) => {
    const cert = new X509Certificate(issueCertificate(makeTemplate({ serialNumber: Buffer.from(serial) }), issuer));
    expect(cert.serialNumber).toBe(want);
  });

  it('refuses what it cannot encode', () => {
    expect(() => issueCertificate(makeTemplate({ ipAddresses: ['::1'] }), issuer)).toThrow('not an IPv4 address: ::1');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => issueCertificate(makeTemplate(), { commonName: 'rsa', ...rsa })).toThrow('only ECDSA issuers');
  });
});
