import { randomBytes } from 'node:crypto';
import { request, type RequestOptions } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';

/** The kubeconfig the global setup chose (local plane or E2E_KUBECONFIG). */
export function testKubeConfig(): KubeConfig {
  const path = process.env.OCTOPUS_TEST_KUBECONFIG;
  if (!path) throw new Error('OCTOPUS_TEST_KUBECONFIG is unset: run integration tests through jest (global setup starts the plane)');
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/** True when the suite runs against the plane from hack/ (kwok nodes, our stages, our binaries). */
export function onLocalPlane(): boolean {
  return process.env.OCTOPUS_TEST_LOCAL_PLANE === '1';
}

/**
 * Polls until `check` returns a value other than undefined; the last error or value is in the
 * timeout message so a failure says what was seen.
 */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
      last = undefined;
    } catch (err) {
      last = err;
    }
    await sleep(intervalMs);
  }
  const detail = last instanceof Error ? `: ${last.message}` : '';
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${detail}`);
}

/** A fresh namespace whose default ServiceAccount exists (pods are refused before it does). */
export async function createTestNamespace(kc: KubeConfig, prefix: string): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await core.createNamespace({ body: { metadata: { name, labels: { 'octopus.openi.pcl.cn/test': 'true' } } } });
  await eventually(`ServiceAccount default in ${name}`, async () => {
    await core.readNamespacedServiceAccount({ name: 'default', namespace: name });
    return true;
  });
  return name;
}

export async function deleteNamespace(kc: KubeConfig, name: string): Promise<void> {
  try {
    await kc.makeApiClient(CoreV1Api).deleteNamespace({ name });
  } catch (err) {
    if ((err as { code?: number }).code !== 404) throw err;
  }
}

/** GET a raw API path (e.g. /openapi/v3/…) with the kubeconfig's credentials. */
export async function rawGet(kc: KubeConfig, path: string): Promise<{ status: number; body: string }> {
  const opts: RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const url = new URL(path, kc.getCurrentCluster()!.server);
  return new Promise((resolve, reject) => {
    const req = request(url, { ...opts, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The message of a failed API call, as kubectl would print it. */
export function apiErrorMessage(err: unknown): string {
  const e = err as { body?: unknown; message?: string };
  if (typeof e.body === 'string') {
    try {
      return (JSON.parse(e.body) as { message?: string }).message ?? e.body;
    } catch {
      return e.body;
    }
  }
  return (e.body as { message?: string } | undefined)?.message ?? e.message ?? String(err);
}

/** Six hex characters, to keep names of parallel runs apart. */
export function uniqueSuffix(): string {
  return randomBytes(3).toString('hex');
}
