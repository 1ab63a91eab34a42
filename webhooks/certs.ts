/**
 * The webhook's serving certificate: generated, kept in a kubernetes.io/tls Secret (plus `ca.crt`),
 * reused while valid, and rotated ahead of expiry without a restart.
 *
 * Every generation makes a fresh CA and throws its private key away, so no CA key is ever stored.
 * `ca.crt` carries the new CA plus the previous one while it is unexpired: replicas still serving the
 * previous certificate stay trusted until they pick up the new one.
 */
import { createPrivateKey, generateKeyPair, randomBytes, X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
import { ApiException, type CoreV1Api, type V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { issueCertificate } from './x509.js';

/** PEM strings, as a TLS server and a webhook configuration's caBundle take them. */
export interface TlsBundle {
  cert: string;
  key: string;
  caBundle: string;
}

/** The names the serving certificate must cover. */
export interface ServingIdentity {
  commonName: string;
  dnsNames: string[];
  ipAddresses: string[];
}

const day = 24 * 60 * 60 * 1000;
const generateKeyPairAsync = promisify(generateKeyPair);

/** In-cluster Service names, plus the loopback names the apiserver dials in local mode. */
export function servingIdentity(opts: { service: string; namespace: string; local: boolean }): ServingIdentity {
  const svc = `${opts.service}.${opts.namespace}.svc`;
  return {
    commonName: svc,
    dnsNames: [svc, `${svc}.cluster.local`, ...(opts.local ? ['localhost'] : [])],
    ipAddresses: opts.local ? ['127.0.0.1'] : [],
  };
}

export interface GenerateOptions {
  identity: ServingIdentity;
  now: Date;
  validityDays: number;
  /** The `ca.crt` being replaced; its newest CA is kept while unexpired. */
  previousCaBundle?: string;
}

/** A new CA and a serving certificate (ECDSA P-256) it signed. */
export async function generateTlsBundle(opts: GenerateOptions): Promise<TlsBundle> {
  const [caKeys, leafKeys] = await Promise.all([
    generateKeyPairAsync('ec', { namedCurve: 'prime256v1' }),
    generateKeyPairAsync('ec', { namedCurve: 'prime256v1' }),
  ]);
  // Back-dated so an apiserver whose clock runs a little behind ours accepts the certificate at once.
  const notBefore = new Date(opts.now.getTime() - 60 * 60 * 1000);
  const notAfter = new Date(opts.now.getTime() + opts.validityDays * day);
  // A distinct CA name per generation keeps the two CAs in ca.crt apart in logs and chain building.
  const ca = { commonName: `octopus-webhook-ca@${Math.floor(opts.now.getTime() / 1000)}`, ...caKeys };
  const caPem = issueCertificate({ ...ca, serialNumber: serial(), notBefore, notAfter, isCA: true }, ca);
  const cert = issueCertificate(
    {
      commonName: opts.identity.commonName,
      publicKey: leafKeys.publicKey,
      serialNumber: serial(),
      notBefore,
      notAfter,
      isCA: false,
      dnsNames: opts.identity.dnsNames,
      ipAddresses: opts.identity.ipAddresses,
    },
    ca,
  );
  const previous = splitPem(opts.previousCaBundle ?? '')[0];
  const keepPrevious = previous !== undefined && unexpired(previous, opts.now);
  return {
    cert,
    key: leafKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    caBundle: keepPrevious ? caPem + previous : caPem,
  };
}

export type BundleCheck = { ok: true; notAfter: Date } | { ok: false; reason: string };

export interface CheckOptions {
  identity: ServingIdentity;
  now: Date;
  rotateBeforeDays: number;
}

/** Whether `bundle` can keep serving: parses, key matches, chains to ca.crt, covers the identity, not due for rotation. */
export function checkTlsBundle(bundle: TlsBundle, opts: CheckOptions): BundleCheck {
  let leaf: X509Certificate;
  let cas: X509Certificate[];
  try {
    leaf = new X509Certificate(bundle.cert);
    if (!leaf.checkPrivateKey(createPrivateKey(bundle.key))) return { ok: false, reason: 'tls.key does not belong to tls.crt' };
    cas = splitPem(bundle.caBundle).map((pem) => new X509Certificate(pem));
  } catch (err) {
    return { ok: false, reason: `certificate or key does not parse: ${(err as Error).message}` };
  }
  if (!cas.some((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey))) return { ok: false, reason: 'tls.crt is not signed by a CA in ca.crt' };
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  if (opts.now < notBefore) return { ok: false, reason: `tls.crt is not valid before ${notBefore.toISOString()}` };
  if (notAfter.getTime() - opts.now.getTime() < opts.rotateBeforeDays * day) {
    return { ok: false, reason: `tls.crt expires ${notAfter.toISOString()}, within the ${opts.rotateBeforeDays}-day rotation window` };
  }
  const missing = [
    ...opts.identity.dnsNames.filter((n) => leaf.checkHost(n, { wildcards: false, subject: 'never' }) === undefined),
    ...opts.identity.ipAddresses.filter((ip) => leaf.checkIP(ip) === undefined),
  ];
  if (missing.length > 0) return { ok: false, reason: `tls.crt does not cover ${missing.join(', ')}` };
  return { ok: true, notAfter };
}

export interface TlsSecretOptions {
  core: CoreV1Api;
  namespace: string;
  name: string;
  identity: ServingIdentity;
  now: () => Date;
  validityDays: number;
  rotateBeforeDays: number;
  logger: Logger;
}

/**
 * Returns the bundle in the Secret, creating or rotating it when needed. Replicas may race: writes carry
 * the resourceVersion read (or are creates), so a loser gets 409, reads the winner's bundle and uses it.
 */
export async function ensureTlsSecret(opts: TlsSecretOptions): Promise<TlsBundle> {
  const { core, namespace, name } = opts;
  for (let attempt = 0; attempt < 3; attempt++) {
    const existing = await readSecret(core, namespace, name);
    const current = existing && bundleFromSecret(existing);
    if (current) {
      const check = checkTlsBundle(current, { identity: opts.identity, now: opts.now(), rotateBeforeDays: opts.rotateBeforeDays });
      if (check.ok) return current;
      opts.logger.info({ secret: `${namespace}/${name}`, reason: check.reason }, 'generating a new webhook serving certificate');
    }
    const next = await generateTlsBundle({
      identity: opts.identity,
      now: opts.now(),
      validityDays: opts.validityDays,
      ...(current ? { previousCaBundle: current.caBundle } : {}),
    });
    try {
      if (existing) {
        // Keeps metadata (labels, owners) and the resourceVersion that makes this write conditional.
        await core.replaceNamespacedSecret({ name, namespace, body: { ...existing, type: 'kubernetes.io/tls', data: secretData(next) } });
      } else {
        await core.createNamespacedSecret({ namespace, body: newSecret(namespace, name, next) });
      }
      return next;
    } catch (err) {
      if (err instanceof ApiException && err.code === 409) continue;
      throw new Error(`writing Secret ${namespace}/${name}`, { cause: err });
    }
  }
  throw new Error(`Secret ${namespace}/${name} kept changing while the webhook certificate was being written`);
}

export interface CertificateRotatorOptions {
  /** Usually ensureTlsSecret: returns the bundle to serve, rotating it when due. */
  ensure: () => Promise<TlsBundle>;
  current: TlsBundle;
  /** Publishes the new CA bundle, then reloads the server; a throw leaves `current` for the next check. */
  onRotate: (next: TlsBundle) => Promise<void>;
  intervalMs: number;
  logger: Logger;
}

/** Checks the Secret periodically, so every replica also picks up a rotation another replica made. */
export class CertificateRotator {
  private current: TlsBundle;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: CertificateRotatorOptions) {
    this.current = opts.current;
  }

  /** One check; true when a different bundle was applied. */
  async check(): Promise<boolean> {
    const next = await this.opts.ensure();
    if (next.cert === this.current.cert && next.caBundle === this.current.caBundle) return false;
    await this.opts.onRotate(next);
    this.current = next;
    this.opts.logger.info('webhook serving certificate rotated');
    return true;
  }

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.check()
        // The current certificate is still valid for weeks: log and try again next interval.
        .catch((err: unknown) => this.opts.logger.error({ err }, 'webhook certificate check failed'))
        .finally(() => {
          if (!this.stopped) this.schedule();
        });
    }, this.opts.intervalMs);
    this.timer.unref();
  }
}

