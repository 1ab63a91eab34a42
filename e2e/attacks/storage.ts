/**
 * Attacks on storage (items 1 and 7 of the tenant isolation issue). (1) An in-place source such as
 * `nfs: {server: nfs.platform.internal, path: /}` became a PersistentVolume pods mount, and a claim a
 * member bound to a volume nobody granted was used in place. (7) Shared claims: an existing claim was
 * reused by name without checking its origin, `shared-<ns>-<claim>` names could collide, a Job whose
 * output claim was named like a shared claim got it mounted writable, and only some volume types were
 * forced read-only. Each is tried again as the member; the admin only grants, and reads what is left.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, KubernetesObjectApi, PatchStrategy, type KubernetesObject, type V1PersistentVolume, type V1PersistentVolumeClaim, type V1Pod } from '@kubernetes/client-node';
import { apiVersion, type Dataset, type Job, type Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { sharedClaimName, sharedLabel, sharedVolumeName } from '../../controllers/assets/share.js';
import { eventually } from '../harness/kube.js';
import type { AttackWorld } from './tenants.js';

/** The field manager of the admin's grants: applying without them takes exactly them back. */
const grantManager = 'octopus-attacks-storage';
const jobLabel = 'octopus.openi.pcl.cn/job';
/** Simulated pods that run until deleted (README "Simulated pods"). */
const keepRunning = { 'sim.octopus.openi.pcl.cn/outcome': 'Run' };

type VersionSource = NonNullable<Dataset['spec']['versions']>[number]['source'];

function dataset(namespace: string, name: string, source: VersionSource, extra: Partial<Dataset['spec']> = {}): Dataset {
  return { apiVersion, kind: 'Dataset', metadata: { name, namespace }, spec: { versions: [{ name: 'v1', source }], ...extra } };
}

function job(namespace: string, name: string, extra: Partial<Job['spec']> = {}): Job {
  return {
    apiVersion,
    kind: 'Job',
    metadata: { name, namespace },
    spec: {
      image: { reference: 'docker.io/library/python:3.12' },
      pool: 'cpu',
      tasks: [{ name: 'worker', replicas: 1, resources: { requests: { cpu: '100m', memory: '64Mi' } }, podMetadata: { annotations: keepRunning } }],
      ...extra,
    },
  };
}

const claim = (namespace: string, name: string, spec: V1PersistentVolumeClaim['spec'] = {}, metadata: V1PersistentVolumeClaim['metadata'] = {}): V1PersistentVolumeClaim => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { ...metadata, name, namespace },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, ...spec },
});

/** A volume only an admin makes: a host path the platform keeps for itself. */
const platformVolume = (name: string): V1PersistentVolume => ({
  apiVersion: 'v1',
  kind: 'PersistentVolume',
  metadata: { name },
  spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], storageClassName: '', persistentVolumeReclaimPolicy: 'Retain', hostPath: { path: `/tmp/octopus-local/attacks/${name}` } },
});

const ref = (kind: string, namespace: string, name: string) => ({ apiVersion, kind, metadata: { name, namespace } });

async function grant(w: AttackWorld, storage: Workspace['spec']['storage'] | undefined): Promise<void> {
  const workspace = { apiVersion, kind: 'Workspace', metadata: { name: w.ns }, ...(storage && { spec: { storage } }) } as KubernetesObject;
  await KubernetesObjectApi.makeApiClient(w.admin).patch(workspace, undefined, undefined, grantManager, true, PatchStrategy.ServerSideApply);
}

type VersionStatus = NonNullable<NonNullable<Dataset['status']>['versions']>[number];

/** Waits until version v1 of the Dataset satisfies `check`, as the admin reads it; returns its status. */
async function versionWhen(w: AttackWorld, namespace: string, name: string, what: string, check: (v: VersionStatus) => boolean): Promise<VersionStatus> {
  return eventually(
    `Dataset ${namespace}/${name} v1 ${what}`,
    async () => {
      const v = (await w.read<Dataset>(ref('Dataset', namespace, name)))?.status?.versions?.find((s) => s.name === 'v1');
      return v && check(v) ? v : undefined;
    },
    60_000,
  );
}

