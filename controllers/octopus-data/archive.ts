/**
 * Unpacking archives into the destination, entry by entry, through the same verified write as
 * any other file. tar (and tar.gz) is read as a stream with tar-stream, so nothing but the entry
 * being written is ever held; zip keeps its index at the end, so it is read from a file with
 * yauzl, which checks each entry's size against the index. Links and devices are skipped:
 * a link could point outside the claim.
 */
import { finished, pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { extract as tarExtract } from 'tar-stream';
import yauzl from 'yauzl';
import type { Destination } from './destination.js';
import { DataError } from './errors.js';
import { needsFetch, safeRelativePath, type FileRecord } from './manifest.js';
import type { Progress } from './progress.js';

/** An entry's name as a destination path: `./` prefixes dropped, then checked like any source path. */
export function entryPath(name: string): string {
  return safeRelativePath(name.replace(/^(\.\/)+/, ''));
}

/** Writes one file of an archive unless an earlier attempt finished it; the entry is consumed either way. */
async function writeEntry(destination: Destination, path: string, size: number, body: Readable, progress: Progress, records: FileRecord[]): Promise<void> {
  const done = destination.done.get(path);
  if (!needsFetch({ path, size }, done, done && (await destination.sizeOnDisk(path)))) {
    body.resume();
    await finished(body);
    records.push(done!);
    progress.add(done!, false);
    return;
  }
  const record = await destination.write(path, body, { size });
  records.push(record);
  progress.add(record, true);
}

/** Unpacks a tar stream (gzip-compressed when `gzip`) into the destination. */
export async function unpackTar(input: Readable, gzip: boolean, destination: Destination, progress: Progress, log: Logger): Promise<FileRecord[]> {
  const extract = tarExtract();
  const records: FileRecord[] = [];
  const feeding = gzip ? pipeline(input, createGunzip(), extract) : pipeline(input, extract);
  // A failed feed destroys `extract`, which ends the loop below with the feed's error.
  feeding.catch(() => undefined);
  try {
    for await (const entry of extract) {
      const { name, type, size } = entry.header;
      if (type === 'file' || type === 'contiguous-file') {
        await writeEntry(destination, entryPath(name), size ?? 0, entry as unknown as Readable, progress, records);
      } else {
        if (type !== 'directory') log.warn({ name, type }, 'skipped an archive entry that is not a file');
        entry.resume();
      }
    }
    await feeding;
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError('InvalidArchive', `cannot read the ${gzip ? 'tar.gz' : 'tar'} archive: ${(err as Error).message}`, true, { cause: err });
  }
  return records;
}

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => yauzl.open(file, { lazyEntries: true, validateEntrySizes: true, strictFileNames: true }, (err, zip) => (err ? reject(err) : resolve(zip))));
}

/** Unpacks the zip archive at `file` into the destination. */
export async function unpackZip(file: string, destination: Destination, progress: Progress, log: Logger): Promise<FileRecord[]> {
  const records: FileRecord[] = [];
  let zip: yauzl.ZipFile;
  try {
    zip = await openZip(file);
  } catch (err) {
    throw new DataError('InvalidArchive', `cannot read the zip archive: ${(err as Error).message}`, true, { cause: err });
  }
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('error', reject);
      zip.on('end', resolve);
      zip.on('entry', (entry: yauzl.Entry) => {
        const next = async () => {
          if (entry.fileName.endsWith('/')) return;
          // Unix file type bits in the high half of the external attributes: 0o120000 is a symbolic link.
          const mode = (entry.externalFileAttributes >>> 16) & 0o170000;
          if (mode !== 0 && mode !== 0o100000) {
            log.warn({ name: entry.fileName }, 'skipped an archive entry that is not a file');
            return;
          }
          const body = await new Promise<Readable>((res, rej) => zip.openReadStream(entry, (err, stream) => (err ? rej(err) : res(stream))));
          await writeEntry(destination, entryPath(entry.fileName), entry.uncompressedSize, body, progress, records);
        };
        next().then(
          () => zip.readEntry(),
          (err: unknown) => reject(err),
        );
      });
      zip.readEntry();
    });
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError('InvalidArchive', `cannot read the zip archive: ${(err as Error).message}`, true, { cause: err });
  } finally {
    zip.close();
  }
  return records;
}
