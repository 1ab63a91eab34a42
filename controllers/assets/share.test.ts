import { describe, expect, it } from '@jest/globals';
import type { V1PersistentVolume } from '@kubernetes/client-node';
import { desiredSharedClaim, desiredSharedVolume, sharedClaimName, sharedVolumeName, sharingReference } from './share.js';

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
    expect(sharedClaimName(source)).toBe('shared-shared-dataset-imagenet-v1');
    const long = sharedClaimName({ namespace: 'n'.repeat(63), claimName: 'c'.repeat(63) });
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).not.toBe(sharedClaimName({ namespace: 'n'.repeat(63), claimName: `${'c'.repeat(62)}d` }));
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
