import { describe, expect, it } from '@jest/globals';
import type { Model } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { asset, version } from '../assets/testing/fixtures.js';
import type { AssetStatus, VersionStatus } from '../assets/types.js';
import { jobVersions, modelBehaviour } from './controller.js';
import { exportRequest, mergeJobVersion, type JobOutput } from './output.js';

const nowMs = Date.parse('2025-06-01T12:00:00Z');
const lineage = (job: string, uid: string) => ({
  job: { name: job, namespace: 'team-a', uid },
  attempt: 0,
  image: 'registry.test/pytorch:2.4',
  datasets: [{ name: 'imagenet', namespace: 'team-a', version: 'v1' }],
  finishedAt: '2025-05-31T10:00:00Z',
});
const output = (versionName: string, job = 'train-1', uid = 'job-uid-1'): JobOutput => ({
  namespace: 'team-a',
  model: 'resnet50',
  version: versionName,
  claimName: `${job}-output`,
  metrics: { top1: '0.761' },
  lineage: lineage(job, uid),
});

function model(specVersions: string[], versions: VersionStatus[] = []): Model {
  const m = asset('Model', 'resnet50', { versions: specVersions.map((n) => version(n, { s3: { bucket: 'models' } })) });
  return { ...m, status: { observedGeneration: 1, versions } } as Model;
}

const imported: VersionStatus = { name: 'base', phase: 'Ready', origin: 'Import', claimName: 'resnet50-base' };

describe('mergeJobVersion', () => {
  it('appends a Ready version of origin Job with its lineage, and makes it the latest', () => {
    const got = mergeJobVersion(model(['base'], [imported]), output('v1'), nowMs);
    expect(got.ok).toBe(true);
    const status = (got as { status: AssetStatus }).status;
    expect(status.versions).toEqual([
      imported,
      {
        name: 'v1',
        phase: 'Ready',
        origin: 'Job',
        reason: 'Produced',
        message: 'produced by Job team-a/train-1',
        claimName: 'train-1-output',
        metrics: { top1: '0.761' },
        lineage: lineage('train-1', 'job-uid-1'),
        readyTime: '2025-05-31T10:00:00Z',
      },
    ]);
    expect(status).toMatchObject({ versionCount: 2, readyVersions: 2, latestVersion: 'v1', observedGeneration: 1 });
    expect(status.conditions?.[0]).toMatchObject({ type: 'Ready', status: 'True', reason: 'AllVersionsReady' });
  });

  it('is idempotent for the same Job', () => {
    const once = mergeJobVersion(model([], []), output('v1'), nowMs) as { status: AssetStatus };
    const twice = mergeJobVersion({ ...model([]), status: once.status } as Model, output('v1'), nowMs + 60_000);
    expect(twice).toEqual({ ok: true, status: once.status });
  });

  it.each([
    { name: 'a spec version of that name', m: model(['v1']), want: 'Model team-a/resnet50 already lists version v1 in spec; a Job cannot publish it' },
    { name: "another Job's output of that name", m: model([], [{ name: 'v1', phase: 'Ready', origin: 'Job', lineage: lineage('train-0', 'job-uid-0') }]), want: 'Model team-a/resnet50 version v1 was already published by Job team-a/train-0' },
    { name: 'an imported version of that name left in status', m: model([], [{ ...imported, name: 'v1' }]), want: 'Model team-a/resnet50 version v1 was already published by an import' },
  ])('refuses a version name taken by $name', ({ m, want }) => {
    expect(mergeJobVersion(m, output('v1'), nowMs)).toEqual({ ok: false, message: want });
  });
});

describe('the Model controller keeps Job versions', () => {
  const produced: VersionStatus = { name: 'v1', phase: 'Ready', origin: 'Job', lineage: lineage('train-1', 'u') };

  it('retains status versions of origin Job that spec does not list, and only those', () => {
    const status: AssetStatus = { versions: [imported, produced, { ...produced, name: 'v2' }] };
    expect(jobVersions(status, new Set(['base', 'v2']))).toEqual([produced]);
    expect(modelBehaviour.retainedVersions?.(status, new Set(['base']))).toHaveLength(2);
  });

  it('marks spec versions as imported, with their metrics', () => {
    const spec = version('base', { s3: { bucket: 'models' } }, { metrics: { top1: '0.7' } });
    expect(modelBehaviour.decorate?.(spec, { name: 'base', phase: 'Ready' })).toEqual({ name: 'base', phase: 'Ready', origin: 'Import', metrics: { top1: '0.7' } });
  });
});

describe('exportRequest', () => {
  it.each([
    { name: 'the default prefix <model>/<version>/', destination: { bucket: 'b' }, want: { uri: 's3://b/m/v1/' } },
    { name: 'a prefix made a folder', destination: { bucket: 'b', prefix: '/runs/x', endpoint: 'http://s3', region: 'r', secretRef: { name: 's' } }, want: { uri: 's3://b/runs/x/', endpoint: 'http://s3', region: 'r', secretName: 's' } },
    { name: 'the bucket root', destination: { bucket: 'b', prefix: '' }, want: { uri: 's3://b/' } },
  ])('$name', ({ destination, want }) => expect(exportRequest(destination, 'm', 'v1')).toEqual(want));
});
