/**
 * What the examples' S3 sources need on the local plane: their Secret (the plane's S3 keys, as a
 * user would create from their own) and, when the bucket's prefix is empty, a small synthetic
 * sample in the plane's S3 server for octopus-data to import. A source naming its own endpoint is
 * left alone: it is not the plane's.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { KubeManifest } from '../e2e/harness/examples.js';
import { ensureBucket, readS3Access, s3AccessFile, s3Client, type S3Access } from './cluster/s3.js';

interface S3Ref {
  bucket: string;
  prefix: string;
  secret?: string;
}

/** The s3 sources of an asset manifest that use the controller's default endpoint (the plane's). */
export function planeS3Sources(doc: KubeManifest): S3Ref[] {
  if (!['Dataset', 'Algorithm', 'Model'].includes(doc.kind)) return [];
  const versions = ((doc as { spec?: { versions?: { source?: { s3?: { endpoint?: string; bucket: string; prefix?: string; secretRef?: { name: string } } } }[] } }).spec?.versions ?? []);
  return versions.flatMap((v) => {
    const s3 = v.source?.s3;
    if (!s3 || s3.endpoint) return [];
    return [{ bucket: s3.bucket, prefix: s3.prefix ?? '', ...(s3.secretRef && { secret: s3.secretRef.name }) }];
  });
}

/** The sample: a README and 3 classes of 20 files, a few KiB each, the same bytes on every plane. */
export function sampleObjects(prefix: string): { key: string; body: Buffer }[] {
  const readme = Buffer.from('A small synthetic sample the local platform puts in its S3 server in place of the real data set.\n');
  const files = ['class-a', 'class-b', 'class-c'].flatMap((cls) =>
    Array.from({ length: 20 }, (_, i) => {
      const key = `${prefix}train/${cls}/${String(i).padStart(4, '0')}.bin`;
      const block = createHash('sha256').update(key).digest();
      return { key, body: Buffer.concat(Array.from({ length: 64 + i * 8 }, () => block)) };
    }),
  );
  return [{ key: `${prefix}README.txt`, body: readme }, ...files];
}

async function ensureSecret(kc: KubeConfig, namespace: string, name: string, access: S3Access): Promise<void> {
  const body = { metadata: { name, namespace }, stringData: { accessKeyID: access.accessKeyID, secretAccessKey: access.secretAccessKey } };
  await kc
    .makeApiClient(CoreV1Api)
    .createNamespacedSecret({ namespace, body })
    .catch((err: { code?: number }) => {
      if (err.code !== 409) throw err;
    });
}

/** Seeds and grants what `doc`'s plane S3 sources read; a no-op for any other document, or without a local plane (E2E_KUBECONFIG). */
export async function prepareExampleData(kc: KubeConfig, doc: KubeManifest): Promise<void> {
  const sources = planeS3Sources(doc);
  if (sources.length === 0 || !existsSync(s3AccessFile())) return;
  const access = readS3Access();
  const client = s3Client(access);
  try {
    for (const source of sources) {
      await ensureBucket(client, source.bucket);
      const existing = await client.send(new ListObjectsV2Command({ Bucket: source.bucket, Prefix: source.prefix, MaxKeys: 1 }));
      if (!existing.KeyCount) {
        for (const o of sampleObjects(source.prefix)) await client.send(new PutObjectCommand({ Bucket: source.bucket, Key: o.key, Body: o.body }));
      }
      if (source.secret && doc.metadata.namespace) await ensureSecret(kc, doc.metadata.namespace, source.secret, access);
    }
  } finally {
    client.destroy();
  }
}
