/**
 * octopus-data as the import pod runs it — a process with the contract's environment — against
 * the plane's real S3 server (versitygw) and a loopback HTTP and git server, into a temporary
 * folder. The 1 GiB copy is in `npm run bench:data`; here a 256 MiB object shows the memory
 * stays flat (far below the object's size) within the suite's time.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { startFixtureServer, type FixtureServer } from '../../hack/cluster/fixture-server.js';
import { ensureBucket, readS3Access, s3Client, s3DataDir } from '../../hack/cluster/s3.js';
import { manifestDigest, manifestName } from './manifest.js';
import { parseManifest, putSmallObjects, runData, runImport, s3ImportEnv, treeDigests } from './testing/run.js';

const bucket = `it-${Date.now().toString(36)}`;
let work: string;
let client: S3Client;
let server: FixtureServer;
let authServer: FixtureServer;
let runs = 0;

/** A fresh destination and termination log. */
function target(): { dest: string; log: string } {
  runs++;
  const dest = join(work, `dest-${runs}`);
  mkdirSync(dest);
  return { dest, log: join(work, `termination-${runs}`) };
}

async function put(key: string, body: string | Buffer): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' } }).trim();
}

/** Checks the manifest lists exactly the files written, with their digests, and the report carries its digest. */
function expectManifestMatches(dest: string, report: Record<string, unknown>, files: Map<string, string>): void {
  const text = readFileSync(join(dest, manifestName), 'utf8');
  expect(parseManifest(text)).toEqual(files);
  expect(report.manifestDigest).toBe(manifestDigest(text));
  expect(existsSync(join(dest, '.octopus-import'))).toBe(false);
}

let v1Commit: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'octopus-data-it-'));
  client = s3Client();
  await ensureBucket(client, bucket);

  // Files and archives served over HTTP.
  const files = join(work, 'files');
  mkdirSync(join(files, 'tree', 'sub'), { recursive: true });
  writeFileSync(join(files, 'weights.bin'), randomBytes(300_000));
  writeFileSync(join(files, 'tree', 'a.txt'), 'alpha\n');
  writeFileSync(join(files, 'tree', 'sub', 'b.txt'), 'beta\n');
  execFileSync('tar', ['-czf', join(files, 'tree.tar.gz'), '-C', join(files, 'tree'), '.']);
  execFileSync('tar', ['-cf', join(files, 'tree.tar'), '-C', join(files, 'tree'), 'a.txt', 'sub']);
  execFileSync('python3', ['-c', 'import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:\n  z.write(sys.argv[2], "a.txt"); z.write(sys.argv[3], "sub/b.txt")', join(files, 'tree.zip'), join(files, 'tree', 'a.txt'), join(files, 'tree', 'sub', 'b.txt')]);

  // A repository with a tag v1 and a later commit.
  const repos = join(work, 'repos');
  const src = join(work, 'src');
  mkdirSync(join(src, 'model'), { recursive: true });
  git(src, 'init', '-q', '-b', 'main');
  writeFileSync(join(src, 'README.md'), '# root\n');
  writeFileSync(join(src, 'model', 'train.py'), 'print("v1")\n');
  git(src, 'add', '.');
  git(src, 'commit', '-q', '-m', 'v1');
  git(src, 'tag', 'v1');
  v1Commit = git(src, 'rev-parse', 'HEAD');
  writeFileSync(join(src, 'model', 'train.py'), 'print("v2")\n');
  writeFileSync(join(src, 'model', 'extra.py'), 'x = 1\n');
  git(src, 'commit', '-q', '-am', 'v2');
  git(src, 'add', '.');
  git(src, 'commit', '-q', '-m', 'extra');
  mkdirSync(repos);
  git(work, 'clone', '-q', '--bare', src, join(repos, 'code.git'));

  server = await startFixtureServer({ files, repos });
  authServer = await startFixtureServer({ files, repos, auth: { username: 'alice', password: 'opensesame' } });
});

