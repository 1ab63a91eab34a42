/**
 * Copying an S3 prefix. Listing pages are consumed as workers free up, each object is streamed
 * to disk (GetObject with If-Match on the listed ETag, so an object replaced mid-import is never
 * half old, half new), checked against the listed size and, for single-part objects, the ETag's
 * MD5; multipart objects are checked by the SDK against their full-object checksum where the
 * server stored one.
 */
import { GetObjectCommand, ListObjectsV2Command, S3Client, type _Object } from '@aws-sdk/client-s3';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { S3Import } from './contract.js';
import { md5OfEtag, type Destination } from './destination.js';
import { DataError, s3Failure } from './errors.js';
import { manifestName, needsFetch, safeRelativePath, type FileRecord } from './manifest.js';
import { forEachLimited, withRetries, type Progress } from './progress.js';

export function s3ClientFor(spec: Pick<S3Import, 'endpoint' | 'region' | 'credentials'>, sockets: number): S3Client {
  const agent = { keepAlive: true, maxSockets: sockets };
  return new S3Client({
    region: spec.region,
    ...(spec.endpoint && { endpoint: spec.endpoint, forcePathStyle: true }),
    ...(spec.credentials && { credentials: spec.credentials }),
    // The ETag's MD5 is checked here; the SDK computes CRCs only where that cannot be done (see below).
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    requestHandler: { httpAgent: new HttpAgent(agent), httpsAgent: new HttpsAgent(agent), connectionTimeout: 10_000 },
  });
}

/** Where a key lands: the key without the prefix's folder part, so `a/b/` and `a/b` both give `c.txt` for `a/b/c.txt`. */
export function relativeKey(key: string, prefix: string): string {
  const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/') + 1) : '';
  return key.slice(folder.length);
}

async function* listObjects(client: S3Client, spec: S3Import): AsyncGenerator<_Object> {
  let token: string | undefined;
  do {
    const page = await client
      .send(new ListObjectsV2Command({ Bucket: spec.bucket, Prefix: spec.prefix || undefined, ContinuationToken: token }))
      .catch((err: unknown) => {
        throw s3Failure(err, `list s3://${spec.bucket}/${spec.prefix}`);
      });
    for (const object of page.Contents ?? []) yield object;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

export async function importS3(spec: S3Import, destination: Destination, progress: Progress, log: Logger): Promise<FileRecord[]> {
  const client = s3ClientFor(spec, spec.concurrency);
  const records: FileRecord[] = [];
  const listed = new Set<string>();
  /** The sha256 of each file, from a manifest an export left at the source ('.' lists before letters and digits). */
  const signed = new Map<string, string>();
  try {
    const files = async function* () {
      for await (const object of listObjects(client, spec)) {
        const key = object.Key!;
        // Zero-byte keys ending in '/' are folder markers some tools write, not files.
        if (key.endsWith('/') && (object.Size ?? 0) === 0) continue;
        if (relativeKey(key, spec.prefix) === manifestName) {
          const manifest = await client.send(new GetObjectCommand({ Bucket: spec.bucket, Key: key })).then((r) => r.Body!.transformToString());
          for (const line of manifest.split('\n')) if (/^[a-f0-9]{64} {2}/.test(line)) signed.set(line.slice(66), line.slice(0, 64));
          continue;
        }
        const path = safeRelativePath(relativeKey(key, spec.prefix));
        if (listed.has(path)) throw new DataError('InvalidPath', `s3://${spec.bucket}/${key} maps to ${path}, which another key also maps to`, true);
        listed.add(path);
        yield { key, path, size: object.Size ?? 0, etag: object.ETag?.replace(/"/g, '') };
      }
    };
    await forEachLimited(files(), spec.concurrency, async (file) => {
      const done = destination.done.get(file.path);
      if (!needsFetch(file, done, done && (await destination.sizeOnDisk(file.path)))) {
        records.push(done!);
        progress.add(done!, false);
        return;
      }
      const where = `s3://${spec.bucket}/${file.key}`;
      const record = await withRetries(
        3,
        async () => {
          const md5 = md5OfEtag(file.etag);
          const response = await client
            .send(new GetObjectCommand({ Bucket: spec.bucket, Key: file.key, ...(file.etag && { IfMatch: `"${file.etag}"` }), ...(!md5 && { ChecksumMode: 'ENABLED' }) }))
            .catch((err: unknown) => {
              throw s3Failure(err, `get ${where}`);
            });
          const sha256 = signed.get(file.path);
          return destination.write(file.path, response.Body as Readable, { size: file.size, ...(md5 && { md5 }), ...(sha256 && { sha256 }), ...(file.etag && { etag: file.etag }) }).catch((err: unknown) => {
            throw err instanceof DataError ? err : s3Failure(err, `read ${where}`);
          });
        },
        (err, n) => log.warn({ err: String(err), key: file.key, attempt: n }, 'retrying object'),
      );
      records.push(record);
      progress.add(record, true);
    });
  } finally {
    client.destroy();
  }
  if (listed.size === 0) throw new DataError('NoObjects', `no objects under s3://${spec.bucket}/${spec.prefix}`, true);
  const removed = await destination.removeStale(listed);
  if (removed > 0) log.info({ removed }, 'removed files an earlier attempt fetched that the source no longer has');
  return records;
}
