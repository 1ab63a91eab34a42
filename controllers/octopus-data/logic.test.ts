import { describe, expect, it } from '@jest/globals';
import { entryPath } from './archive.js';
import { archiveKind, parseImportEnv } from './contract.js';
import { md5OfEtag } from './destination.js';
import { DataError, failureReport, gitFailure, httpFailure, redactUrl, s3Failure } from './errors.js';
import { downloadName } from './http.js';
import { formatSize, journalLine, manifestDigest, needsFetch, parseJournal, renderManifest, safeRelativePath, type FileRecord } from './manifest.js';
import { relativeKey } from './s3.js';

const sha = (c: string) => c.repeat(64);

describe('parseImportEnv', () => {
  const base = { OCTOPUS_IMPORT_DESTINATION: '/data' };
  it.each([
    {
      name: 's3 with keys and defaults',
      env: { ...base, OCTOPUS_IMPORT_SOURCE: 's3', OCTOPUS_IMPORT_BUCKET: 'data-sets', AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's' },
      want: { source: 's3', destination: '/data', bucket: 'data-sets', prefix: '', region: 'us-east-1', concurrency: 16, credentials: { accessKeyId: 'k', secretAccessKey: 's' } },
    },
    {
      name: 's3 without keys (the SDK chain finds them)',
      env: { ...base, OCTOPUS_IMPORT_SOURCE: 's3', OCTOPUS_IMPORT_BUCKET: 'b12', OCTOPUS_IMPORT_ENDPOINT: 'http://s3:9000', OCTOPUS_IMPORT_PREFIX: 'x/', OCTOPUS_IMPORT_REGION: 'eu-1', OCTOPUS_IMPORT_CONCURRENCY: '4' },
      want: { source: 's3', destination: '/data', bucket: 'b12', endpoint: 'http://s3:9000', prefix: 'x/', region: 'eu-1', concurrency: 4 },
    },
    { name: 'http archive unpacked by default', env: { ...base, OCTOPUS_IMPORT_SOURCE: 'http', OCTOPUS_IMPORT_URL: 'https://h/a.tgz?x=1' }, want: { source: 'http', url: 'https://h/a.tgz?x=1', unpack: true } },
    { name: 'http plain file', env: { ...base, OCTOPUS_IMPORT_SOURCE: 'http', OCTOPUS_IMPORT_URL: 'https://h/w.bin', OCTOPUS_IMPORT_SHA256: sha('a') }, want: { source: 'http', unpack: false, sha256: sha('a') } },
    { name: 'http archive kept packed', env: { ...base, OCTOPUS_IMPORT_SOURCE: 'http', OCTOPUS_IMPORT_URL: 'https://h/a.zip', OCTOPUS_IMPORT_UNPACK: 'false' }, want: { unpack: false } },
    {
      name: 'git with subPath and credentials',
      env: { ...base, OCTOPUS_IMPORT_SOURCE: 'git', OCTOPUS_IMPORT_URL: 'https://g/r.git', OCTOPUS_IMPORT_REVISION: 'v1', OCTOPUS_IMPORT_SUBPATH: '/src/', GIT_USERNAME: 'u', GIT_PASSWORD: 'p' },
      want: { source: 'git', url: 'https://g/r.git', revision: 'v1', subPath: 'src', username: 'u', password: 'p' },
    },
  ])('$name', ({ env, want }) => {
    expect(parseImportEnv(env)).toMatchObject(want);
  });

  it.each([
    { name: 'no source', env: { ...base }, variable: 'OCTOPUS_IMPORT_SOURCE' },
    { name: 'unknown source', env: { ...base, OCTOPUS_IMPORT_SOURCE: 'ftp' }, variable: 'OCTOPUS_IMPORT_SOURCE' },
    { name: 'relative destination', env: { OCTOPUS_IMPORT_DESTINATION: 'data', OCTOPUS_IMPORT_SOURCE: 's3' }, variable: 'OCTOPUS_IMPORT_DESTINATION' },
    { name: 'no bucket', env: { ...base, OCTOPUS_IMPORT_SOURCE: 's3' }, variable: 'OCTOPUS_IMPORT_BUCKET' },
    { name: 'bad bucket', env: { ...base, OCTOPUS_IMPORT_SOURCE: 's3', OCTOPUS_IMPORT_BUCKET: 'Bad_Bucket' }, variable: 'OCTOPUS_IMPORT_BUCKET' },
    { name: 'half a key pair', env: { ...base, OCTOPUS_IMPORT_SOURCE: 's3', OCTOPUS_IMPORT_BUCKET: 'bbb', AWS_ACCESS_KEY_ID: 'k' }, variable: 'AWS_SECRET_ACCESS_KEY' },
    { name: 'concurrency 0', env: { ...base, OCTOPUS_IMPORT_SOURCE: 's3', OCTOPUS_IMPORT_BUCKET: 'bbb', OCTOPUS_IMPORT_CONCURRENCY: '0' }, variable: 'OCTOPUS_IMPORT_CONCURRENCY' },
    { name: 'ftp url', env: { ...base, OCTOPUS_IMPORT_SOURCE: 'http', OCTOPUS_IMPORT_URL: 'ftp://h/x' }, variable: 'OCTOPUS_IMPORT_URL' },
    { name: 'short sha256', env: { ...base, OCTOPUS_IMPORT_SOURCE: 'http', OCTOPUS_IMPORT_URL: 'https://h/x', OCTOPUS_IMPORT_SHA256: 'abc' }, variable: 'OCTOPUS_IMPORT_SHA256' },
    { name: 'unpack of a non-archive', env: { ...base, OCTOPUS_IMPORT_SOURCE: 'http', OCTOPUS_IMPORT_URL: 'https://h/x.bin', OCTOPUS_IMPORT_UNPACK: 'true' }, variable: 'OCTOPUS_IMPORT_UNPACK' },
    { name: 'unpack not a boolean', env: { ...base, OCTOPUS_IMPORT_SOURCE: 'http', OCTOPUS_IMPORT_URL: 'https://h/x.zip', OCTOPUS_IMPORT_UNPACK: 'yes' }, variable: 'OCTOPUS_IMPORT_UNPACK' },
    { name: 'revision like an option', env: { ...base, OCTOPUS_IMPORT_SOURCE: 'git', OCTOPUS_IMPORT_URL: 'https://g/r', OCTOPUS_IMPORT_REVISION: '--upload-pack=x' }, variable: 'OCTOPUS_IMPORT_REVISION' },
    { name: 'subPath leaving the repository', env: { ...base, OCTOPUS_IMPORT_SOURCE: 'git', OCTOPUS_IMPORT_URL: 'https://g/r', OCTOPUS_IMPORT_SUBPATH: 'a/../..' }, variable: 'OCTOPUS_IMPORT_SUBPATH' },
    { name: 'file:// git url', env: { ...base, OCTOPUS_IMPORT_SOURCE: 'git', OCTOPUS_IMPORT_URL: 'file:///etc' }, variable: 'OCTOPUS_IMPORT_URL' },
  ])('refuses $name, naming $variable', ({ env, variable }) => {
    let error: unknown;
    try {
      parseImportEnv(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(DataError);
    expect(error).toMatchObject({ reason: 'InvalidSource', permanent: true });
    expect((error as Error).message.startsWith(`${variable} `)).toBe(true);
  });
});

describe('archiveKind', () => {
  it.each([
    ['https://h/a.tar.gz', 'tar.gz'],
    ['https://h/a.TGZ', 'tar.gz'],
    ['https://h/a.tar?sig=1', 'tar'],
    ['https://h/a.zip#x', 'zip'],
    ['https://h/a.bin', undefined],
    ['https://h/tar', undefined],
  ])('%s → %s', (url, want) => expect(archiveKind(url)).toBe(want));
});

describe('paths', () => {
  it.each([
    ['a/b.txt', 'a/b.txt'],
    ['/abs/x', 'abs/x'],
  ])('accepts %s as %s', (raw, want) => expect(safeRelativePath(raw)).toBe(want));

  it.each(['', 'a/../b', '../x', 'a//b', 'a/./b', 'a\\b', 'a\nb', '.octopus-manifest.sha256', '.octopus-import/journal.jsonl'])('refuses %j', (raw) => {
    expect(() => safeRelativePath(raw)).toThrow(DataError);
  });

  it.each([
    ['set/a/b.txt', 'set/', 'a/b.txt'],
    ['set/a/b.txt', 'set', 'set/a/b.txt'],
    ['imagenet/2012/x.jpg', 'imagenet/20', '2012/x.jpg'],
    ['x.jpg', '', 'x.jpg'],
  ])('key %s under prefix %j lands at %s', (key, prefix, want) => expect(relativeKey(key, prefix)).toBe(want));

  it.each([
    ['./a/b', 'a/b'],
    ['././c', 'c'],
  ])('archive entry %s lands at %s', (name, want) => expect(entryPath(name)).toBe(want));

  it.each([
    ['https://h/files/w%20b.bin?x=1', 'w b.bin'],
    ['https://h/', 'download'],
  ])('a download of %s is kept as %s', (url, want) => expect(downloadName(url)).toBe(want));
});

describe('manifest', () => {
  const files: FileRecord[] = [
    { path: 'b/z.txt', size: 1, sha256: sha('b') },
    { path: 'a.txt', size: 2, sha256: sha('a') },
  ];

  it('is sha256sum-format lines sorted by path, so the digest depends on content only', () => {
    const text = renderManifest(files);
    expect(text).toBe(`${sha('a')}  a.txt\n${sha('b')}  b/z.txt\n`);
    expect(manifestDigest(text)).toBe(manifestDigest(renderManifest([...files].reverse())));
    expect(manifestDigest(text)).toMatch(/^sha256:[a-f0-9]{64}$/);
  });

  it.each([
    [0, '0'],
    [1023, '1023'],
    [1024, '1Ki'],
    [1536, '1.5Ki'],
    [1024 ** 3, '1Gi'],
    [12.345 * 1024 ** 3, '12.35Gi'],
  ])('formats %d bytes as %s', (bytes, want) => expect(formatSize(bytes)).toBe(want));

  it('reads a journal, later lines winning, a torn last line ignored', () => {
    const text = journalLine({ path: 'a', size: 1, sha256: sha('1') }) + journalLine({ path: 'a', size: 2, sha256: sha('2') }) + '{"path":"b","si';
    expect([...parseJournal(text).values()]).toEqual([{ path: 'a', size: 2, sha256: sha('2') }]);
  });

  const done: FileRecord = { path: 'a', size: 10, sha256: sha('a'), etag: 'e1' };
  it.each([
    { name: 'never finished', source: { path: 'a', size: 10 }, done: undefined, onDisk: undefined, want: true },
    { name: 'finished, unchanged', source: { path: 'a', size: 10, etag: 'e1' }, done, onDisk: 10, want: false },
    { name: 'finished, source without ETag', source: { path: 'a', size: 10 }, done, onDisk: 10, want: false },
    { name: 'changed at the source (ETag)', source: { path: 'a', size: 10, etag: 'e2' }, done, onDisk: 10, want: true },
    { name: 'changed at the source (size)', source: { path: 'a', size: 11, etag: 'e1' }, done, onDisk: 10, want: true },
    { name: 'removed from disk', source: { path: 'a', size: 10, etag: 'e1' }, done, onDisk: undefined, want: true },
    { name: 'truncated on disk', source: { path: 'a', size: 10, etag: 'e1' }, done, onDisk: 4, want: true },
  ])('fetch again when $name: $want', ({ source, done: d, onDisk, want }) => {
    expect(needsFetch(source, d, onDisk)).toBe(want);
  });

  it.each([
    ['"0123456789abcdef0123456789abcdef"', '0123456789abcdef0123456789abcdef'],
    ['0123456789abcdef0123456789abcdef-4', undefined],
    [undefined, undefined],
  ])('ETag %s is the MD5 %s', (etag, want) => expect(md5OfEtag(etag)).toBe(want));
});

describe('source errors', () => {
  it.each([
    { err: { name: 'NoSuchBucket', $metadata: { httpStatusCode: 404 } }, reason: 'NoSuchBucket', permanent: true },
    { err: { name: 'InvalidAccessKeyId', $metadata: { httpStatusCode: 403 } }, reason: 'InvalidCredentials', permanent: true },
    { err: { name: 'SignatureDoesNotMatch' }, reason: 'InvalidCredentials', permanent: true },
    { err: { name: 'AccessDenied' }, reason: 'AccessDenied', permanent: true },
    { err: { name: 'Unknown', $metadata: { httpStatusCode: 403 } }, reason: 'AccessDenied', permanent: true },
    { err: { name: 'Unknown', $metadata: { httpStatusCode: 404 } }, reason: 'NotFound', permanent: true },
    { err: { name: 'Error', code: 'ECONNREFUSED' }, reason: 'EndpointUnreachable', permanent: false },
    { err: { name: 'InternalError', $metadata: { httpStatusCode: 500 } }, reason: 'SourceError', permanent: false },
  ])('S3 $err.name → $reason', ({ err, reason, permanent }) => {
    expect(s3Failure(err, 's3://b/k')).toMatchObject({ reason, permanent });
  });

  it.each([
    [401, 'Unauthorized', true],
    [403, 'AccessDenied', true],
    [404, 'NotFound', true],
    [429, 'SourceUnavailable', false],
    [502, 'SourceUnavailable', false],
    [400, 'SourceError', true],
  ])('HTTP %d → %s', (status, reason, permanent) => {
    expect(httpFailure(status, 'https://u:p@h/x')).toMatchObject({ reason, permanent });
    expect(httpFailure(status, 'https://u:p@h/x').message).not.toContain('u:p');
  });

  it.each([
    ["fatal: couldn't find remote ref v9", 'RevisionNotFound'],
    ["fatal: Authentication failed for 'https://h/r.git/'", 'InvalidCredentials'],
    ['fatal: could not read Username for https://h: terminal prompts disabled', 'InvalidCredentials'],
    ["fatal: repository 'https://h/nope.git/' not found", 'RepositoryNotFound'],
    ['fatal: unable to access: Could not resolve host: h', 'EndpointUnreachable'],
    ['fatal: something new', 'GitFailed'],
  ])('git %j → %s', (stderr, reason) => expect(gitFailure(stderr, 'https://h/r.git').reason).toBe(reason));

  it('reports a failure as the controller parses it, never longer than a termination message', () => {
    const { report, permanent } = failureReport(new DataError('NoSuchBucket', 'x'.repeat(10_000), true));
    expect(permanent).toBe(true);
    expect(report.length).toBeLessThan(4096);
    expect(JSON.parse(report)).toMatchObject({ reason: 'NoSuchBucket' });
    expect(JSON.parse(failureReport(new Error('boom')).report)).toEqual({ reason: 'InternalError', message: 'boom' });
  });

  it('redacts user information from URLs', () => expect(redactUrl('https://u:secret@h/r.git')).toBe('https://h/r.git'));
});
