/**
 * What an import leaves beside the data, and how it picks up after a restart.
 *
 * The manifest, `.octopus-manifest.sha256` at the destination's root, lists every file as
 * `<sha256>  <path>` (the format `sha256sum -c` checks), sorted by path; its own sha256 is the
 * version's manifest digest. While an import runs, `.octopus-import/journal.jsonl` records each
 * file once it is verified and in place: a new pod reads it and fetches only what is missing or
 * has changed at the source. Both names are reserved: no source path may take them.
 */
import { createHash } from 'node:crypto';
import { DataError } from './errors.js';

export const manifestName = '.octopus-manifest.sha256';
export const stateDirName = '.octopus-import';

export interface FileRecord {
  /** Relative to the destination, '/'-separated. */
  path: string;
  size: number;
  sha256: string;
  /** The source's version tag of the object (S3 ETag), so a changed object is fetched again. */
  etag?: string;
}

/**
 * A source path made safe to join to the destination: relative, no '.' or '..' segments, no empty
 * segments, no control characters, and not one of the names the importer keeps for itself.
 */
export function safeRelativePath(raw: string): string {
  const path = raw.replace(/^\/+/, '');
  const segments = path.split('/');
  const bad =
    path === '' ||
    [...path].some((c) => c.charCodeAt(0) < 0x20 || c === '\\') ||
    segments.some((s) => s === '' || s === '.' || s === '..') ||
    segments[0] === manifestName ||
    segments[0] === stateDirName;
  if (bad) throw new DataError('InvalidPath', `source path ${JSON.stringify(raw)} cannot be written safely (empty, '.', '..' or control characters, or a name the importer reserves)`, true);
  return path;
}

/** The manifest text: one line per file, sorted by path so the digest depends on content only. */
export function renderManifest(files: Iterable<FileRecord>): string {
  return [...files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((f) => `${f.sha256}  ${f.path}\n`)
    .join('');
}

export function manifestDigest(manifest: string): string {
  return `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
}

/** A byte count as a quantity the status shows: binary units, at most two decimals (1.5Gi, 512Ki, 17). */
export function formatSize(bytes: number): string {
  const units = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : Number(value.toFixed(2))}${units[unit]}`;
}

/** The journal's entries by path; a line torn by a kill mid-write is ignored. */
export function parseJournal(text: string): Map<string, FileRecord> {
  const done = new Map<string, FileRecord>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const r = JSON.parse(line) as FileRecord;
      if (typeof r.path === 'string' && Number.isSafeInteger(r.size) && /^[a-f0-9]{64}$/.test(r.sha256)) done.set(r.path, r);
    } catch {
      // the tail of a journal whose writer was killed
    }
  }
  return done;
}

export function journalLine(record: FileRecord): string {
  return JSON.stringify(record) + '\n';
}

/** What the source says about a file before it is fetched. */
export interface SourceFile {
  path: string;
  size: number;
  etag?: string;
}

/**
 * Whether a file must be fetched again: not if an earlier attempt finished it (journalled), the
 * source still describes it the same way (size, and ETag where it has one), and the file on disk
 * still has that size.
 */
export function needsFetch(source: SourceFile, done: FileRecord | undefined, sizeOnDisk: number | undefined): boolean {
  if (!done) return true;
  if (done.size !== source.size || sizeOnDisk !== done.size) return true;
  return source.etag !== undefined && done.etag !== source.etag;
}
