/**
 * A Job-produced Model version uploaded to S3 as its Job asked (output.model.s3), on the real plane:
 * the Model controller runs an export Job whose pod the plane's pod runner runs (octopus-data
 * export, the version's claim mounted read-only), and the version records the URI and the manifest
 * digest. The training Job itself is only an object here: the Job controller is not under test.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1Secret } from '@kubernetes/client-node';
import { apiVersion, type Job, type Model } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { hostImage } from '../../hack/cluster/pod-runner.js';
import { ensureBucket, readS3Access, s3Client } from '../../hack/cluster/s3.js';
import { controllerOptions } from '../assets/testing/controllers.js';
import { create, get, startManager, useAssetPlane, waitFor } from '../assets/testing/plane.js';
import { manifestName } from '../octopus-data/manifest.js';
import { core, octopus } from '../resources.js';
import type { Manager } from '../runtime/index.js';
import { modelController } from './controller.js';
import { registerJobOutput } from './output.js';

const plane = useAssetPlane('export');
const bucket = `exp-${Date.now().toString(36)}`;
let manager: Manager;

beforeAll(async () => {
  const access = readS3Access();
  const client = s3Client(access);
  await ensureBucket(client, bucket);
  client.destroy();
  await create<V1Secret>(plane, core.Secret, { metadata: { name: 's3-keys' }, stringData: { accessKeyID: access.accessKeyID, secretAccessKey: access.secretAccessKey } });
  manager = await startManager(plane.kc, [modelController({ namespace: plane.namespace })], controllerOptions({ importerImage: hostImage, s3Endpoint: access.endpoint }));
});

afterAll(async () => {
  await manager?.stop();
});

it('uploads the version from its claim and records the URI and manifest digest', async () => {
  // What the training wrote to /model, on the output claim's volume.
  await create<V1PersistentVolumeClaim>(plane, core.PersistentVolumeClaim, { metadata: { name: 'train-1-output' }, spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '1Gi' } } } });
  const claim = await waitFor<V1PersistentVolumeClaim>(plane, core.PersistentVolumeClaim, 'train-1-output', 'Bound', (c) => c.status?.phase === 'Bound');
  const volume = (await get<V1PersistentVolume>(plane, core.PersistentVolume, claim.spec!.volumeName!))!;
  // DirectoryOrCreate: a kubelet would make it for the training pod.
  mkdirSync(volume.spec!.hostPath!.path, { recursive: true });
  writeFileSync(join(volume.spec!.hostPath!.path, 'weights.bin'), Buffer.alloc(200_000, 7));

  const job = await create<Job>(plane, octopus.Job, {
    apiVersion,
    kind: 'Job',
    metadata: { name: 'train-1' },
    spec: { pool: 'gpu', image: { reference: 'registry.test/train:1' }, tasks: [{ name: 'main', replicas: 1, resources: { requests: { cpu: '1' } } }], output: { model: { name: 'weights', s3: { bucket, prefix: 'runs/train-1', secretRef: { name: 's3-keys' } } } } },
  } as Job);
  await create(plane, octopus.Model, { apiVersion, kind: 'Model', metadata: { name: 'weights' }, spec: {} } satisfies Model);
  await registerJobOutput(manager, {
    namespace: plane.namespace,
    model: 'weights',
    version: 'train-1',
    claimName: 'train-1-output',
    lineage: { job: { name: 'train-1', namespace: plane.namespace, uid: job.metadata.uid! }, attempt: 0, image: 'registry.test/train:1', finishedAt: '2025-06-01T10:00:00Z' },
  });

  const model = await waitFor<Model>(plane, octopus.Model, 'weights', 'export settled', (m) => ['Exported', 'Failed'].includes(m.status?.versions?.[0]?.export?.phase ?? ''), 120_000);
  const exported = model.status!.versions![0]!.export!;
  expect(exported).toMatchObject({ phase: 'Exported', uri: `s3://${bucket}/runs/train-1/`, secretName: 's3-keys', exportJob: 'weights-model-train-1-export' });

  const client = s3Client();
  const manifest = await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: `runs/train-1/${manifestName}` }))).Body!.transformToString();
  const weights = Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'runs/train-1/weights.bin' }))).Body!.transformToByteArray());
  client.destroy();
  expect(manifest).toBe(`${createHash('sha256').update(Buffer.alloc(200_000, 7)).digest('hex')}  weights.bin\n`);
  expect(weights.equals(Buffer.alloc(200_000, 7))).toBe(true);
  expect(exported.manifestDigest).toBe(`sha256:${createHash('sha256').update(manifest).digest('hex')}`);
  // The version itself stays Ready on its claim, whatever the export does.
  expect(model.status?.versions?.[0]).toMatchObject({ phase: 'Ready', origin: 'Job', claimName: 'train-1-output' });
});
