/**
 * The few X.509 v3 certificates the webhook needs (a CA and an ECDSA P-256 serving certificate),
 * DER-encoded by hand over node:crypto. Node parses certificates but cannot issue them, and the
 * libraries that can bring a dependency-injection container and a global Reflect polyfill with them.
 */
import { createHash, sign, type KeyObject } from 'node:crypto';
import { isIPv4 } from 'node:net';

export interface CertificateTemplate {
  commonName: string;
  /** The subject's public key. */
  publicKey: KeyObject;
  /** Positive, at most 20 bytes. */
  serialNumber: Buffer;
  notBefore: Date;
  notAfter: Date;
  /** A CA that may sign end-entity certificates only (pathLen 0). */
  isCA: boolean;
  dnsNames?: readonly string[];
  /** IPv4 only: local mode needs 127.0.0.1 and nothing else. */
  ipAddresses?: readonly string[];
}

/** Who signs: the subject itself for a self-signed CA. */
export interface Issuer {
  commonName: string;
  publicKey: KeyObject;
  privateKey: KeyObject;
}

const oids = {
  commonName: '2.5.4.3',
  ecPublicKey: '1.2.840.10045.2.1',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
};

/** Issues `template` signed by `issuer`, returned as PEM. */
export function issueCertificate(template: CertificateTemplate, issuer: Issuer): string {
  if (issuer.privateKey.asymmetricKeyType !== 'ec') throw new Error('only ECDSA issuers are supported');
  const signatureAlgorithm = seq(oid(oids.ecdsaWithSHA256));
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))), // v3
    integer(template.serialNumber),
    signatureAlgorithm,
    name(issuer.commonName),
    seq(time(template.notBefore), time(template.notAfter)),
    name(template.commonName),
    template.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, seq(...extensions(template, issuer))),
  );
  // node signs ECDSA in DER (r, s) form, which is what X.509 carries.
  const der = seq(tbs, signatureAlgorithm, bitString(sign('sha256', tbs, issuer.privateKey)));
  return toPem('CERTIFICATE', der);
}

export function toPem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function extensions(t: CertificateTemplate, issuer: Issuer): Buffer[] {
  // keyUsage bits, most significant first: digitalSignature(0) … keyCertSign(5), cRLSign(6).
  const usage = t.isCA ? 0b1000_0110 : 0b1000_0000;
  const out = [
    extension(oids.basicConstraints, true, t.isCA ? seq(bool(true), integer(Buffer.from([0]))) : seq()),
    extension(oids.keyUsage, true, bitString(Buffer.from([usage]), trailingZeros(usage))),
    extension(oids.subjectKeyIdentifier, false, octets(keyIdentifier(t.publicKey))),
    extension(oids.authorityKeyIdentifier, false, seq(tagged(0x80, keyIdentifier(issuer.publicKey)))),
  ];
  if (!t.isCA) out.push(extension(oids.extKeyUsage, false, seq(oid(oids.serverAuth))));
  const names = [
    ...(t.dnsNames ?? []).map((n) => tagged(0x82, Buffer.from(n, 'ascii'))),
    ...(t.ipAddresses ?? []).map((ip) => tagged(0x87, ipv4(ip))),
  ];
  if (names.length > 0) out.push(extension(oids.subjectAltName, false, seq(...names)));
  return out;
}

/** RFC 7093 method 1: the leftmost 160 bits of the SHA-256 of the key. */
function keyIdentifier(key: KeyObject): Buffer {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest().subarray(0, 20);
}

function ipv4(ip: string): Buffer {
  if (!isIPv4(ip)) throw new Error(`not an IPv4 address: ${ip}`);
  return Buffer.from(ip.split('.').map(Number));
}

function trailingZeros(byte: number): number {
  let n = 0;
  while (n < 8 && (byte & (1 << n)) === 0) n++;
  return n;
}

// --- DER ---

function tagged(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

const seq = (...parts: Buffer[]): Buffer => tagged(0x30, ...parts);
const set = (...parts: Buffer[]): Buffer => tagged(0x31, ...parts);
const octets = (b: Buffer): Buffer => tagged(0x04, b);
const bool = (v: boolean): Buffer => tagged(0x01, Buffer.from([v ? 0xff : 0]));
const explicit = (n: number, inner: Buffer): Buffer => tagged(0xa0 | n, inner);
const bitString = (b: Buffer, unusedBits = 0): Buffer => tagged(0x03, Buffer.from([unusedBits]), b);

/** A non-negative INTEGER in minimal form. */
function integer(magnitude: Buffer): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const b = magnitude.subarray(start);
  return tagged(0x02, (b[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [40 * a + b];
  for (const arc of rest) {
    const base128: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) base128.unshift((v & 0x7f) | 0x80);
    bytes.push(...base128);
  }
  return tagged(0x06, Buffer.from(bytes));
}

function name(commonName: string): Buffer {
  return seq(set(seq(oid(oids.commonName), tagged(0x0c, Buffer.from(commonName, 'utf8')))));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
}

/** RFC 5280: UTCTime through 2049, GeneralizedTime from 2050; whole seconds, UTC. */
function time(d: Date): Buffer {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z';
  return d.getUTCFullYear() < 2050 ? tagged(0x17, Buffer.from(digits.slice(2), 'ascii')) : tagged(0x18, Buffer.from(digits, 'ascii'));
}
