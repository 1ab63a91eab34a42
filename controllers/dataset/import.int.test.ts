/**
 * The importer contract end to end on the real plane, with nothing simulated: the Dataset
 * controller makes the import Job, the plane's pod runner runs its pod's command (octopus-data)
 * as a kubelet would, against the plane's S3 server and a loopback HTTP/git server, into the
 * claim's host path; the version's status comes from what the program reported.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { V1Job, V1PersistentVolume, V1PersistentVolumeClaim, V1Secret } from '@kubernetes/client-node';
import { apiVersion, type Algorithm, type Dataset, type Model } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { startFixtureServer, type FixtureServer } from '../../hack/cluster/fixture-server.js';
import { hostImage } from '../../hack/cluster/pod-runner.js';
import { ensureBucket, readS3Access, s3Client } from '../../hack/cluster/s3.js';
import { algorithmController } from '../algorithm/controller.js';
import { modelController } from '../model/controller.js';
import { controllerOptions } from '../assets/testing/controllers.js';
import { create, get, startManager, useAssetPlane, waitFor } from '../assets/testing/plane.js';
import type { VersionStatus } from '../assets/types.js';
import { manifestDigest, manifestName } from '../octopus-data/manifest.js';
import { core, octopus } from '../resources.js';
import type { Manager } from '../runtime/index.js';
import { datasetController } from './controller.js';

const bucket = `ctl-${Date.now().toString(36)}`;
const versionOf = (d: { status?: { versions?: VersionStatus[] } }, name: string) => d.status?.versions?.find((v) => v.name === name);
const settled = (name: string) => (d: Dataset | Algorithm | Model) => ['Ready', 'Failed'].includes(versionOf(d, name)?.phase ?? '');

describe('imports run by octopus-data on the real plane', () => {
  const plane = useAssetPlane('imp');
  let manager: Manager;
  let server: FixtureServer;
  let work: string;

  beforeAll(async () => {
    const access = readS3Access();
    const client = s3Client(access);
    await ensureBucket(client, bucket);
    for (let i = 0; i < 12; i++) await client.send(new PutObjectCommand({ Bucket: bucket, Key: `set/part-${i}.txt`, Body: `row ${i}\n`.repeat(100) }));
    client.destroy();
    await create<V1Secret>(plane, core.Secret, { metadata: { name: 's3-keys' }, stringData: { accessKeyID: access.accessKeyID, secretAccessKey: access.secretAccessKey } });

    work = mkdtempSync(join(tmpdir(), 'octopus-import-it-'));
    const src = join(work, 'src');
    mkdirSync(join(src, 'train'), { recursive: true });
    writeFileSync(join(src, 'train', 'main.py'), 'print("train")\n');
    const git = (...args: string[]) => execFileSync('git', args, { cwd: src, env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e' } });
    git('init', '-q', '-b', 'main');
    git('add', '.');
    git('commit', '-q', '-m', 'one');
    mkdirSync(join(work, 'repos'));
    execFileSync('git', ['clone', '-q', '--bare', src, join(work, 'repos', 'code.git')]);
    server = await startFixtureServer({ repos: join(work, 'repos') });

    const options = controllerOptions({ importerImage: hostImage, s3Endpoint: access.endpoint });
    const scope = { namespace: plane.namespace };
    manager = await startManager(plane.kc, [datasetController(scope), algorithmController(scope), modelController(scope)], options);
  });

  afterAll(async () => {
    await manager?.stop();
    await server?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('drives an s3 version to Ready with the size, file count and manifest digest the program reported; the files are in the claim', async () => {
    await create(plane, octopus.Dataset, { apiVersion, kind: 'Dataset', metadata: { name: 'rows' }, spec: { versions: [{ name: 'v1', source: { s3: { bucket, prefix: 'set/', secretRef: { name: 's3-keys' } } } }] } } satisfies Dataset);
    const done = await waitFor<Dataset>(plane, octopus.Dataset, 'rows', 'v1 settled', settled('v1'), 120_000);
    const v1 = versionOf(done, 'v1')!;
    expect(v1).toMatchObject({ phase: 'Ready', reason: 'Imported', fileCount: 12, size: '7.23Ki', attempts: 1 });
    expect(done.status).toMatchObject({ latestSize: '7.23Ki', latestFileCount: 12 });

    // The import pod ran octopus-data with the contract, and its report is what the status shows.
    const job = (await get<V1Job>(plane, core.BatchJob, 'rows-v1-import'))!;
    expect(job.spec?.template.spec?.containers[0]).toMatchObject({ image: hostImage, command: ['octopus-data', 'import'] });
    const claim = (await get<V1PersistentVolumeClaim>(plane, core.PersistentVolumeClaim, 'rows-v1'))!;
    const volume = (await get<V1PersistentVolume>(plane, core.PersistentVolume, claim.spec!.volumeName!))!;
    const manifest = readFileSync(join(volume.spec!.hostPath!.path, manifestName), 'utf8');
    expect(v1.manifestDigest).toBe(manifestDigest(manifest));
    expect(readFileSync(join(volume.spec!.hostPath!.path, 'part-3.txt'), 'utf8')).toBe('row 3\n'.repeat(100));
  });

  it('fails a version at once with the source error as reason and message (no retries for a missing bucket)', async () => {
    await create(plane, octopus.Dataset, { apiVersion, kind: 'Dataset', metadata: { name: 'missing' }, spec: { import: { backoffLimit: 2 }, versions: [{ name: 'v1', source: { s3: { bucket: 'no-such-bucket-here', secretRef: { name: 's3-keys' } } } }] } } satisfies Dataset);
    const done = await waitFor<Dataset>(plane, octopus.Dataset, 'missing', 'v1 settled', settled('v1'), 120_000);
    expect(versionOf(done, 'v1')).toMatchObject({ phase: 'Failed', reason: 'NoSuchBucket', attempts: 1 });
    expect(versionOf(done, 'v1')?.message).toContain('no-such-bucket-here');
  });

  it('imports a Model version from S3, Ready for a ModelService to mount', async () => {
    await create(plane, octopus.Model, { apiVersion, kind: 'Model', metadata: { name: 'weights' }, spec: { format: 'SafeTensors', versions: [{ name: 'v1', source: { s3: { bucket, prefix: 'set/part-1', secretRef: { name: 's3-keys' } } } }] } } satisfies Model);
    const done = await waitFor<Model>(plane, octopus.Model, 'weights', 'v1 settled', settled('v1'), 120_000);
    // prefix set/part-1 matches part-1.txt, part-10.txt and part-11.txt.
    expect(versionOf(done, 'v1')).toMatchObject({ phase: 'Ready', origin: 'Import', claimName: 'weights-model-v1', fileCount: 3 });
    expect(versionOf(done, 'v1')?.manifestDigest).toMatch(/^sha256:/);
  });

  it('imports an Algorithm from git at a subPath', async () => {
    await create(plane, octopus.Algorithm, { apiVersion, kind: 'Algorithm', metadata: { name: 'code' }, spec: { versions: [{ name: 'v1', source: { git: { url: `${server.url}/git/code.git`, revision: 'main', subPath: 'train' } } }] } } satisfies Algorithm);
    const done = await waitFor<Algorithm>(plane, octopus.Algorithm, 'code', 'v1 settled', settled('v1'), 120_000);
    expect(versionOf(done, 'v1')).toMatchObject({ phase: 'Ready', fileCount: 1, size: '15' });
  });

  it('reports an unknown revision as RevisionNotFound', async () => {
    await create(plane, octopus.Algorithm, { apiVersion, kind: 'Algorithm', metadata: { name: 'badrev' }, spec: { versions: [{ name: 'v1', source: { git: { url: `${server.url}/git/code.git`, revision: 'v404' } } }] } } satisfies Algorithm);
    const done = await waitFor<Algorithm>(plane, octopus.Algorithm, 'badrev', 'v1 settled', settled('v1'), 120_000);
    expect(versionOf(done, 'v1')).toMatchObject({ phase: 'Failed', reason: 'RevisionNotFound', attempts: 1 });
  });
});
