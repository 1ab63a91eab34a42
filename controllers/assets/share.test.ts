import { describe, expect, it } from '@jest/globals';
import type { V1PersistentVolume } from '@kubernetes/client-node';
import { desiredSharedClaim, desiredSharedVolume, sharedClaimConflict, sharedClaimName, sharedVolumeName, sharingReference } from './share.js';

const source = { namespace: 'shared', claimName: 'dataset-imagenet-v1' };

const volume = (spec: V1PersistentVolume['spec']): V1PersistentVolume => ({
  apiVersion: 'v1',
  kind: 'PersistentVolume',
  metadata: { name: 'pv-source' },
  spec: {
    capacity: { storage: '100Gi' },
    accessModes: ['ReadWriteOnce'],
    persistentVolumeReclaimPolicy: 'Delete',
    storageClassName: 'standard',
    claimRef: { namespace: 'shared', name: 'dataset-imagenet-v1', uid: 'u-1' },
    ...spec,
  },
});

describe('desiredSharedVolume', () => {
  it.each([
    {
      name: 'an NFS volume: same server and path, read-only',
      spec: { nfs: { server: 'nfs.example', path: '/exports/imagenet' } },
      want: { nfs: { server: 'nfs.example', path: '/exports/imagenet', readOnly: true } },
    },
    {
      name: "a CSI volume: same handle, read-only, its secret still the owner's reference",
      spec: { csi: { driver: 'csi.example', volumeHandle: 'vol-1', nodePublishSecretRef: { name: 'creds', namespace: 'shared' } } },
      want: { csi: { driver: 'csi.example', volumeHandle: 'vol-1', readOnly: true, nodePublishSecretRef: { name: 'creds', namespace: 'shared' } } },
    },
    {
      name: 'a host path volume with node affinity: both kept (the pod mounts it read-only)',
      spec: { hostPath: { path: '/var/lib/data/pvc-1' }, nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['n1'] }] }] } } },
      want: { hostPath: { path: '/var/lib/data/pvc-1' }, nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['n1'] }] }] } } },
    },
  ])('$name', ({ spec, want }) => {
    const shared = desiredSharedVolume(volume(spec), 'team-b', source) as V1PersistentVolume;
    expect(shared.spec).toEqual({
      capacity: { storage: '100Gi' },
      ...want,
      accessModes: ['ReadOnlyMany'],
      // Retain: deleting the shared object must never delete the source's data.
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: '',
      claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: 'team-b', name: sharedClaimName(source) },
    });
    expect(shared.metadata?.annotations).toEqual({ 'octopus.openi.pcl.cn/shared-from': 'shared/dataset-imagenet-v1' });
  });

  it('names a volume without a spec', () => {
    expect(desiredSharedVolume({ metadata: { name: 'odd' } }, 'team-b', source)).toEqual({ error: 'PersistentVolume odd has no spec' });
  });
});

describe('shared names', () => {
  it('are per consumer namespace and source, stable, and valid object names', () => {
    const a = sharedVolumeName('team-b', source);
    expect(a).toBe(sharedVolumeName('team-b', source));
    expect(a).not.toBe(sharedVolumeName('team-c', source));
    expect(a).not.toBe(sharedVolumeName('team-b', { namespace: 'other', claimName: source.claimName }));
    expect(sharedClaimName(source)).toMatch(/^shared-dataset-imagenet-v1-[0-9a-f]{16}$/);
    const long = sharedClaimName({ namespace: 'n'.repeat(63), claimName: 'c'.repeat(63) });
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).not.toBe(sharedClaimName({ namespace: 'n'.repeat(63), claimName: `${'c'.repeat(62)}d` }));
  });

  it.each([
    { name: 'dashes split differently', a: { namespace: 'team-a', claimName: 'data' }, b: { namespace: 'team', claimName: 'a-data' } },
    { name: 'the same claim in two namespaces', a: { namespace: 'team-a', claimName: 'data' }, b: { namespace: 'team-b', claimName: 'data' } },
    { name: 'long names cut to the same prefix', a: { namespace: 'x', claimName: `${'c'.repeat(80)}-1` }, b: { namespace: 'x', claimName: `${'c'.repeat(80)}-2` } },
  ])('never collide: $name', ({ a, b }) => {
    expect(sharedClaimName(a)).not.toBe(sharedClaimName(b));
    expect(sharedVolumeName('consumer', a)).not.toBe(sharedVolumeName('consumer', b));
  });

  it("are DNS-safe, bounded, and never a Job's output claim name (<job>-output)", () => {
    for (const claimName of ['train-output', 'a.b-output', 'x'.repeat(253), 'shared-atk-b-x-output']) {
      const name = sharedClaimName({ namespace: 'atk-b', claimName });
      expect(name).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
      expect(name.length).toBeLessThanOrEqual(63);
      expect(name.endsWith('-output')).toBe(false);
    }
  });
});

