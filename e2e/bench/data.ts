/**
 * octopus-data beside a reference copier, in one run, on the same data in the local plane's S3
 * server (versitygw): one large object (1 GiB by default, uploaded multipart as any large upload
 * is) and 10,000 small objects, each copied into a fresh folder on the same disk. The reference is
 * the AWS CLI (`pip install awscli`), given the same limit: 16 requests at once
 * (s3.max_concurrent_requests, OCTOPUS_IMPORT_CONCURRENCY). octopus-data runs compiled, as in the
 * image, with its node flags. Copiers alternate which goes first in each run. Peak RSS is the
 * copier's process tree, sampled from /proc every 50 ms by this process. DESIGN's target:
 * ≥ 80% of the reference's throughput, peak RSS ≤ 150 MiB.
 *
 *   npm run bench:data [-- --runs 3 --big-mib 1024 --small 10000 --concurrency 16]
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { nodeFlags } from '../../controllers/octopus-data/node-flags.js';
import { putSmallObjects, s3ImportEnv } from '../../controllers/octopus-data/testing/run.js';
import { defaultNodeCounts } from '../../hack/cluster/nodes.js';
import { repoRoot, stateDir } from '../../hack/cluster/paths.js';
import { up } from '../../hack/cluster/plane.js';
import { ensureBucket, readS3Access, s3Client, type S3Access } from '../../hack/cluster/s3.js';
import { median, resultsDir, round, sourceState, writeJson } from './common.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'big-mib': { type: 'string', default: '1024' },
    small: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '16' },
  },
});
const runs = Number(values.runs);
const bigBytes = Number(values['big-mib']) * 1024 * 1024;
const smallCount = Number(values.small);
const concurrency = Number(values.concurrency);
for (const [flag, n] of Object.entries({ runs, 'big-mib': bigBytes, small: smallCount, concurrency })) {
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${flag} must be a positive integer`);
}

const bucket = 'octopus-bench';
type Copier = 'octopus-data' | 'aws-cli';
type Dataset = 'big' | 'small';

interface Sample {
  run: number;
  order: number;
  seconds: number;
  bytes: number;
  files: number;
  mbPerSecond: number;
  filesPerSecond: number;
  peakRssMiB: number;
  load1: number;
}

/** Resident memory of `pid` and every process under it, from /proc. */
function treeRssKiB(root: number): number {
  const children = new Map<number, number[]>();
  const rss = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const ppid = Number(/PPid:\s+(\d+)/.exec(status)?.[1]);
      rss.set(Number(entry), Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0));
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process ended while we looked
    }
  }
  let total = 0;
  const queue = [root];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    total += rss.get(pid) ?? 0;
    queue.push(...(children.get(pid) ?? []));
  }
  return total;
}

function tree(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || e.name.startsWith('.octopus-')) continue;
    files++;
    bytes += statSync(join(e.parentPath, e.name)).size;
  }
  return { files, bytes };
}

function timed(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ seconds: number; peakKiB: number; code: number | null; output: string }> {
  const started = process.hrtime.bigint();
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (c: Buffer) => (output = (output + c.toString()).slice(-4000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, treeRssKiB(child.pid!))), 50);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(sampler);
      resolve({ seconds: Number(process.hrtime.bigint() - started) / 1e9, peakKiB: peak, code, output });
    });
  });
}

async function seed(client: S3Client): Promise<void> {
  await ensureBucket(client, bucket);
  const big = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'big/blob.bin' })).catch(() => undefined);
  if (big?.ContentLength !== bigBytes) {
    console.log(`seeding big/blob.bin (${bigBytes} bytes, multipart)`);
    let sent = 0;
    const body = new Readable({
      read() {
        if (sent >= bigBytes) return this.push(null);
        const chunk = randomBytes(Math.min(1 << 20, bigBytes - sent));
        sent += chunk.length;
        this.push(chunk);
      },
    });
    await new Upload({ client, params: { Bucket: bucket, Key: 'big/blob.bin', Body: body }, partSize: 16 * 1024 * 1024, queueSize: 4 }).done();
  }
  const last = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'small/d99/', MaxKeys: 1000 }));
  if (last.KeyCount !== Math.floor(smallCount / 100)) {
    console.log(`seeding small/ (${smallCount} objects)`);
    await putSmallObjects(client, bucket, 'small/', smallCount);
  }
}

/** octopus-data compiled as the image has it (tsc into a folder of the state directory). */
function compile(): string {
  const out = join(repoRoot, '.octopus', 'bench-dist');
  console.log('compiling octopus-data');
  const tsc = spawnSync(join(repoRoot, 'node_modules', '.bin', 'tsc'), ['-p', join(repoRoot, 'tsconfig.build.json'), '--outDir', out], { cwd: repoRoot, encoding: 'utf8' });
  if (tsc.status !== 0) throw new Error(`tsc failed:\n${tsc.stdout}${tsc.stderr}`);
  return join(out, 'controllers', 'octopus-data', 'main.js');
}

