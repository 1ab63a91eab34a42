/**
 * `octopus-data export`: a folder (a Job's output claim) to an S3 prefix. Each file is streamed
 * through a SHA-256 into a (multipart when large) upload, 16 at a time, then checked by a HEAD
 * of its size; the manifest of what was uploaded goes last, beside the objects, so a reader that
 * finds it knows every object it lists is complete. Reported like an import, plus the URI.
 *
 * Contract: OCTOPUS_EXPORT_SOURCE (the folder), OCTOPUS_EXPORT_BUCKET, OCTOPUS_EXPORT_PREFIX,
 * OCTOPUS_EXPORT_ENDPOINT, OCTOPUS_EXPORT_REGION, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { opendir } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { PassThrough } from 'node:stream';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Logger } from 'pino';
import { DataError, s3Failure } from './errors.js';
import { formatSize, manifestDigest, manifestName, renderManifest, stateDirName, type FileRecord } from './manifest.js';
import { forEachLimited, Progress, withRetries } from './progress.js';
import { s3ClientFor } from './s3.js';

export interface ExportSpec {
  source: string;
  endpoint?: string;
  bucket: string;
  /** Ends in '/' or is empty: objects are `<prefix><path>`. */
  prefix: string;
  region: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  concurrency: number;
}

export interface ExportReport {
  uri: string;
  size: string;
  bytes: number;
  files: number;
  manifestDigest: string;
}

function invalid(variable: string, why: string): DataError {
  return new DataError('InvalidDestination', `${variable} ${why}`, true);
}

export function parseExportEnv(env: NodeJS.ProcessEnv): ExportSpec {
  const source = env.OCTOPUS_EXPORT_SOURCE ?? '';
  if (!isAbsolute(source)) throw invalid('OCTOPUS_EXPORT_SOURCE', `must be an absolute path, got ${JSON.stringify(source)}`);
  const bucket = env.OCTOPUS_EXPORT_BUCKET ?? '';
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw invalid('OCTOPUS_EXPORT_BUCKET', `is not a valid bucket name: ${JSON.stringify(bucket)}`);
  const endpoint = env.OCTOPUS_EXPORT_ENDPOINT || undefined;
  if (endpoint !== undefined && !/^https?:\/\//.test(endpoint)) throw invalid('OCTOPUS_EXPORT_ENDPOINT', `must be an http:// or https:// URL, got ${JSON.stringify(endpoint)}`);
  const rawPrefix = (env.OCTOPUS_EXPORT_PREFIX ?? '').replace(/^\/+/, '');
  const prefix = rawPrefix === '' || rawPrefix.endsWith('/') ? rawPrefix : `${rawPrefix}/`;
  const keyId = env.AWS_ACCESS_KEY_ID || undefined;
  const secret = env.AWS_SECRET_ACCESS_KEY || undefined;
  return {
    source,
    ...(endpoint && { endpoint }),
    bucket,
    prefix,
    region: env.OCTOPUS_EXPORT_REGION || env.AWS_REGION || 'us-east-1',
    ...(keyId && secret && { credentials: { accessKeyId: keyId, secretAccessKey: secret } }),
    concurrency: 16,
  };
}

/** Every regular file under `root`, relative and '/'-separated; the importer's own files are not content. */
async function* walk(root: string, dir = root): AsyncGenerator<string> {
  for await (const entry of await opendir(dir)) {
    const path = join(dir, entry.name);
    if (dir === root && (entry.name === manifestName || entry.name === stateDirName)) continue;
    if (entry.isDirectory()) yield* walk(root, path);
    else if (entry.isFile()) yield relative(root, path).split('\\').join('/');
  }
}

export async function runExport(spec: ExportSpec, log: Logger): Promise<ExportReport> {
  const client = s3ClientFor(spec, spec.concurrency);
  const progress = new Progress(log);
  const records: FileRecord[] = [];
  const uri = `s3://${spec.bucket}/${spec.prefix}`;
  progress.start();
  try {
    await forEachLimited(walk(spec.source), spec.concurrency, async (path) => {
      const key = `${spec.prefix}${path}`;
      const record = await withRetries(
        3,
        async () => {
          const sha = createHash('sha256');
          let size = 0;
          const body = new PassThrough();
          createReadStream(join(spec.source, path))
            .on('data', (chunk: string | Buffer) => {
              sha.update(chunk);
              size += (chunk as Buffer).length;
            })
            .on('error', (err) => body.destroy(err))
            .pipe(body);
          try {
            await new Upload({ client, params: { Bucket: spec.bucket, Key: key, Body: body }, partSize: 16 * 1024 * 1024, queueSize: 2 }).done();
            const head = await client.send(new HeadObjectCommand({ Bucket: spec.bucket, Key: key }));
            if (head.ContentLength !== size) throw new DataError('SizeMismatch', `s3://${spec.bucket}/${key}: stored ${head.ContentLength} bytes, sent ${size}`);
          } catch (err) {
            throw err instanceof DataError ? err : s3Failure(err, `put s3://${spec.bucket}/${key}`);
          }
          return { path, size, sha256: sha.digest('hex') };
        },
        (err, n) => log.warn({ err: String(err), key, attempt: n }, 'retrying upload'),
      );
      records.push(record);
      progress.add(record, true);
    });
    if (records.length === 0) throw new DataError('NoFiles', `${spec.source} holds no files to export`, true);
    const manifest = renderManifest(records);
    await client.send(new PutObjectCommand({ Bucket: spec.bucket, Key: `${spec.prefix}${manifestName}`, Body: manifest })).catch((err: unknown) => {
      throw s3Failure(err, `put ${uri}${manifestName}`);
    });
    progress.report('exported');
    const bytes = records.reduce((sum, r) => sum + r.size, 0);
    return { uri, size: formatSize(bytes), bytes, files: records.length, manifestDigest: manifestDigest(manifest) };
  } finally {
    progress.stop();
    client.destroy();
  }
}
