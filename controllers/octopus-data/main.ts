/**
 * octopus-data: the import (and export) Jobs' program, in the operator image.
 *
 *   octopus-data import    # source from OCTOPUS_IMPORT_* (controllers/assets/README.md), into OCTOPUS_IMPORT_DESTINATION
 *   octopus-data export    # OCTOPUS_EXPORT_SOURCE to s3://OCTOPUS_EXPORT_BUCKET/OCTOPUS_EXPORT_PREFIX (export.ts)
 *
 * The outcome is the container's termination message (the path is OCTOPUS_TERMINATION_LOG, else
 * /dev/termination-log): the JSON report on success, `{"reason","message"}` on failure. Exit 0 on
 * success, 3 when retrying cannot help (the Job's pod failure policy stops there), 1 otherwise.
 * Logs are JSON lines on stdout, with progress every 5 s.
 */
import { writeFileSync } from 'node:fs';
import { pino } from 'pino';
import { parseImportEnv } from './contract.js';
import { failureReport, permanentExitCode } from './errors.js';
import { parseExportEnv, runExport } from './export.js';
import { runImport } from './import.js';

const usage = 'usage: octopus-data import|export   (what to copy is read from OCTOPUS_IMPORT_* or OCTOPUS_EXPORT_* variables)';

function writeTerminationMessage(text: string): void {
  const path = process.env.OCTOPUS_TERMINATION_LOG ?? '/dev/termination-log';
  try {
    writeFileSync(path, text);
  } catch {
    // Outside a pod there may be no termination log: stdout has the same line.
  }
}

async function main(argv: string[]): Promise<number> {
  const log = pino({ name: 'octopus-data', level: process.env.OCTOPUS_LOG_LEVEL ?? 'info' });
  if (argv[0] !== 'import' && argv[0] !== 'export') {
    console.error(usage);
    return 2;
  }
  try {
    const report = argv[0] === 'import' ? await runImport(parseImportEnv(process.env), log) : await runExport(parseExportEnv(process.env), log);
    const text = JSON.stringify(report);
    writeTerminationMessage(text);
    log.info({ report }, 'done');
    return 0;
  } catch (err) {
    const { report, permanent } = failureReport(err);
    writeTerminationMessage(report);
    log.error({ report: JSON.parse(report) as unknown, err: err instanceof Error ? (err.stack ?? err.message) : String(err) }, 'failed');
    return permanent ? permanentExitCode : 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