afterAll(async () => {
  await server?.close();
  await authServer?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('S3', () => {
  it('copies a prefix: every file verified, a sha256 manifest beside it, size, count and digest reported', async () => {
    const want = new Map<string, string>();
    for (let i = 0; i < 30; i++) {
      const body = `file ${i} `.repeat(i + 1);
      await put(`copy/set/dir${i % 4}/f${i}.txt`, body);
      want.set(`dir${i % 4}/f${i}.txt`, createHash('sha256').update(body).digest('hex'));
    }
    await put('copy/other/not-this.txt', 'outside the prefix');
    const { dest, log } = target();
    const run = await runImport(s3ImportEnv(dest, bucket, 'copy/set/'), log);
    expect(run.code).toBe(0);
    expect(await treeDigests(dest)).toEqual(want);
    const bytes = [...want.keys()].reduce((sum, _, i) => sum + `file ${i} `.length * (i + 1), 0);
    expect(run.report).toMatchObject({ files: 30, bytes, resumed: 0 });
    expectManifestMatches(dest, run.report, want);
  });

  it.each([
    { name: 'a missing bucket', env: { OCTOPUS_IMPORT_BUCKET: 'no-such-bucket-octopus' }, reason: 'NoSuchBucket', code: 3 },
    { name: 'a wrong secret key', env: { AWS_SECRET_ACCESS_KEY: 'wrong-secret-key-0000000000000000000000' }, reason: 'InvalidCredentials', code: 3 },
    { name: 'a prefix with no objects', env: { OCTOPUS_IMPORT_PREFIX: 'nothing-here/' }, reason: 'NoObjects', code: 3 },
    { name: 'a bad endpoint variable', env: { OCTOPUS_IMPORT_ENDPOINT: 'ftp://x' }, reason: 'InvalidSource', code: 3 },
  ] as { name: string; env: Record<string, string>; reason: string; code: number }[])('fails on $name with reason $reason', async ({ env, reason, code }) => {
    await put('errors/x.txt', 'x');
    const { dest, log } = target();
    const run = await runImport({ ...s3ImportEnv(dest, bucket, 'errors/'), ...env }, log);
    expect(run.code).toBe(code);
    expect(run.report.reason).toBe(reason);
    expect(String(run.report.message)).not.toBe('');
  });

  it('detects an object corrupted at rest (content no longer matches its ETag)', async () => {
    await put('corrupt/good.txt', 'fine');
    await put('corrupt/bad.bin', Buffer.alloc(4096, 1));
    // versitygw keeps the object as a plain file: change its bytes behind the server's back.
    writeFileSync(join(s3DataDir(), bucket, 'corrupt', 'bad.bin'), Buffer.alloc(4096, 2));
    const { dest, log } = target();
    const run = await runImport(s3ImportEnv(dest, bucket, 'corrupt/'), log);
    expect(run.report.reason).toBe('ChecksumMismatch');
    expect(run.report.message).toMatch(/bad\.bin/);
    expect(run.code).toBe(3);
    expect(existsSync(join(dest, 'bad.bin'))).toBe(false);
    expect(existsSync(join(dest, manifestName))).toBe(false);
  });

  it('resumes after SIGKILL without fetching finished files again', async () => {
    const count = 400;
    const objects = Array.from({ length: count }, (_, i) => ({ key: `resume/f${String(i).padStart(4, '0')}.bin`, body: randomBytes(64 * 1024) }));
    for (let i = 0; i < count; i += 32) await Promise.all(objects.slice(i, i + 32).map((o) => put(o.key, o.body)));
    const { dest, log } = target();
    const journal = join(dest, '.octopus-import', 'journal.jsonl');
    const journalled = () => (existsSync(journal) ? readFileSync(journal, 'utf8').split('\n').filter(Boolean).length : 0);
    const env = { ...s3ImportEnv(dest, bucket, 'resume/'), OCTOPUS_IMPORT_CONCURRENCY: '2' };
    const killed = await runImport(env, log, { killWhen: () => journalled() >= 50 });
    expect(killed.signal).toBe('SIGKILL');
    const finishedBeforeKill = journalled();
    expect(finishedBeforeKill).toBeGreaterThanOrEqual(50);
    expect(finishedBeforeKill).toBeLessThan(count);

    const resumed = await runImport(env, log);
    expect(resumed.code).toBe(0);
    expect(resumed.report).toMatchObject({ files: count, bytes: count * 64 * 1024 });
    // Every file the killed attempt journalled was kept; only the rest were fetched.
    expect(resumed.report.resumed).toBeGreaterThanOrEqual(finishedBeforeKill);
    const want = new Map(objects.map((o) => [o.key.slice('resume/'.length), createHash('sha256').update(o.body).digest('hex')]));
    expect(await treeDigests(dest)).toEqual(want);
    expectManifestMatches(dest, resumed.report, want);
  });

  it('copies 10,000 small files', async () => {
    // Seeding takes longer than copying: the set is kept in its own bucket and made once per plane.
    const manyBucket = 'octopus-data-10k';
    await ensureBucket(client, manyBucket);
    const seeded = await client.send(new ListObjectsV2Command({ Bucket: manyBucket, Prefix: 'd99/', MaxKeys: 1000 }));
    if (seeded.KeyCount !== 100) await putSmallObjects(client, manyBucket, '', 10_000);
    const { dest, log } = target();
    const run = await runImport(s3ImportEnv(dest, manyBucket, ''), log);
    expect(run.code).toBe(0);
    expect(run.report.files).toBe(10_000);
    expect(readFileSync(join(dest, manifestName), 'utf8').split('\n').filter(Boolean)).toHaveLength(10_000);
    expect(readdirSync(join(dest, 'd7'))).toHaveLength(100);
    console.log(`10,000 small files: ${run.seconds.toFixed(1)} s, ${(10_000 / run.seconds).toFixed(0)} files/s, peak RSS ${(run.peakRssKiB / 1024).toFixed(0)} MiB`);
    expect(run.peakRssKiB / 1024).toBeLessThan(150);
  });

  it('streams a 256 MiB multipart object with memory far below its size', async () => {
    const size = 256 * 1024 * 1024;
    const sha = createHash('sha256');
    let sent = 0;
    const body = new Readable({
      read() {
        if (sent >= size) return this.push(null);
        const chunk = randomBytes(Math.min(1 << 20, size - sent));
        sha.update(chunk);
        sent += chunk.length;
        this.push(chunk);
      },
    });
    await new Upload({ client, params: { Bucket: bucket, Key: 'big/weights.bin', Body: body }, partSize: 16 * 1024 * 1024, queueSize: 2 }).done();
    const { dest, log } = target();
    const run = await runImport(s3ImportEnv(dest, bucket, 'big/'), log);
    expect(run.code).toBe(0);
    expect(run.report).toMatchObject({ files: 1, bytes: size, size: '256Mi' });
    expect(parseManifest(readFileSync(join(dest, manifestName), 'utf8')).get('weights.bin')).toBe(sha.digest('hex'));
    const peakMiB = run.peakRssKiB / 1024;
    console.log(`256 MiB object: ${run.seconds.toFixed(1)} s, ${(size / 1e6 / run.seconds).toFixed(0)} MB/s, peak RSS ${peakMiB.toFixed(0)} MiB`);
    expect(peakMiB).toBeLessThan(150);
  });
});

describe('HTTP', () => {
  const sha = (path: string) => createHash('sha256').update(readFileSync(join(work, 'files', path))).digest('hex');
  const httpEnv = (dest: string, url: string, extra: Record<string, string> = {}) => ({ OCTOPUS_IMPORT_SOURCE: 'http', OCTOPUS_IMPORT_DESTINATION: dest, OCTOPUS_IMPORT_URL: url, ...extra });

  it('downloads a file and checks its SHA-256', async () => {
    const { dest, log } = target();
    const run = await runImport(httpEnv(dest, `${server.url}/files/weights.bin`, { OCTOPUS_IMPORT_SHA256: sha('weights.bin') }), log);
    expect(run.code).toBe(0);
    expect(await treeDigests(dest)).toEqual(new Map([['weights.bin', sha('weights.bin')]]));
    expect(run.report).toMatchObject({ files: 1, bytes: 300_000 });
  });

  it.each(['tree.tar.gz', 'tree.tar', 'tree.zip'])('unpacks %s', async (archive) => {
    const { dest, log } = target();
    const run = await runImport(httpEnv(dest, `${server.url}/files/${archive}`), log);
    expect(run.code).toBe(0);
    const want = new Map([
      ['a.txt', sha('tree/a.txt')],
      ['sub/b.txt', sha('tree/sub/b.txt')],
    ]);
    expect(await treeDigests(dest)).toEqual(want);
    expectManifestMatches(dest, run.report, want);
  });

  it('keeps an archive packed when unpacking is turned off', async () => {
    const { dest, log } = target();
    const run = await runImport(httpEnv(dest, `${server.url}/files/tree.zip`, { OCTOPUS_IMPORT_UNPACK: 'false' }), log);
    expect(run.code).toBe(0);
    expect([...(await treeDigests(dest)).keys()]).toEqual(['tree.zip']);
  });

  it.each([
    { name: 'a wrong SHA-256', path: '/files/weights.bin', extra: { OCTOPUS_IMPORT_SHA256: 'a'.repeat(64) }, reason: 'ChecksumMismatch', code: 3 },
    { name: 'a 404', path: '/files/missing.bin', extra: {}, reason: 'NotFound', code: 3 },
    { name: 'a 403', path: '/status/403', extra: {}, reason: 'AccessDenied', code: 3 },
    { name: 'a 503 (retryable)', path: '/status/503', extra: {}, reason: 'SourceUnavailable', code: 1 },
    { name: 'a body cut short (retryable)', path: '/truncated/weights.bin', extra: {}, reason: 'TransferInterrupted', code: 1 },
  ] as { name: string; path: string; extra: Record<string, string>; reason: string; code: number }[])('fails on $name with reason $reason, exit $code', async ({ path, extra, reason, code }) => {
    const { dest, log } = target();
    const run = await runImport(httpEnv(dest, `${server.url}${path}`, extra), log);
    expect(run.report.reason).toBe(reason);
    expect(run.code).toBe(code);
  });

  it('answers 401 without credentials', async () => {
    const { dest, log } = target();
    const run = await runImport(httpEnv(dest, `${authServer.url}/files/weights.bin`), log);
    expect(run.report.reason).toBe('Unauthorized');
  });
});

describe('git', () => {
  const gitEnv = (dest: string, url: string, extra: Record<string, string> = {}) => ({ OCTOPUS_IMPORT_SOURCE: 'git', OCTOPUS_IMPORT_DESTINATION: dest, OCTOPUS_IMPORT_URL: url, ...extra });
  const digest = (text: string) => createHash('sha256').update(text).digest('hex');

  it('copies the subPath at a tag, without .git, and reports the commit', async () => {
    const { dest, log } = target();
    const run = await runImport(gitEnv(dest, `${server.url}/git/code.git`, { OCTOPUS_IMPORT_REVISION: 'v1', OCTOPUS_IMPORT_SUBPATH: 'model' }), log);
    expect(run.code).toBe(0);
    const want = new Map([['train.py', digest('print("v1")\n')]]);
    expect(await treeDigests(dest)).toEqual(want);
    expect(run.report.commit).toBe(v1Commit);
    expectManifestMatches(dest, run.report, want);
  });

  it('copies the default branch by default, and a commit by id', async () => {
    const head = target();
    const latest = await runImport(gitEnv(head.dest, `${server.url}/git/code.git`), head.log);
    expect(latest.code).toBe(0);
    expect([...(await treeDigests(head.dest)).keys()].sort()).toEqual(['README.md', 'model/extra.py', 'model/train.py']);
    const byId = target();
    const pinned = await runImport(gitEnv(byId.dest, `${server.url}/git/code.git`, { OCTOPUS_IMPORT_REVISION: v1Commit }), byId.log);
    expect(pinned.code).toBe(0);
    expect(pinned.report.commit).toBe(v1Commit);
  });

  it('uses the credentials from the contract', async () => {
    const { dest, log } = target();
    const run = await runImport(gitEnv(dest, `${authServer.url}/git/code.git`, { OCTOPUS_IMPORT_REVISION: 'v1', GIT_USERNAME: 'alice', GIT_PASSWORD: 'opensesame' }), log);
    expect(run.code).toBe(0);
    expect(run.report.files).toBe(2);
  });

  it.each([
    { name: 'an unknown revision', url: '/git/code.git', extra: { OCTOPUS_IMPORT_REVISION: 'v9' }, reason: 'RevisionNotFound' },
    { name: 'an unknown commit id', url: '/git/code.git', extra: { OCTOPUS_IMPORT_REVISION: 'deadbeefdeadbeef' }, reason: 'RevisionNotFound' },
    { name: 'a missing subPath', url: '/git/code.git', extra: { OCTOPUS_IMPORT_SUBPATH: 'nope' }, reason: 'SubPathNotFound' },
    { name: 'a missing repository', url: '/git/nope.git', extra: {}, reason: 'RepositoryNotFound' },
    { name: 'bad credentials', url: '/git/code.git', extra: { GIT_USERNAME: 'alice', GIT_PASSWORD: 'wrong' }, reason: 'InvalidCredentials', auth: true },
  ] as { name: string; url: string; extra: Record<string, string>; reason: string; auth?: boolean }[])('fails on $name with reason $reason', async ({ url, extra, reason, auth }) => {
    const { dest, log } = target();
    const run = await runImport(gitEnv(dest, `${(auth ? authServer : server).url}${url}`, extra), log);
    expect(run.report.reason).toBe(reason);
    expect(run.code).toBe(3);
  });
});

describe('export', () => {
  it('uploads a folder with its manifest; importing it back gives the same files and digest', async () => {
    const out = join(work, 'output');
    mkdirSync(join(out, 'ckpt'), { recursive: true });
    writeFileSync(join(out, 'model.safetensors'), randomBytes(40 * 1024 * 1024));
    writeFileSync(join(out, 'ckpt', 'step-1.json'), '{"loss":0.5}');
    writeFileSync(join(out, 'config.json'), '{}');
    const access = readS3Access();
    const env = {
      OCTOPUS_EXPORT_SOURCE: out,
      OCTOPUS_EXPORT_ENDPOINT: access.endpoint,
      OCTOPUS_EXPORT_BUCKET: bucket,
      OCTOPUS_EXPORT_PREFIX: 'exports/run1',
      AWS_ACCESS_KEY_ID: access.accessKeyID,
      AWS_SECRET_ACCESS_KEY: access.secretAccessKey,
    };
    const exported = await runData('export', env, join(work, 'export-termination'));
    expect(exported.code).toBe(0);
    expect(exported.report).toMatchObject({ uri: `s3://${bucket}/exports/run1/`, files: 3, bytes: 40 * 1024 * 1024 + 12 + 2 });

    const { dest, log } = target();
    const imported = await runImport(s3ImportEnv(dest, bucket, 'exports/run1/'), log);
    expect(imported.code).toBe(0);
    // The manifest travelled with the objects; the import lists the same files with the same digests.
    expect(await treeDigests(dest)).toEqual(await treeDigests(out));
    expect(imported.report.manifestDigest).toBe(exported.report.manifestDigest);
  });

  it('checks an import against the manifest found at the source', async () => {
    await put('signed/.octopus-manifest.sha256', `${'0'.repeat(64)}  data.bin\n`);
    await put('signed/data.bin', 'not what the manifest says');
    const { dest, log } = target();
    const run = await runImport(s3ImportEnv(dest, bucket, 'signed/'), log);
    expect(run.report.reason).toBe('ChecksumMismatch');
    expect(run.code).toBe(3);
  });

  it('fails with the S3 error as reason', async () => {
    const out = join(work, 'output-2');
    mkdirSync(out);
    writeFileSync(join(out, 'a'), 'a');
    const access = readS3Access();
    const run = await runData('export', { OCTOPUS_EXPORT_SOURCE: out, OCTOPUS_EXPORT_ENDPOINT: access.endpoint, OCTOPUS_EXPORT_BUCKET: 'no-such-export-bucket', AWS_ACCESS_KEY_ID: access.accessKeyID, AWS_SECRET_ACCESS_KEY: access.secretAccessKey }, join(work, 'export-termination-2'));
    expect(run.report.reason).toBe('NoSuchBucket');
    expect(run.code).toBe(3);
  });
});

it('reads the plane S3 keys from the state folder, never from defaults', () => {
  const access = readS3Access();
  expect(access.accessKeyID).toMatch(/^OCT[0-9A-F]{17}$/);
  expect(access.secretAccessKey).toHaveLength(40);
});