export function splitPem(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
}

function unexpired(pem: string, now: Date): boolean {
  try {
    return new Date(new X509Certificate(pem).validTo) > now;
  } catch {
    return false;
  }
}

function serial(): Buffer {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x01; // positive and minimal as a DER INTEGER
  return b;
}

async function readSecret(core: CoreV1Api, namespace: string, name: string): Promise<V1Secret | undefined> {
  try {
    return await core.readNamespacedSecret({ name, namespace });
  } catch (err) {
    if (err instanceof ApiException && err.code === 404) return undefined;
    throw new Error(`reading Secret ${namespace}/${name}`, { cause: err });
  }
}

function bundleFromSecret(secret: V1Secret): TlsBundle | undefined {
  const data = secret.data ?? {};
  const [cert, key, caBundle] = ['tls.crt', 'tls.key', 'ca.crt'].map((k) => Buffer.from(data[k] ?? '', 'base64').toString());
  return cert && key && caBundle ? { cert, key, caBundle } : undefined;
}

function secretData(b: TlsBundle): Record<string, string> {
  const enc = (s: string): string => Buffer.from(s).toString('base64');
  return { 'tls.crt': enc(b.cert), 'tls.key': enc(b.key), 'ca.crt': enc(b.caBundle) };
}

function newSecret(namespace: string, name: string, b: TlsBundle): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, labels: { 'app.kubernetes.io/part-of': 'octopus', 'app.kubernetes.io/component': 'webhooks' } },
    type: 'kubernetes.io/tls',
    data: secretData(b),
  };
}
