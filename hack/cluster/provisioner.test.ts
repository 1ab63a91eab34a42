import { describe, expect, it } from '@jest/globals';
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { storageClassName, volumeFor, wantsVolume } from './provisioner.js';

const claim = (extra: { class?: string; volumeName?: string; phase?: string; deleting?: boolean } = {}): V1PersistentVolumeClaim => ({
  metadata: { name: 'data', namespace: 'team-a', uid: 'u-1', ...(extra.deleting ? { deletionTimestamp: new Date() } : {}) },
  spec: {
    storageClassName: extra.class ?? storageClassName,
    accessModes: ['ReadWriteMany'],
    resources: { requests: { storage: '20Gi' } },
    ...(extra.volumeName ? { volumeName: extra.volumeName } : {}),
  },
  status: { phase: extra.phase ?? 'Pending' },
});

describe('provisioner', () => {
  it.each([
    { name: 'a pending claim of our class', c: claim(), want: true },
    { name: 'another class', c: claim({ class: 'fast' }), want: false },
    { name: 'a claim naming its volume (static binding, e.g. NFS)', c: claim({ volumeName: 'nfs-pv' }), want: false },
    { name: 'a bound claim', c: claim({ phase: 'Bound' }), want: false },
    { name: 'a claim being deleted', c: claim({ deleting: true }), want: false },
  ])('serves $name: $want', ({ c, want }) => {
    expect(wantsVolume(c)).toBe(want);
  });

  it('makes a volume of the claim\'s size and modes, pre-bound to it', () => {
    const pv = volumeFor(claim());
    expect(pv.metadata?.name).toBe('pvc-u-1');
    expect(pv.spec).toMatchObject({
      capacity: { storage: '20Gi' },
      accessModes: ['ReadWriteMany'],
      storageClassName,
      claimRef: { namespace: 'team-a', name: 'data', uid: 'u-1' },
      persistentVolumeReclaimPolicy: 'Delete',
    });
  });
});