async function volumeNames(w: AttackWorld): Promise<string[]> {
  return (await w.admin.makeApiClient(CoreV1Api).listPersistentVolume()).items.map((pv) => pv.metadata!.name!);
}

async function podsOf(w: AttackWorld, name: string): Promise<V1Pod[]> {
  return (await w.admin.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: w.ns, labelSelector: `${jobLabel}=${name}` })).items;
}

async function jobCondition(w: AttackWorld, name: string, type: string) {
  return (await w.read<Job>(ref('Job', w.ns, name)))?.status?.conditions?.find((c) => c.type === type);
}

/** Deletes what the attacks left, as the admin, and waits until each is gone. */
async function remove(w: AttackWorld, objects: KubernetesObject[]): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(w.admin);
  for (const obj of objects.reverse()) await api.delete(obj).catch(() => undefined);
  for (const obj of objects) {
    await eventually(`${obj.kind} ${obj.metadata?.name} gone`, async () => ((await w.read(obj as never)) === undefined ? true : undefined), 90_000);
  }
}

/** The squatter Job reports the forged claim and runs nothing; the claim is not joined, and no volume binds to it. */
async function squatted(w: AttackWorld, name: string): Promise<void> {
  const running = await eventually(
    'the Job says why it cannot run',
    async () => {
      const c = await jobCondition(w, 'squatter', 'Running');
      return c?.reason === 'NotShareable' ? c : undefined;
    },
    90_000,
  );
  expect(running.message).toBe(`claim ${name} in namespace ${w.ns} was not made by Octopus for claim atk-b/imagenet; it is not adopted (delete or rename it)`);
  expect(await podsOf(w, 'squatter')).toEqual([]);
  const after = await w.read<V1PersistentVolumeClaim>({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name, namespace: w.ns } });
  expect(after?.metadata?.ownerReferences).toBeUndefined();
  expect(await volumeNames(w)).not.toContain(sharedVolumeName(w.ns, { namespace: 'atk-b', claimName: 'imagenet' }));
}

