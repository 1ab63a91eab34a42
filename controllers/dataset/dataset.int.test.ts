import { afterEach, describe, expect, it } from '@jest/globals';
import type { V1Job, V1PersistentVolume, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import { apiVersion, type Dataset, type Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { assetLabels } from '../assets/names.js';
import { controllerOptions } from '../assets/testing/controllers.js';
import { create, eventsAbout, get, list, simulated, startManager, useAssetPlane, waitFor, waitGone } from '../assets/testing/plane.js';
import type { VersionStatus } from '../assets/types.js';
import { core, octopus } from '../resources.js';
import { stopAfterEach } from '../runtime/testing/suite.js';
import type { Manager } from '../runtime/index.js';
import { datasetController } from './controller.js';

const report = '{"size":"12Gi","files":1234}';

function dataset(name: string, spec: Dataset['spec']): Dataset {
  return { apiVersion, kind: 'Dataset', metadata: { name }, spec };
}

const versionOf = (d: Dataset, name: string): VersionStatus | undefined => d.status?.versions?.find((v) => v.name === name);
const isReady = (d: Dataset) => d.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

describe('Dataset controller on the real plane', () => {
  const plane = useAssetPlane('ds');
  const managers = stopAfterEach<Manager>();
  const start = async () => managers.push(await startManager(plane.kc, [datasetController({ namespace: plane.namespace })], controllerOptions()));
  // The storage policy of the test namespace: a Workspace of its name (no Workspace controller runs here).
  const setPolicy = async (storage: NonNullable<Workspace['spec']['storage']>) => {
    const workspace: Workspace = { apiVersion, kind: 'Workspace', metadata: { name: plane.namespace }, spec: { storage } };
    await plane.client.applyObject(workspace);
  };
  afterEach(async () => {
    await plane.client.deleteIgnoreNotFound({ apiVersion, kind: 'Workspace', metadata: { name: plane.namespace } });
  });

  it('imports an s3 version and uses a pvc version in place, each reaching Ready with what the importer reported', async () => {
    await start();
    await create(plane, octopus.Dataset, dataset('imagenet', {
      import: { podMetadata: simulated('Succeed', report) },
      versions: [
        { name: 'v1', source: { s3: { bucket: 'datasets', prefix: 'imagenet/', secretRef: { name: 's3-creds' } } } },
        { name: 'v2', source: { pvc: { claimName: 'coco-2017', subPath: 'coco' } } },
      ],
    }));

    // The user's claim does not exist yet: that version waits, and says why.
    const waiting = await waitFor<Dataset>(plane, octopus.Dataset, 'imagenet', 'v2 waiting for its claim', (d) => versionOf(d, 'v2')?.reason === 'ClaimNotFound');
    expect(versionOf(waiting, 'v2')).toMatchObject({ phase: 'Pending', message: `PersistentVolumeClaim coco-2017 not found in namespace ${plane.namespace}` });
    await create<V1PersistentVolumeClaim>(plane, core.PersistentVolumeClaim, {
      metadata: { name: 'coco-2017' },
      spec: { accessModes: ['ReadOnlyMany'], resources: { requests: { storage: '1Gi' } } },
    });

    const ready = await waitFor<Dataset>(plane, octopus.Dataset, 'imagenet', 'Ready', isReady);
    expect(versionOf(ready, 'v1')).toMatchObject({ phase: 'Ready', reason: 'Imported', claimName: 'imagenet-v1', importJob: 'imagenet-v1-import', size: '12Gi', fileCount: 1234, attempts: 1 });
    expect(versionOf(ready, 'v2')).toMatchObject({ phase: 'Ready', reason: 'ClaimFound', claimName: 'coco-2017', subPath: 'coco' });
    expect(ready.status).toMatchObject({ observedGeneration: 1, versionCount: 2, readyVersions: 2, latestVersion: 'v2' });
    expect(ready.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ reason: 'AllVersionsReady', observedGeneration: 1 });

    // The import ran as built: owned by the dataset, retried per the schema's default, restricted.
    const job = (await get<V1Job>(plane, core.BatchJob, 'imagenet-v1-import'))!;
    expect(job.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'Dataset', name: 'imagenet', uid: ready.metadata.uid, controller: true })]);
    expect(job.spec?.backoffLimit).toBe(2);
    expect(job.spec?.template.spec?.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    const claim = (await get<V1PersistentVolumeClaim>(plane, core.PersistentVolumeClaim, 'imagenet-v1'))!;
    expect(claim.metadata?.ownerReferences?.[0]?.uid).toBe(ready.metadata.uid);

    const events = await eventsAbout(plane, 'Dataset', 'imagenet');
    const told = events.map((e) => `${e.type} ${e.reason}: ${e.note}`);
    expect(told).toEqual(expect.arrayContaining(['Normal ImportStarted: importing version v1', 'Warning ClaimNotFound: version v2: PersistentVolumeClaim coco-2017 not found in namespace ' + plane.namespace]));
    expect(told.filter((t) => t.startsWith('Normal VersionReady: version v1 is ready'))).toHaveLength(1);
    expect(told.filter((t) => t.startsWith('Normal VersionReady: version v2 is ready'))).toHaveLength(1);
  });

  it('fails a version whose import keeps failing, after the retries its policy allows, with the importer\'s reason', async () => {
    await start();
    await create(plane, octopus.Dataset, dataset('broken', {
      import: { backoffLimit: 1, podMetadata: simulated('Fail', 'access denied: bucket datasets') },
      versions: [{ name: 'v1', source: { s3: { bucket: 'datasets' } } }],
    }));

    const failed = await waitFor<Dataset>(plane, octopus.Dataset, 'broken', 'v1 Failed', (d) => versionOf(d, 'v1')?.phase === 'Failed', 90_000);
    expect(versionOf(failed, 'v1')).toMatchObject({ reason: 'ImportFailed', message: 'access denied: bucket datasets', attempts: 2 });
    expect(failed.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'VersionFailed' });

    // backoffLimit 1: one try and one retry, each a pod of its own.
    const job = (await get<V1Job>(plane, core.BatchJob, 'broken-v1-import'))!;
    expect(job.status?.failed).toBe(2);
    const pods = await list<V1Pod>(plane, core.Pod, `${assetLabels.kind}=Dataset,${assetLabels.version}=v1,batch.kubernetes.io/job-name=broken-v1-import`);
    expect(pods.map((p) => p.status?.phase)).toEqual(['Failed', 'Failed']);

    const events = await eventsAbout(plane, 'Dataset', 'broken');
    expect(events).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'Warning', reason: 'ImportFailed', note: 'version v1 failed (ImportFailed): access denied: bucket datasets' })]));
  });

  it('removes the claim and Job of a version taken out of spec', async () => {
    await start();
    await create(plane, octopus.Dataset, dataset('mnist', {
      import: { podMetadata: simulated('Succeed', report) },
      versions: [
        { name: 'v1', source: { http: { url: 'https://data.test/mnist.tar.gz' } } },
        { name: 'v2', source: { pvc: { claimName: 'mnist-shared' } } },
      ],
    }));
    await create<V1PersistentVolumeClaim>(plane, core.PersistentVolumeClaim, { metadata: { name: 'mnist-shared' }, spec: { accessModes: ['ReadOnlyMany'], resources: { requests: { storage: '1Gi' } } } });
    const ready = await waitFor<Dataset>(plane, octopus.Dataset, 'mnist', 'Ready', isReady);

    await plane.client.patch({ ...ready, metadata: { name: 'mnist', namespace: plane.namespace } }, { spec: { versions: [{ name: 'v2', source: { pvc: { claimName: 'mnist-shared' } } }] } });
    await waitGone(plane, core.BatchJob, 'mnist-v1-import');
    await waitGone(plane, core.PersistentVolumeClaim, 'mnist-v1');
    const after = await waitFor<Dataset>(plane, octopus.Dataset, 'mnist', 'only v2 listed', (d) => d.status?.versionCount === 1);
    expect(after.status).toMatchObject({ versions: [expect.objectContaining({ name: 'v2', phase: 'Ready' })], latestVersion: 'v2', observedGeneration: 2 });
    // The user's claim is the user's.
    expect(await get(plane, core.PersistentVolumeClaim, 'mnist-shared')).toBeDefined();
  });

  it('leaves garbage collection to remove claims and import Jobs when the dataset is deleted', async () => {
    await start();
    await create(plane, octopus.Dataset, dataset('cifar', { import: { podMetadata: simulated('Succeed', report) }, versions: [{ name: 'v1', source: { git: { url: 'https://git.test/cifar.git' } } }] }));
    const ready = await waitFor<Dataset>(plane, octopus.Dataset, 'cifar', 'Ready', isReady);
    // No finalizer: nothing outside the namespace to clean up.
    expect(ready.metadata.finalizers ?? []).toEqual([]);

    await plane.client.deleteIgnoreNotFound({ ...ready, metadata: { name: 'cifar', namespace: plane.namespace } });
    await waitGone(plane, core.BatchJob, 'cifar-v1-import', 60_000);
    await waitGone(plane, core.PersistentVolumeClaim, 'cifar-v1', 60_000);
  });

  it('never takes over an object it did not make: a claim name already in use fails the version', async () => {
    await start();
    await create<V1PersistentVolumeClaim>(plane, core.PersistentVolumeClaim, { metadata: { name: 'taken-v1' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } });
    await create(plane, octopus.Dataset, dataset('taken', { versions: [{ name: 'v1', source: { s3: { bucket: 'datasets' } } }] }));
    const failed = await waitFor<Dataset>(plane, octopus.Dataset, 'taken', 'v1 Failed', (d) => versionOf(d, 'v1')?.phase === 'Failed');
    expect(versionOf(failed, 'v1')).toMatchObject({ reason: 'NameConflict', message: 'PersistentVolumeClaim taken-v1 already exists and belongs to another owner; rename the Dataset or the version' });
    expect(await get(plane, core.BatchJob, 'taken-v1-import')).toBeUndefined();
    expect((await get<V1PersistentVolumeClaim>(plane, core.PersistentVolumeClaim, 'taken-v1'))?.metadata?.ownerReferences).toBeUndefined();
  });

  it('serves an nfs version through a volume and claim, and removes the volume with the dataset', async () => {
    await setPolicy({ nfs: [{ server: 'nfs.test', pathPrefix: '/exports' }] });
    await start();
    await create(plane, octopus.Dataset, dataset('coco', { versions: [{ name: 'v1', source: { nfs: { server: 'nfs.test', path: '/exports/coco' } } }] }));
    const ready = await waitFor<Dataset>(plane, octopus.Dataset, 'coco', 'Ready', isReady);
    expect(versionOf(ready, 'v1')).toMatchObject({ phase: 'Ready', reason: 'VolumeCreated', claimName: 'coco-v1' });
    expect(ready.metadata.finalizers).toEqual(['octopus.openi.pcl.cn/volumes']);

    const pvName = `octopus-${plane.namespace}-coco-v1`;
    const pv = (await get<V1PersistentVolume>(plane, core.PersistentVolume, pvName))!;
    expect(pv.spec).toMatchObject({ nfs: { server: 'nfs.test', path: '/exports/coco', readOnly: true }, persistentVolumeReclaimPolicy: 'Retain' });
    expect(pv.metadata?.labels?.[assetLabels.ownerUid]).toBe(ready.metadata.uid);
    const claim = await waitFor<V1PersistentVolumeClaim>(plane, core.PersistentVolumeClaim, 'coco-v1', 'bound to the volume', (c) => c.status?.phase === 'Bound');
    expect(claim.spec?.volumeName).toBe(pvName);

    await plane.client.deleteIgnoreNotFound({ ...ready, metadata: { name: 'coco', namespace: plane.namespace } });
    await waitGone(plane, octopus.Dataset, 'coco');
    await waitGone(plane, core.PersistentVolume, pvName, 60_000);
  });

  it('judges an nfs version again when the policy changes: denied, its volume and claim removed; allowed again, made again', async () => {
    await setPolicy({ nfs: [{ server: 'nfs.test', pathPrefix: '/exports/team' }] });
    await start();
    await create(plane, octopus.Dataset, dataset('voc', { versions: [{ name: 'v1', source: { nfs: { server: 'nfs.test', path: '/exports/team/voc' } } }] }));
    await waitFor<Dataset>(plane, octopus.Dataset, 'voc', 'Ready', isReady);
    const pvName = `octopus-${plane.namespace}-voc-v1`;
    expect(await get(plane, core.PersistentVolume, pvName)).toBeDefined();

    // The admin narrows the policy: the version that got in is denied, and its volume goes.
    await setPolicy({ nfs: [{ server: 'nfs.test', pathPrefix: '/exports/other' }] });
    const denied = await waitFor<Dataset>(plane, octopus.Dataset, 'voc', 'v1 denied', (d) => versionOf(d, 'v1')?.reason === 'StoragePolicyDenied');
    expect(versionOf(denied, 'v1')).toMatchObject({
      phase: 'Failed',
      message: `NFS nfs.test:/exports/team/voc is not allowed in workspace ${plane.namespace} (its spec.storage.nfs allows nfs.test:/exports/other)`,
    });
    expect(denied.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'VersionFailed' });
    await waitGone(plane, core.PersistentVolume, pvName, 60_000);
    await waitGone(plane, core.PersistentVolumeClaim, 'voc-v1', 60_000);
    const events = await eventsAbout(plane, 'Dataset', 'voc');
    expect(events).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'Warning', reason: 'StoragePolicyDenied' })]));

    // Without a Workspace nothing is allowed; with the export allowed again, the volume is made again.
    await plane.client.deleteIgnoreNotFound({ apiVersion, kind: 'Workspace', metadata: { name: plane.namespace } });
    await waitFor<Dataset>(plane, octopus.Dataset, 'voc', 'denied without a Workspace', (d) => versionOf(d, 'v1')?.message?.includes('which no Workspace owns') === true);
    await setPolicy({ nfs: [{ server: 'nfs.test', pathPrefix: '/exports/team' }] });
    await waitFor<Dataset>(plane, octopus.Dataset, 'voc', 'Ready again', isReady);
    expect(await get(plane, core.PersistentVolume, pvName)).toBeDefined();
    await plane.client.deleteIgnoreNotFound({ apiVersion, kind: 'Dataset', metadata: { name: 'voc', namespace: plane.namespace } });
    await waitGone(plane, core.PersistentVolume, pvName, 60_000);
  });

  it("uses a user's claim in place only when the volume behind it is one the policy allows", async () => {
    // A claim the user bound to a volume made by someone else (an admin's host path): the claim alone proves nothing.
    const pvName = `static-${plane.namespace}`;
    await plane.client.applyObject<V1PersistentVolume>({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: pvName },
      spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], storageClassName: '', hostPath: { path: '/tmp/octopus-local/static/platform' } },
    });
    try {
      await create<V1PersistentVolumeClaim>(plane, core.PersistentVolumeClaim, {
        metadata: { name: 'borrowed' },
        spec: { accessModes: ['ReadWriteOnce'], storageClassName: '', volumeName: pvName, resources: { requests: { storage: '1Gi' } } },
      });
      await start();
      await create(plane, octopus.Dataset, dataset('borrowed', { versions: [{ name: 'v1', source: { pvc: { claimName: 'borrowed' } } }] }));
      const denied = await waitFor<Dataset>(plane, octopus.Dataset, 'borrowed', 'v1 denied', (d) => versionOf(d, 'v1')?.reason === 'StoragePolicyDenied');
      expect(versionOf(denied, 'v1')).toMatchObject({
        phase: 'Failed',
        message: `PersistentVolume ${pvName}: host path /tmp/octopus-local/static/platform is not allowed in namespace ${plane.namespace}, which no Workspace owns (nothing is allowed there)`,
      });

      await setPolicy({ hostPaths: ['/tmp/octopus-local/static'] });
      const ready = await waitFor<Dataset>(plane, octopus.Dataset, 'borrowed', 'Ready once allowed', isReady);
      expect(versionOf(ready, 'v1')).toMatchObject({ phase: 'Ready', reason: 'ClaimFound', claimName: 'borrowed' });
    } finally {
      await plane.client.deleteIgnoreNotFound({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'borrowed', namespace: plane.namespace } });
      await plane.client.deleteIgnoreNotFound({ apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: pvName } });
    }
  });

  it('creates no import claim of a StorageClass the policy does not list', async () => {
    await setPolicy({ storageClasses: ['fast'] });
    await start();
    await create(plane, octopus.Dataset, dataset('classy', { storage: { storageClassName: 'slow' }, versions: [{ name: 'v1', source: { s3: { bucket: 'datasets' } } }] }));
    const denied = await waitFor<Dataset>(plane, octopus.Dataset, 'classy', 'v1 denied', (d) => versionOf(d, 'v1')?.reason === 'StoragePolicyDenied');
    expect(versionOf(denied, 'v1')?.message).toBe(`StorageClass "slow" is not allowed in workspace ${plane.namespace} (its spec.storage.storageClasses allows fast)`);
    expect(await get(plane, core.PersistentVolumeClaim, 'classy-v1')).toBeUndefined();
    expect(await get(plane, core.BatchJob, 'classy-v1-import')).toBeUndefined();
  });
});