async function copy(copier: Copier, dataset: Dataset, access: S3Access, program: string, awsConfig: string, dest: string): Promise<{ seconds: number; peakKiB: number }> {
  const prefix = `${dataset}/`;
  const run =
    copier === 'octopus-data'
      ? await timed(process.execPath, [...nodeFlags, program, 'import'], {
          PATH: process.env.PATH,
          ...s3ImportEnv(dest, bucket, prefix, access),
          OCTOPUS_IMPORT_CONCURRENCY: String(concurrency),
          OCTOPUS_TERMINATION_LOG: `${dest}.termination`,
          OCTOPUS_LOG_LEVEL: 'warn',
        })
      : await timed('aws', ['s3', 'cp', `s3://${bucket}/${prefix}`, dest, '--recursive', '--endpoint-url', access.endpoint, '--only-show-errors', '--no-progress'], {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          AWS_CONFIG_FILE: awsConfig,
          AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
          AWS_ACCESS_KEY_ID: access.accessKeyID,
          AWS_SECRET_ACCESS_KEY: access.secretAccessKey,
          AWS_DEFAULT_REGION: access.region,
        });
  if (run.code !== 0) throw new Error(`${copier} failed on ${dataset} (exit ${run.code}):\n${run.output}`);
  return run;
}

async function main(): Promise<void> {
  const aws = spawnSync('aws', ['--version'], { encoding: 'utf8' });
  if (aws.status !== 0) throw new Error('the reference copier is the AWS CLI: pip install awscli');
  const awsVersion = (aws.stdout || aws.stderr).trim();
  await up({ nodes: defaultNodeCounts, log: () => {} });
  const access = readS3Access();
  const client = s3Client(access);
  await seed(client);
  client.destroy();
  const program = compile();
  const work = join(stateDir(), 'bench-data');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const awsConfig = join(work, 'aws-config');
  writeFileSync(awsConfig, `[default]\ns3 =\n    max_concurrent_requests = ${concurrency}\n`);
  const want: Record<Dataset, { files: number; bytes: number }> = { big: { files: 1, bytes: bigBytes }, small: { files: smallCount, bytes: 0 } };
  const samples: Record<Dataset, Record<Copier, Sample[]>> = { big: { 'octopus-data': [], 'aws-cli': [] }, small: { 'octopus-data': [], 'aws-cli': [] } };
  const loadBefore = loadavg();
  for (let r = 1; r <= runs; r++) {
    for (const dataset of ['big', 'small'] as const) {
      const order: Copier[] = r % 2 === 1 ? ['octopus-data', 'aws-cli'] : ['aws-cli', 'octopus-data'];
      for (const [i, copier] of order.entries()) {
        const dest = join(work, `${copier}-${dataset}-${r}`);
        mkdirSync(dest);
        const load1 = loadavg()[0]!;
        const { seconds, peakKiB } = await copy(copier, dataset, access, program, awsConfig, dest);
        const got = tree(dest);
        if (got.files !== want[dataset].files || (dataset === 'big' && got.bytes !== bigBytes)) throw new Error(`${copier} copied ${got.files} files, ${got.bytes} bytes of ${dataset}; expected ${want[dataset].files}`);
        if (dataset === 'small') want.small.bytes = got.bytes;
        rmSync(dest, { recursive: true, force: true });
        const sample: Sample = { run: r, order: i + 1, seconds: round(seconds, 3), bytes: got.bytes, files: got.files, mbPerSecond: round(got.bytes / 1e6 / seconds, 3), filesPerSecond: round(got.files / seconds), peakRssMiB: round(peakKiB / 1024, 1), load1: round(load1) };
        samples[dataset][copier].push(sample);
        console.log(`run ${r} ${dataset.padEnd(5)} ${copier.padEnd(12)} ${sample.seconds.toFixed(2)} s  ${sample.mbPerSecond} MB/s  ${sample.filesPerSecond} files/s  peak RSS ${sample.peakRssMiB} MiB  (load ${sample.load1})`);
      }
    }
  }
  const summary = (['big', 'small'] as const).map((dataset) => {
    const of = (c: Copier, k: 'mbPerSecond' | 'filesPerSecond' | 'peakRssMiB') => samples[dataset][c].map((s) => s[k]);
    // Throughput is bytes for the large object and files for the small ones (whose bytes are few).
    const measure = dataset === 'big' ? 'mbPerSecond' : 'filesPerSecond';
    const octo = median(of('octopus-data', measure))!;
    const ref = median(of('aws-cli', measure))!;
    return {
      dataset,
      'octopus-data MB/s (median)': octo,
      'aws-cli MB/s (median)': ref,
      'octopus-data files/s (median)': median(of('octopus-data', 'filesPerSecond')),
      'aws-cli files/s (median)': median(of('aws-cli', 'filesPerSecond')),
      [`throughput ratio (${dataset === 'big' ? 'MB/s' : 'files/s'})`]: round(octo / ref, 3),
      'octopus-data peak RSS MiB (max)': Math.max(...of('octopus-data', 'peakRssMiB')),
      'aws-cli peak RSS MiB (max)': Math.max(...of('aws-cli', 'peakRssMiB')),
      'ratio ≥ 0.8': octo / ref >= 0.8,
      'RSS ≤ 150 MiB': Math.max(...of('octopus-data', 'peakRssMiB')) <= 150,
    };
  });
  console.table(summary);
  const date = new Date().toISOString();
  writeJson(join(resultsDir, `data-${date.replace(/[:.]/g, '-')}.json`), {
    date,
    source: sourceState(),
    reference: awsVersion,
    settings: { runs, bigBytes, smallCount, concurrency, server: 'versitygw posix on loopback', nodeFlags },
    loadBefore: loadBefore.map((l) => round(l)),
    loadAfter: loadavg().map((l) => round(l)),
    summary,
    samples,
  });
  rmSync(work, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
