/** Running octopus-data as the import pod would, as a process, and seeding the plane's S3 server, for tests and the data benchmark. */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { readS3Access, type S3Access } from '../../../hack/cluster/s3.js';
import { nodeFlags } from '../node-flags.js';

export const programPath = fileURLToPath(new URL('../main.ts', import.meta.url));

export interface DataRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The termination message, parsed. */
  report: Record<string, unknown>;
  stdout: string;
  /** Peak resident memory of the process (VmHWM), sampled from /proc while it ran. */
  peakRssKiB: number;
  seconds: number;
}

export interface RunOptions {
  /** Sends SIGKILL the first time this returns true (checked every 50 ms). */
  killWhen?: () => boolean;
}

function vmHwmKiB(pid: number): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `octopus-data import` with `env` (plus PATH) and a termination log of its own. */
export function runImport(env: Record<string, string>, terminationLog: string, options: RunOptions = {}): Promise<DataRun> {
  return runData('import', env, terminationLog, options);
}

/** Runs `octopus-data <command>` with `env` (plus PATH) and a termination log of its own. */
export function runData(command: 'import' | 'export', env: Record<string, string>, terminationLog: string, options: RunOptions = {}): Promise<DataRun> {
  const started = Date.now();
  const child = spawn(process.execPath, [...nodeFlags, '--import', import.meta.resolve('tsx'), programPath, command], {
    env: { PATH: process.env.PATH, OCTOPUS_TERMINATION_LOG: terminationLog, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stdout += c.toString()));
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, vmHwmKiB(child.pid!) ?? 0);
    if (options.killWhen?.()) child.kill('SIGKILL');
  }, 50);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearInterval(sampler);
      let report: Record<string, unknown> = {};
      try {
        report = JSON.parse(readFileSync(terminationLog, 'utf8')) as Record<string, unknown>;
      } catch {
        // killed before it wrote one
      }
      resolve({ code, signal, report, stdout, peakRssKiB: peak, seconds: (Date.now() - started) / 1000 });
    });
  });
}

/** The contract's variables for copying `s3://bucket/prefix` from the plane's S3 server. */
export function s3ImportEnv(destination: string, bucket: string, prefix: string, access: S3Access = readS3Access()): Record<string, string> {
  return {
    OCTOPUS_IMPORT_SOURCE: 's3',
    OCTOPUS_IMPORT_DESTINATION: destination,
    OCTOPUS_IMPORT_ENDPOINT: access.endpoint,
    OCTOPUS_IMPORT_BUCKET: bucket,
    OCTOPUS_IMPORT_PREFIX: prefix,
    OCTOPUS_IMPORT_REGION: access.region,
    AWS_ACCESS_KEY_ID: access.accessKeyID,
    AWS_SECRET_ACCESS_KEY: access.secretAccessKey,
  };
}

/** Puts `count` small objects `<prefix>d<i % 100>/f<i>` (a few hundred bytes each), `concurrency` at a time. */
export async function putSmallObjects(client: S3Client, bucket: string, prefix: string, count: number, concurrency = 32): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}d${i % 100}/f${i}`, Body: `object ${i} `.repeat(1 + (i % 40)) }));
      }
    }),
  );
}

/** Every file under `root` (relative path → sha256), the importer's own files excepted. */
export async function treeDigests(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = relative(root, join(entry.parentPath, entry.name));
    if (path.startsWith('.octopus-')) continue;
    out.set(path, createHash('sha256').update(await readFile(join(root, path))).digest('hex'));
  }
  return out;
}

/** The manifest as a map, path → sha256. */
export function parseManifest(text: string): Map<string, string> {
  return new Map(
    text
      .split('\n')
      .filter(Boolean)
      .map((line) => [line.slice(66), line.slice(0, 64)] as [string, string]),
  );
}
