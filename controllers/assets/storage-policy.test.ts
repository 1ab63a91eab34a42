import { describe, expect, it } from '@jest/globals';
import type { V1PersistentVolume, V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { nfsProblem, pathWithin, storageClassProblem, volumeProblem, type StoragePolicy } from './storage-policy.js';

const policy: StoragePolicy = {
  workspace: 'team-a',
  storage: {
    nfs: [{ server: 'nfs.team-a.example', pathPrefix: '/exports/team-a' }, { server: '10.0.0.7', pathPrefix: '/' }],
    csiDrivers: ['nfs.csi.k8s.io'],
    storageClasses: ['fast'],
    hostPaths: ['/srv/data/'],
  },
};
const none: StoragePolicy = { workspace: 'team-b', storage: {} };

describe('pathWithin', () => {
  it.each([
    { path: '/exports/team-a', prefix: '/exports/team-a', want: true },
    { path: '/exports/team-a/imagenet', prefix: '/exports/team-a', want: true },
    { path: '/exports/team-a/', prefix: '/exports/team-a', want: true },
    { path: '/exports//team-a/x', prefix: '/exports/team-a/', want: true },
    { path: '/anything', prefix: '/', want: true },
    { path: '/', prefix: '/', want: true },
    { path: '/exports/team-ab', prefix: '/exports/team-a', want: false },
    { path: '/exports', prefix: '/exports/team-a', want: false },
    { path: '/', prefix: '/exports/team-a', want: false },
    { path: '/exports/team-a/../team-b', prefix: '/exports/team-a', want: false },
    { path: '/exports/team-a/./x', prefix: '/exports/team-a', want: false },
    { path: '/exports/team-a/..', prefix: '/', want: false },
    { path: '/exports/Team-A', prefix: '/exports/team-a', want: false },
  ])('$path within $prefix: $want', ({ path, prefix, want }) => {
    expect(pathWithin(path, prefix)).toBe(want);
  });
});

describe('nfsProblem', () => {
  it.each([
    { name: 'an export below an allowed prefix', nfs: { server: 'nfs.team-a.example', path: '/exports/team-a/coco' }, want: undefined },
    { name: 'the server named in another case', nfs: { server: 'NFS.team-a.example', path: '/exports/team-a' }, want: undefined },
    { name: 'any path of a server allowed at /', nfs: { server: '10.0.0.7', path: '/x/y' }, want: undefined },
    {
      name: 'the root of the platform server',
      nfs: { server: 'nfs.platform.internal', path: '/' },
      want: 'NFS nfs.platform.internal:/ is not allowed in workspace team-a (its spec.storage.nfs allows nfs.team-a.example:/exports/team-a, 10.0.0.7:/)',
    },
    {
      name: "an allowed prefix on another server",
      nfs: { server: 'nfs.other.example', path: '/exports/team-a' },
      want: 'NFS nfs.other.example:/exports/team-a is not allowed in workspace team-a (its spec.storage.nfs allows nfs.team-a.example:/exports/team-a, 10.0.0.7:/)',
    },
    {
      name: 'a sibling sharing the prefix as a string',
      nfs: { server: 'nfs.team-a.example', path: '/exports/team-ab' },
      want: 'NFS nfs.team-a.example:/exports/team-ab is not allowed in workspace team-a (its spec.storage.nfs allows nfs.team-a.example:/exports/team-a, 10.0.0.7:/)',
    },
    {
      name: 'climbing out with ..',
      nfs: { server: 'nfs.team-a.example', path: '/exports/team-a/../../etc' },
      want: 'NFS nfs.team-a.example:/exports/team-a/../../etc is not allowed in workspace team-a (its spec.storage.nfs allows nfs.team-a.example:/exports/team-a, 10.0.0.7:/)',
    },
  ])('$name', ({ nfs, want }) => {
    expect(nfsProblem(policy, 'team-a', nfs)).toBe(want);
  });

  it('allows nothing by default, nor where no Workspace owns the namespace', () => {
    expect(nfsProblem(none, 'team-b', { server: 's', path: '/p' })).toBe('NFS s:/p is not allowed in workspace team-b (its spec.storage.nfs allows none)');
    expect(nfsProblem(undefined, 'loose', { server: 's', path: '/p' })).toBe('NFS s:/p is not allowed in namespace loose, which no Workspace owns (nothing is allowed there)');
  });
});

describe('storageClassProblem', () => {
  it.each([
    { name: 'unset: the cluster default', policy, className: undefined, want: undefined },
    { name: 'unset without a Workspace', policy: undefined, className: undefined, want: undefined },
    { name: 'a listed class', policy, className: 'fast', want: undefined },
    { name: 'an unlisted class', policy, className: 'slow', want: 'StorageClass "slow" is not allowed in workspace team-a (its spec.storage.storageClasses allows fast)' },
    { name: 'the empty class (static volumes)', policy, className: '', want: 'StorageClass "" is not allowed in workspace team-a (its spec.storage.storageClasses allows fast)' },
    { name: 'a class where none is listed', policy: none, className: 'fast', want: 'StorageClass "fast" is not allowed in workspace team-b (its spec.storage.storageClasses allows none)' },
    { name: 'a class without a Workspace', policy: undefined, className: 'fast', want: 'StorageClass "fast" is not allowed in namespace x, which no Workspace owns (nothing is allowed there)' },
  ])('$name', ({ policy: p, className, want }) => {
    expect(storageClassProblem(p, p?.workspace ?? 'x', className)).toBe(want);
  });
});

describe('volumeProblem', () => {
  const claim: V1PersistentVolumeClaim = { metadata: { name: 'data', namespace: 'team-a', uid: 'claim-uid' } };
  const pv = (spec: V1PersistentVolume['spec'], annotations?: Record<string, string>): V1PersistentVolume => ({
    metadata: { name: 'pv-1', ...(annotations && { annotations }) },
    spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], claimRef: { namespace: 'team-a', name: 'data', uid: 'claim-uid' }, ...spec },
  });
  const provisioned = { 'pv.kubernetes.io/provisioned-by': 'octopus.local/hostpath' };

  it.each([
    { name: 'provisioned for this claim, whatever its kind', volume: pv({ hostPath: { path: '/tmp/volumes/claim-uid' } }, provisioned), p: undefined, want: undefined },
    {
      name: 'provisioned for an earlier claim of the same name',
      volume: pv({ hostPath: { path: '/tmp/volumes/old' }, claimRef: { namespace: 'team-a', name: 'data', uid: 'old-uid' } }, provisioned),
      p: policy,
      want: 'PersistentVolume pv-1: host path /tmp/volumes/old is not allowed in workspace team-a (its spec.storage.hostPaths allows /srv/data/)',
    },
    {
      name: 'a static volume claiming to be provisioned is still only that if bound to this claim',
      volume: pv({ nfs: { server: 'nfs.platform.internal', path: '/' }, claimRef: undefined }, provisioned),
      p: policy,
      want: 'PersistentVolume pv-1: NFS nfs.platform.internal:/ is not allowed in workspace team-a (its spec.storage.nfs allows nfs.team-a.example:/exports/team-a, 10.0.0.7:/)',
    },
    { name: 'static NFS at an allowed export', volume: pv({ nfs: { server: 'nfs.team-a.example', path: '/exports/team-a/x' } }), p: policy, want: undefined },
    { name: 'static CSI of an allowed driver', volume: pv({ csi: { driver: 'nfs.csi.k8s.io', volumeHandle: 'h' } }), p: policy, want: undefined },
    {
      name: 'static CSI of another driver',
      volume: pv({ csi: { driver: 'ebs.csi.aws.com', volumeHandle: 'h' } }),
      p: policy,
      want: 'PersistentVolume pv-1: CSI driver ebs.csi.aws.com is not allowed in workspace team-a (its spec.storage.csiDrivers allows nfs.csi.k8s.io)',
    },
    { name: 'static host path below an allowed prefix', volume: pv({ hostPath: { path: '/srv/data/team-a' } }), p: policy, want: undefined },
    {
      name: 'static host path outside',
      volume: pv({ hostPath: { path: '/srv/database' } }),
      p: policy,
      want: 'PersistentVolume pv-1: host path /srv/database is not allowed in workspace team-a (its spec.storage.hostPaths allows /srv/data/)',
    },
    {
      name: 'a kind no policy names',
      volume: pv({ local: { path: '/mnt/disk' }, nodeAffinity: {} }),
      p: policy,
      want: 'PersistentVolume pv-1 is a local volume, which no storage policy allows; only NFS, CSI and host path volumes, or volumes provisioned for the claim',
    },
    {
      name: 'static host path where no Workspace owns the namespace',
      volume: pv({ hostPath: { path: '/srv/data/x' } }),
      p: undefined,
      want: 'PersistentVolume pv-1: host path /srv/data/x is not allowed in namespace team-a, which no Workspace owns (nothing is allowed there)',
    },
  ])('$name', ({ volume, p, want }) => {
    expect(volumeProblem(p, 'team-a', claim, volume)).toBe(want);
  });
});
