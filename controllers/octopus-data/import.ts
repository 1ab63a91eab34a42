/**
 * One import, start to end: open the destination (reading what earlier attempts finished), copy
 * the source, write the manifest, and say what was copied in the report the controller reads.
 */
import type { Logger } from 'pino';
import type { ImportSpec } from './contract.js';
import { Destination } from './destination.js';
import { importGit } from './git.js';
import { importHttp } from './http.js';
import { formatSize, type FileRecord } from './manifest.js';
import { Progress } from './progress.js';
import { importS3 } from './s3.js';

/**
 * The success report, `/dev/termination-log`'s content: `size` and `files` as the controller has
 * always read them, plus the exact byte count, the manifest's digest and, for git, the commit.
 */
export interface ImportReport {
  size: string;
  bytes: number;
  files: number;
  manifestDigest: string;
  /** Files an earlier attempt had already copied. */
  resumed: number;
  commit?: string;
}

export async function runImport(spec: ImportSpec, log: Logger): Promise<ImportReport> {
  const destination = await Destination.open(spec.destination);
  const progress = new Progress(log);
  progress.start();
  try {
    let records: FileRecord[];
    let commit: string | undefined;
    if (spec.source === 's3') records = await importS3(spec, destination, progress, log);
    else if (spec.source === 'http') records = await importHttp(spec, destination, progress, log);
    else ({ records, commit } = await importGit(spec, destination, progress, log));
    const manifestDigest = await destination.finish(records);
    progress.report('imported');
    const bytes = records.reduce((sum, r) => sum + r.size, 0);
    return { size: formatSize(bytes), bytes, files: records.length, manifestDigest, resumed: progress.skipped, ...(commit && { commit }) };
  } finally {
    progress.stop();
    await destination.close();
  }
}
