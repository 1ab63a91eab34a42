import { describe, expect, it } from '@jest/globals';
import { resolveAssetVersion, type AssetReference, type Resolution } from './resolve.js';
import { asset, version } from './testing/fixtures.js';
import type { AssetSpec, VersionStatus, VersionedAsset } from './types.js';

const s3 = { s3: { bucket: 'datasets' } };

function dataset(visibility: 'Public' | 'Private' | undefined, versions: VersionStatus[], specVersions = ['v1', 'v2']): VersionedAsset {
  const spec: AssetSpec = { ...(visibility && { visibility }), versions: specVersions.map((n) => version(n, s3)) };
  const latest = versions.filter((v) => v.phase === 'Ready').at(-1)?.name;
  return { ...asset('Dataset', 'imagenet', spec, 'shared'), status: { versions, ...(latest && { latestVersion: latest }) } };
}

const ready = (name: string, extra: Partial<VersionStatus> = {}): VersionStatus => ({ name, phase: 'Ready', claimName: `imagenet-${name}`, ...extra });
const both = [ready('v1'), ready('v2', { subPath: 'train' })];

type Want = { resolved: true; version: string; claimName?: string; subPath?: string; configMapName?: string } | { resolved: false; reason: string; message: string };

function summary(r: Resolution): Want {
  if (!r.resolved) return r;
  const { status: _status, namespace: _ns, name: _name, ...rest } = r;
  return rest;
}

describe('resolveAssetVersion', () => {
  it.each<{ name: string; asset: VersionedAsset | undefined; ref: AssetReference; from: string; want: Want }>([
    { name: 'the latest Ready version in the same namespace', asset: dataset(undefined, both), ref: { name: 'imagenet' }, from: 'shared', want: { resolved: true, version: 'v2', claimName: 'imagenet-v2', subPath: 'train' } },
    { name: 'a named version', asset: dataset('Private', both), ref: { name: 'imagenet', version: 'v1' }, from: 'shared', want: { resolved: true, version: 'v1', claimName: 'imagenet-v1' } },
    { name: 'a Public asset from another namespace', asset: dataset('Public', both), ref: { name: 'imagenet', namespace: 'shared', version: 'v1' }, from: 'team-a', want: { resolved: true, version: 'v1', claimName: 'imagenet-v1' } },
    {
      name: 'a Private asset from another namespace',
      asset: dataset('Private', both),
      ref: { name: 'imagenet', namespace: 'shared' },
      from: 'team-a',
      want: { resolved: false, reason: 'NotPublic', message: 'Dataset shared/imagenet is not Public, so it cannot be used from namespace team-a' },
    },
    {
      name: 'an asset with no visibility set is Private',
      asset: dataset(undefined, both),
      ref: { name: 'imagenet', namespace: 'shared' },
      from: 'team-a',
      want: { resolved: false, reason: 'NotPublic', message: 'Dataset shared/imagenet is not Public, so it cannot be used from namespace team-a' },
    },
    { name: 'no such asset', asset: undefined, ref: { name: 'imagenet', namespace: 'shared' }, from: 'team-a', want: { resolved: false, reason: 'NotFound', message: 'asset shared/imagenet not found' } },
    { name: 'no such version', asset: dataset('Public', both), ref: { name: 'imagenet', version: 'v9' }, from: 'shared', want: { resolved: false, reason: 'VersionNotFound', message: 'Dataset shared/imagenet has no version v9' } },
    {
      name: 'a version still importing',
      asset: dataset('Public', [ready('v1'), { name: 'v2', phase: 'Importing', message: 'attempt 1 of 3' }]),
      ref: { name: 'imagenet', version: 'v2' },
      from: 'shared',
      want: { resolved: false, reason: 'VersionNotReady', message: 'Dataset shared/imagenet version v2 is Importing: attempt 1 of 3' },
    },
    {
      name: 'a version listed in spec the controller has not observed yet',
      asset: dataset('Public', [ready('v1')]),
      ref: { name: 'imagenet', version: 'v2' },
      from: 'shared',
      want: { resolved: false, reason: 'VersionNotReady', message: 'Dataset shared/imagenet version v2 is not observed yet' },
    },
    { name: 'no Ready version at all', asset: dataset('Public', [{ name: 'v1', phase: 'Failed' }]), ref: { name: 'imagenet' }, from: 'shared', want: { resolved: false, reason: 'VersionNotReady', message: 'Dataset shared/imagenet has no Ready version yet' } },
    {
      name: 'a version retired from spec but still in status',
      asset: dataset('Public', both, ['v2']),
      ref: { name: 'imagenet', version: 'v1' },
      from: 'shared',
      want: { resolved: false, reason: 'VersionNotFound', message: 'Dataset shared/imagenet has no version v1' },
    },
    {
      name: "a Model version a Job produced (in status only) and a ConfigMap's content",
      asset: { ...dataset('Public', [ready('v1', { origin: 'Job' }), { name: 'v2', phase: 'Ready', configMapName: 'code-v2' }], ['v2']), kind: 'Model' },
      ref: { name: 'imagenet', version: 'v1' },
      from: 'shared',
      want: { resolved: true, version: 'v1', claimName: 'imagenet-v1' },
    },
  ])('$name', ({ asset: a, ref, from, want }) => {
    expect(summary(resolveAssetVersion(a, ref, from))).toEqual(want);
  });

  it('returns where the content is and the full version status', () => {
    const r = resolveAssetVersion({ ...dataset('Public', [{ name: 'v2', phase: 'Ready', configMapName: 'code-v2' }]), kind: 'Algorithm' }, { name: 'imagenet', namespace: 'shared' }, 'team-a');
    expect(r).toEqual({ resolved: true, namespace: 'shared', name: 'imagenet', version: 'v2', configMapName: 'code-v2', status: { name: 'v2', phase: 'Ready', configMapName: 'code-v2' } });
  });
});