describe('read-only sharing', () => {
  it.each([
    { name: 'a vSphere volume (no readOnly switch)', spec: { vsphereVolume: { volumePath: '[ds] v.vmdk' } }, want: 'PersistentVolume pv-source is a vsphereVolume volume, which cannot be shared read-only' },
    { name: 'a volume naming no source', spec: {}, want: 'PersistentVolume pv-source is an unknown volume, which cannot be shared read-only' },
  ])('refuses $name', ({ spec, want }) => {
    expect(desiredSharedVolume(volume(spec), 'team-b', source)).toEqual({ error: want });
  });

  it.each(['iscsi', 'rbd', 'cephfs', 'awsElasticBlockStore', 'gcePersistentDisk', 'azureDisk', 'cinder'])('sets readOnly on a %s volume', (kind) => {
    const shared = desiredSharedVolume(volume({ [kind]: { volumeID: 'v' } } as V1PersistentVolume['spec']), 'team-b', source) as V1PersistentVolume;
    expect((shared.spec as Record<string, { readOnly?: boolean }>)[kind]?.readOnly).toBe(true);
  });

  it("pre-binds the volume to the consumer claim's UID once known", () => {
    const shared = desiredSharedVolume(volume({ nfs: { server: 's', path: '/p' } }), 'team-b', { ...source, uid: 'src-uid' }, 'claim-uid') as V1PersistentVolume;
    expect(shared.spec?.claimRef).toEqual({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: 'team-b', name: sharedClaimName(source), uid: 'claim-uid' });
    expect(shared.metadata?.annotations).toEqual({ 'octopus.openi.pcl.cn/shared-from': 'shared/dataset-imagenet-v1', 'octopus.openi.pcl.cn/shared-from-uid': 'src-uid' });
  });
});

describe('sharedClaimConflict', () => {
  const origin = { ...source, uid: 'src-uid' };
  const pairVolume = desiredSharedVolume(volume({ nfs: { server: 's', path: '/p' } }), 'team-b', origin) as V1PersistentVolume;
  const ours = desiredSharedClaim(pairVolume, 'team-b', origin, { apiVersion: 'v1', kind: 'Job', name: 'j', uid: 'j' });
  const conflict = `claim ${sharedClaimName(source)} in namespace team-b was not made by Octopus for claim shared/dataset-imagenet-v1; it is not adopted (delete or rename it)`;
  const withMeta = (annotations: Record<string, string>, labels = ours.metadata!.labels!, volumeName = ours.spec!.volumeName) => ({ ...ours, metadata: { ...ours.metadata, annotations, labels }, spec: { ...ours.spec, volumeName } });
  it.each([
    { name: 'the pair made for this claim', claim: ours, want: undefined },
    { name: "a user's claim without the origin", claim: withMeta({}, {}), want: conflict },
    { name: 'a copy of the origin without the UID', claim: withMeta({ 'octopus.openi.pcl.cn/shared-from': 'shared/dataset-imagenet-v1' }), want: conflict },
    { name: 'the pair of an earlier claim of the same name', claim: withMeta({ ...ours.metadata!.annotations!, 'octopus.openi.pcl.cn/shared-from-uid': 'old-uid' }), want: conflict },
    { name: 'the right origin bound to another volume', claim: withMeta(ours.metadata!.annotations!, ours.metadata!.labels!, 'pv-elsewhere'), want: conflict },
  ])('$name', ({ claim, want }) => {
    expect(sharedClaimConflict(claim, 'team-b', origin)).toBe(want);
  });
});

describe('desiredSharedClaim', () => {
  it('binds to the shared volume by name, read-only, owned without control by the workload', () => {
    const shared = desiredSharedVolume(volume({ nfs: { server: 's', path: '/p' } }), 'team-b', source) as V1PersistentVolume;
    const owner = sharingReference({ apiVersion: 'octopus.openi.pcl.cn/v1alpha1', kind: 'Job', metadata: { name: 'train', namespace: 'team-b', uid: 'job-uid' } });
    const claim = desiredSharedClaim(shared, 'team-b', source, owner);
    expect(claim.metadata).toMatchObject({ name: sharedClaimName(source), namespace: 'team-b', ownerReferences: [{ kind: 'Job', name: 'train', uid: 'job-uid' }] });
    expect(claim.metadata?.ownerReferences?.[0]?.controller).toBeUndefined();
    expect(claim.spec).toEqual({ accessModes: ['ReadOnlyMany'], storageClassName: '', volumeName: shared.metadata!.name, resources: { requests: { storage: '100Gi' } } });
  });
});
