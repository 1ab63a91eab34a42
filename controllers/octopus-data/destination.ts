/**
 * The folder an import writes into. A file is streamed to a partial file under the state folder
 * while its sha256 (and MD5, when the source's ETag is one) is computed, checked against what the
 * source promised, renamed into place, and only then journalled: a kill at any instant leaves
 * either a journalled, verified file or one the next attempt fetches again.
 */
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DataError } from './errors.js';
import { journalLine, manifestDigest, manifestName, parseJournal, renderManifest, stateDirName, type FileRecord } from './manifest.js';

/** What the source promised about a file. */
export interface Expected {
  size?: number;
  /** A single-part S3 ETag is the MD5 of the content. */
  md5?: string;
  sha256?: string;
  /** Kept in the journal, so a changed object is fetched again after a restart. */
  etag?: string;
}

/** An ETag that is a plain MD5 (single-part upload, no server-side encryption). */
export function md5OfEtag(etag: string | undefined): string | undefined {
  const bare = etag?.replace(/^W\//, '').replace(/"/g, '');
  return bare && /^[a-f0-9]{32}$/.test(bare) ? bare : undefined;
}

export class Destination {
  private journal?: FileHandle;
  private partials = 0;

  private constructor(
    readonly root: string,
    /** Files earlier attempts finished, by path. */
    readonly done: Map<string, FileRecord>,
  ) {}

  static async open(root: string): Promise<Destination> {
    const state = join(root, stateDirName);
    await mkdir(join(state, 'partial'), { recursive: true });
    const text = await readFile(join(state, 'journal.jsonl'), 'utf8').catch(() => '');
    // Partial files of a killed attempt are never resumed halfway: a file is fetched whole or not at all.
    await rm(join(state, 'partial'), { recursive: true, force: true });
    await mkdir(join(state, 'partial'), { recursive: true });
    const destination = new Destination(root, parseJournal(text));
    destination.journal = await open(join(state, 'journal.jsonl'), 'a');
    return destination;
  }

  get stateDir(): string {
    return join(this.root, stateDirName);
  }

  async sizeOnDisk(path: string): Promise<number | undefined> {
    return stat(join(this.root, path)).then(
      (s) => (s.isFile() ? s.size : undefined),
      () => undefined,
    );
  }

  /** Streams `body` to `path`, verified against `expected`; returns the journalled record. */
  async write(path: string, body: Readable, expected: Expected): Promise<FileRecord> {
    const partial = join(this.stateDir, 'partial', String(this.partials++));
    const sha = createHash('sha256');
    const md5: Hash | undefined = expected.md5 ? createHash('md5') : undefined;
    let size = 0;
    try {
      await pipeline(
        body,
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            sha.update(chunk);
            md5?.update(chunk);
            size += chunk.length;
            yield chunk;
          }
        },
        createWriteStream(partial),
      );
      const sha256 = sha.digest('hex');
      if (expected.size !== undefined && size !== expected.size) {
        throw new DataError('SizeMismatch', `${path}: received ${size} bytes, the source announced ${expected.size}`);
      }
      const md5Hex = md5?.digest('hex');
      if (md5Hex !== undefined && md5Hex !== expected.md5) {
        throw new DataError('ChecksumMismatch', `${path}: the content's MD5 ${md5Hex} differs from the source's ETag ${expected.md5}`, true);
      }
      if (expected.sha256 !== undefined && sha256 !== expected.sha256) {
        throw new DataError('ChecksumMismatch', `${path}: the content's SHA-256 ${sha256} differs from the expected ${expected.sha256}`, true);
      }
      const target = join(this.root, path);
      await mkdir(dirname(target), { recursive: true });
      await rename(partial, target);
      const record: FileRecord = { path, size, sha256, ...(expected.etag !== undefined && { etag: expected.etag }) };
      await this.journal!.appendFile(journalLine(record));
      this.done.set(path, record);
      return record;
    } catch (err) {
      await rm(partial, { force: true });
      throw err;
    }
  }

  /** Removes files an earlier attempt wrote that the source no longer has. */
  async removeStale(keep: ReadonlySet<string>): Promise<number> {
    let removed = 0;
    for (const path of this.done.keys()) {
      if (keep.has(path)) continue;
      await rm(join(this.root, path), { force: true });
      this.done.delete(path);
      removed++;
    }
    return removed;
  }

  /** Writes the manifest of `files`, drops the state folder, and returns the manifest's digest. */
  async finish(files: Iterable<FileRecord>): Promise<string> {
    const manifest = renderManifest(files);
    await writeFile(join(this.root, `${manifestName}.tmp`), manifest);
    await rename(join(this.root, `${manifestName}.tmp`), join(this.root, manifestName));
    await this.close();
    await rm(this.stateDir, { recursive: true, force: true });
    return manifestDigest(manifest);
  }

  async close(): Promise<void> {
    await this.journal?.close();
    this.journal = undefined;
  }
}