export function describeStorageAttacks(world: () => AttackWorld): void {
  describe('1. In-place storage from a manifest', () => {
    const left: KubernetesObject[] = [];

    afterAll(async () => {
      await grant(world(), undefined);
      await remove(world(), left.splice(0));
    }, 180_000);

    it("an NFS export of the platform's server is refused naming the field, and no volume is made", async () => {
      const w = world();
      const refused = await w.tryApply(dataset(w.ns, 'steal', { nfs: { server: 'nfs.platform.internal', path: '/' } }));
      expect(refused).toContain(`spec.versions[0].source.nfs: NFS nfs.platform.internal:/ is not allowed in workspace ${w.ns} (its spec.storage.nfs allows none)`);
      // A StorageClass nobody granted is refused likewise.
      const classy = await w.tryApply(dataset(w.ns, 'classy', { s3: { bucket: 'datasets' } }, { storage: { storageClassName: 'platform-ssd' } }));
      expect(classy).toContain(`spec.storage.storageClassName: StorageClass "platform-ssd" is not allowed in workspace ${w.ns}`);
      expect(await w.read(ref('Dataset', w.ns, 'steal'))).toBeUndefined();
      expect(await w.read(ref('Dataset', w.ns, 'classy'))).toBeUndefined();
      expect((await volumeNames(w)).filter((n) => n.startsWith(`octopus-${w.ns}-`))).toEqual([]);
    });

    it('an export the admin grants is served read-only; climbing out of it is refused; taken back, the controller denies the version and removes its volume', async () => {
      const w = world();
      await grant(w, { nfs: [{ server: 'nfs.atk-a.example', pathPrefix: '/exports/atk-a' }] });
      const granted = dataset(w.ns, 'granted', { nfs: { server: 'nfs.atk-a.example', path: '/exports/atk-a/coco' } });
      left.push(granted);
      // The webhook reads the Workspace from its cache: the grant arrives there shortly.
      await eventually('the granted export is accepted', async () => ((await w.tryApply(granted)) === undefined ? true : undefined), 30_000);
      const escape = await w.tryApply(dataset(w.ns, 'escape', { nfs: { server: 'nfs.atk-a.example', path: '/exports/atk-a/../atk-b' } }));
      expect(escape).toContain('spec.versions[0].source.nfs: NFS nfs.atk-a.example:/exports/atk-a/../atk-b is not allowed');

      const pvName = `octopus-${w.ns}-granted-v1`;
      await versionWhen(w, w.ns, 'granted', 'Ready', (v) => v.phase === 'Ready');
      const pv = await w.read<V1PersistentVolume>({ apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: pvName } });
      expect(pv?.spec).toMatchObject({ nfs: { server: 'nfs.atk-a.example', path: '/exports/atk-a/coco', readOnly: true }, accessModes: ['ReadOnlyMany'] });

      await grant(w, undefined);
      const denied = await versionWhen(w, w.ns, 'granted', 'denied', (v) => v.reason === 'StoragePolicyDenied');
      expect(denied).toMatchObject({ phase: 'Failed', message: `NFS nfs.atk-a.example:/exports/atk-a/coco is not allowed in workspace ${w.ns} (its spec.storage.nfs allows none)` });
      await eventually('its volume removed', async () => ((await volumeNames(w)).includes(pvName) ? undefined : true), 60_000);
      // The version that got in does not block unrelated edits of its Dataset.
      expect(await w.tryApply({ ...granted, spec: { ...granted.spec, description: 'COCO 2017' } } as Dataset)).toBeUndefined();
    }, 180_000);

    it('a claim the member bound to a volume nobody granted is not used in place', async () => {
      const w = world();
      const pv = platformVolume(`atk-platform-${w.ns}`);
      await KubernetesObjectApi.makeApiClient(w.admin).create(pv);
      left.push(pv);
      const borrowed = claim(w.ns, 'borrowed', { storageClassName: '', volumeName: pv.metadata!.name! });
      const planted = dataset(w.ns, 'borrowed', { pvc: { claimName: 'borrowed' } });
      left.push(borrowed, planted);
      // Claims are the member's to make: the binding itself is Kubernetes' business.
      expect(await w.tryApply(borrowed)).toBeUndefined();
      expect(await w.tryApply(planted)).toBeUndefined();
      const v = await versionWhen(w, w.ns, 'borrowed', 'denied', (s) => s.reason === 'StoragePolicyDenied');
      expect(v).toMatchObject({ phase: 'Failed', message: `PersistentVolume ${pv.metadata!.name}: host path ${pv.spec!.hostPath!.path} is not allowed in workspace ${w.ns} (its spec.storage.hostPaths allows none)` });
    }, 120_000);
  });

  describe('7. Shared claims', () => {
    const left: KubernetesObject[] = [];
    const source = { namespace: 'atk-b', claimName: 'imagenet' };

    beforeAll(async () => {
      const w = world();
      // The victim publishes a dataset on a claim of its own.
      const api = KubernetesObjectApi.makeApiClient(w.admin);
      const victimClaim = claim(w.victimNs, 'imagenet');
      const published = dataset(w.victimNs, 'imagenet', { pvc: { claimName: 'imagenet' } }, { visibility: 'Public' });
      await api.create(victimClaim);
      await api.create(published);
      left.push(victimClaim, published);
      await versionWhen(w, w.victimNs, 'imagenet', 'Ready', (v) => v.phase === 'Ready');
    }, 120_000);

    afterAll(async () => {
      await remove(world(), left.splice(0));
    }, 180_000);

    it('a claim pre-created under the name the controller would use is not adopted: the Job reports it and runs nothing', async () => {
      const w = world();
      const name = sharedClaimName(source);
      const forged = claim(w.ns, name, { storageClassName: '', volumeName: sharedVolumeName(w.ns, source) }, { labels: { [sharedLabel]: 'true' }, annotations: { 'octopus.openi.pcl.cn/shared-from': 'atk-b/imagenet' } });
      expect(await w.tryApply(forged)).toBeUndefined();
      const reader = job(w.ns, 'squatter', { datasets: [{ name: 'imagenet', namespace: w.victimNs, version: 'v1' }] });
      try {
        expect(await w.tryApply(reader)).toBeUndefined();
        await squatted(w, name);
      } finally {
        // The next attack needs the name back.
        await remove(w, [forged, reader]);
      }
    }, 180_000);

    it('a shared claim is mounted read-only only, on a read-only volume, and a Job never gets a claim it does not own at /model', async () => {
      const w = world();
      const reader = job(w.ns, 'reader', { datasets: [{ name: 'imagenet', namespace: w.victimNs, version: 'v1' }] });
      left.push(reader);
      expect(await w.tryApply(reader)).toBeUndefined();
      const [pod] = await eventually('the reader runs', async () => {
        const pods = await podsOf(w, 'reader');
        return pods.length > 0 ? pods : undefined;
      }, 90_000);
      const shared = sharedClaimName(source);
      const volume = pod!.spec!.volumes!.find((v) => v.persistentVolumeClaim?.claimName === shared)!;
      expect(volume.persistentVolumeClaim!.readOnly).toBe(true);
      expect(pod!.spec!.containers.flatMap((c) => c.volumeMounts ?? []).filter((m) => m.name === volume.name)).toEqual([expect.objectContaining({ readOnly: true })]);

      // Every shared volume in the cluster is read-only: its access mode, and its source wherever the type has a switch.
      const sharedVolumes = (await w.admin.makeApiClient(CoreV1Api).listPersistentVolume({ labelSelector: `${sharedLabel}=true` })).items;
      expect(sharedVolumes.map((pv) => pv.metadata!.name)).toContain(sharedVolumeName(w.ns, source));
      for (const pv of sharedVolumes) {
        expect(pv.spec?.accessModes).toEqual(['ReadOnlyMany']);
        for (const kind of ['nfs', 'csi', 'iscsi', 'rbd', 'cephfs'] as const) if (pv.spec?.[kind]) expect(pv.spec[kind]).toMatchObject({ readOnly: true });
      }

      // The old trick: a Job named so that its output claim (<job>-output) is the shared claim. Shared
      // names end in a hash, never in -output; and a claim the member planted under the output name is refused.
      expect(shared.endsWith('-output')).toBe(false);
      const planted = claim(w.ns, 'thief-output', { storageClassName: '', volumeName: `atk-platform-${w.ns}-out` });
      const outVolume = platformVolume(`atk-platform-${w.ns}-out`);
      await KubernetesObjectApi.makeApiClient(w.admin).create(outVolume);
      const thief = job(w.ns, 'thief', { output: { model: { name: 'loot' } } });
      left.push(outVolume, planted, thief);
      expect(await w.tryApply(planted)).toBeUndefined();
      expect(await w.tryApply(thief)).toBeUndefined();
      const running = await eventually('the thief says why it cannot run', async () => {
        const c = await jobCondition(w, 'thief', 'Running');
        return c?.reason === 'NotShareable' ? c : undefined;
      }, 90_000);
      expect(running.message).toBe(`PersistentVolumeClaim thief-output already exists in namespace ${w.ns} and is not this Job's; it is not used`);
      expect(await podsOf(w, 'thief')).toEqual([]);
    }, 240_000);

    it('shared names of different sources never collide', () => {
      // Under the old scheme both were shared-atk-b-x-data.
      expect(sharedClaimName({ namespace: 'atk-b', claimName: 'x-data' })).not.toBe(sharedClaimName({ namespace: 'atk-b-x', claimName: 'data' }));
      expect(sharedVolumeName('atk-a', { namespace: 'atk-b', claimName: 'x-data' })).not.toBe(sharedVolumeName('atk-a', { namespace: 'atk-b-x', claimName: 'data' }));
    });
  });
}
