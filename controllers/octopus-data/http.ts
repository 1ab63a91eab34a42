/**
 * Copying one URL: a file kept as it is, or an archive unpacked (tar and tar.gz as they stream
 * in; zip once downloaded, since its index is at the end). The announced length and, when the
 * version names one, the SHA-256 of the download are checked.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, stat, writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Logger } from 'pino';
import { unpackTar, unpackZip } from './archive.js';
import { archiveKind, type HttpImport } from './contract.js';
import type { Destination } from './destination.js';
import { DataError, httpFailure, redactUrl } from './errors.js';
import { needsFetch, safeRelativePath, type FileRecord } from './manifest.js';
import type { Progress } from './progress.js';

/** The file name a download is kept under: the URL's last path segment. */
export function downloadName(url: string): string {
  const segment = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
  return segment === '' ? 'download' : safeRelativePath(segment);
}

interface Download {
  body: Readable;
  size?: number;
  etag?: string;
}

/** GET `url`, following redirects; user information in the URL becomes a Basic Authorization header. */
async function get(url: string): Promise<Download> {
  const u = new URL(url);
  const headers: Record<string, string> = {};
  if (u.username || u.password) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
    u.username = '';
    u.password = '';
  }
  let response: Response;
  try {
    response = await fetch(u, { headers, redirect: 'follow' });
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new DataError('EndpointUnreachable', `GET ${redactUrl(url)}: ${code}`, false, { cause: err });
  }
  if (response.status !== 200 || !response.body) {
    await response.body?.cancel();
    throw httpFailure(response.status, url);
  }
  const length = response.headers.get('content-length');
  const etag = response.headers.get('etag') ?? undefined;
  return { body: Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), ...(length !== null && { size: Number(length) }), ...(etag && { etag }) };
}

/** Hashes and counts what flows through `body` without changing it. */
function tap(body: Readable): { body: Readable; check: (expected: { size?: number; sha256?: string }, url: string) => void } {
  const sha = createHash('sha256');
  let bytes = 0;
  body.on('data', (chunk: Buffer) => {
    sha.update(chunk);
    bytes += chunk.length;
  });
  return {
    body,
    check(expected, url) {
      if (expected.size !== undefined && bytes !== expected.size) throw new DataError('SizeMismatch', `${redactUrl(url)}: received ${bytes} bytes, the server announced ${expected.size}`);
      const digest = sha.digest('hex');
      if (expected.sha256 !== undefined && digest !== expected.sha256) {
        throw new DataError('ChecksumMismatch', `${redactUrl(url)}: the download's SHA-256 ${digest} differs from the expected ${expected.sha256}`, true);
      }
    },
  };
}

export async function importHttp(spec: HttpImport, destination: Destination, progress: Progress, log: Logger): Promise<FileRecord[]> {
  return copyUrl(spec, destination, progress, log).catch((err: unknown) => {
    // A connection closed mid-body surfaces as the stream's own error; another attempt may get through.
    if (err instanceof DataError) throw err;
    throw new DataError('TransferInterrupted', `GET ${redactUrl(spec.url)}: ${(err as Error).message}`, false, { cause: err });
  });
}

async function copyUrl(spec: HttpImport, destination: Destination, progress: Progress, log: Logger): Promise<FileRecord[]> {
  const kind = spec.unpack ? archiveKind(spec.url) : undefined;
  if (kind === undefined) {
    const path = downloadName(spec.url);
    const done = destination.done.get(path);
    if (done && !needsFetch(done, done, await destination.sizeOnDisk(path)) && (spec.sha256 === undefined || done.sha256 === spec.sha256)) {
      progress.add(done, false);
      return [done];
    }
    const download = await get(spec.url);
    const record = await destination.write(path, download.body, { ...(download.size !== undefined && { size: download.size }), ...(spec.sha256 && { sha256: spec.sha256 }) });
    progress.add(record, true);
    return [record];
  }
  if (kind === 'zip') {
    const file = join(destination.stateDir, 'download.zip');
    // A zip downloaded and checked by an earlier attempt is not fetched again.
    const verified = await readFile(`${file}.verified`, 'utf8').catch(() => undefined);
    const size = await stat(file).then((s) => s.size, () => undefined);
    if (verified === undefined || Number(verified) !== size) {
      const download = await get(spec.url);
      const tapped = tap(download.body);
      await pipeline(tapped.body, createWriteStream(`${file}.partial`));
      tapped.check({ ...(download.size !== undefined && { size: download.size }), ...(spec.sha256 && { sha256: spec.sha256 }) }, spec.url);
      await rename(`${file}.partial`, file);
      await writeFile(`${file}.verified`, String((await stat(file)).size));
    }
    return unpackZip(file, destination, progress, log);
  }
  const download = await get(spec.url);
  const tapped = tap(download.body);
  const records = await unpackTar(tapped.body, kind === 'tar.gz', destination, progress, log);
  tapped.check({ ...(download.size !== undefined && { size: download.size }), ...(spec.sha256 && { sha256: spec.sha256 }) }, spec.url);
  return records;
}
