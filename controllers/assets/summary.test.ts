import { describe, expect, it } from '@jest/globals';
import { assetStatus, latestReadyVersion, orderVersions, readyCondition, versionEvents, type VersionEvent } from './summary.js';
import type { VersionStatus } from './types.js';

const v = (name: string, phase: VersionStatus['phase'], extra: Partial<VersionStatus> = {}): VersionStatus => ({ name, phase, ...extra });
const nowMs = Date.parse('2025-06-01T12:00:00Z');

describe('orderVersions', () => {
  it.each([
    { name: 'the first time, in the order given', previous: undefined, next: ['v1', 'v2'], want: ['v1', 'v2'] },
    { name: 'known versions keep their place; new ones follow', previous: ['v1', 'job-out'], next: ['v1', 'v2', 'job-out'], want: ['v1', 'job-out', 'v2'] },
    { name: 'retired versions drop out', previous: ['v1', 'v2', 'v3'], next: ['v3', 'v1'], want: ['v1', 'v3'] },
  ])('$name', ({ previous, next, want }) => {
    const got = orderVersions(previous?.map((n) => v(n, 'Ready')), next.map((n) => v(n, 'Pending')));
    expect(got.map((x) => x.name)).toEqual(want);
    expect(got.every((x) => x.phase === 'Pending')).toBe(true);
  });
});

describe('latestReadyVersion and the Ready condition', () => {
  it.each([
    { name: 'no versions', versions: [], latest: undefined, want: { status: 'False', reason: 'NoVersions', message: 'no versions are published' } },
    { name: 'all Ready', versions: [v('v1', 'Ready'), v('v2', 'Ready')], latest: 'v2', want: { status: 'True', reason: 'AllVersionsReady', message: 'all 2 versions are ready' } },
    {
      name: 'the newest still importing: latest is the last Ready one',
      versions: [v('v1', 'Ready'), v('v2', 'Importing', { reason: 'Importing' })],
      latest: 'v1',
      want: { status: 'False', reason: 'VersionsPending', message: '1 of 2 versions ready; waiting for v2 (Importing, Importing)' },
    },
    {
      name: 'a failure outranks waiting',
      versions: [v('v1', 'Failed', { reason: 'NoSuchBucket', message: 'gone' }), v('v2', 'Pending'), v('v3', 'Ready')],
      latest: 'v3',
      want: { status: 'False', reason: 'VersionFailed', message: '1 of 3 versions failed: v1: NoSuchBucket (gone)' },
    },
  ])('$name', ({ versions, latest, want }) => {
    expect(latestReadyVersion(versions)).toBe(latest);
    expect(readyCondition(versions)).toEqual({ type: 'Ready', ...want });
  });
});

describe('readyCondition limits', () => {
  it('keeps the message within what a condition holds, however many versions fail', () => {
    const many = Array.from({ length: 64 }, (_, i) => v(`v${i}`, 'Failed', { reason: 'ImportFailed', message: 'x'.repeat(4096) }));
    expect(readyCondition(many).message).toHaveLength(32768);
  });
});

describe('assetStatus', () => {
  it('summarizes counts, the latest version and the condition with the generation', () => {
    const got = assetStatus(undefined, [v('v1', 'Ready'), v('v2', 'Failed')], 3, nowMs);
    expect(got).toEqual({
      observedGeneration: 3,
      conditions: [{ type: 'Ready', status: 'False', observedGeneration: 3, lastTransitionTime: '2025-06-01T12:00:00Z', reason: 'VersionFailed', message: '1 of 2 versions failed: v2: Failed' }],
      versions: [v('v1', 'Ready'), v('v2', 'Failed')],
      versionCount: 2,
      readyVersions: 1,
      latestVersion: 'v1',
    });
  });

  it('shows the size and file count of the latest Ready version (the Size and Files columns)', () => {
    const got = assetStatus(undefined, [v('v1', 'Ready', { size: '1Gi', fileCount: 3 }), v('v2', 'Ready', { size: '2Mi', fileCount: 7 }), v('v3', 'Importing')], 1, nowMs);
    expect(got).toMatchObject({ latestVersion: 'v2', latestSize: '2Mi', latestFileCount: 7 });
    expect(assetStatus(undefined, [v('v1', 'Importing')], 1, nowMs)).not.toHaveProperty('latestSize');
  });

  it('recomputed later from the same versions is equal (no write on a steady asset)', () => {
    const first = assetStatus(undefined, [v('v1', 'Ready')], 1, nowMs);
    expect(assetStatus(first, [v('v1', 'Ready')], 1, nowMs + 3_600_000)).toEqual(first);
  });
});

describe('versionEvents', () => {
  it.each<{ name: string; previous: VersionStatus[] | undefined; next: VersionStatus[]; want: Omit<VersionEvent, 'note'>[] }>([
    { name: 'an import starting', previous: undefined, next: [v('v1', 'Pending', { reason: 'ImportPending' })], want: [{ version: 'v1', type: 'Normal', reason: 'ImportStarted' }] },
    { name: 'observed only once it runs', previous: undefined, next: [v('v1', 'Importing', { reason: 'Importing' })], want: [{ version: 'v1', type: 'Normal', reason: 'ImportStarted' }] },
    { name: 'pending to running is the same import', previous: [v('v1', 'Pending', { reason: 'ImportPending' })], next: [v('v1', 'Importing', { reason: 'Importing' })], want: [] },
    { name: 'a retry', previous: [v('v1', 'Importing', { reason: 'Importing' })], next: [v('v1', 'Importing', { reason: 'ImportRetrying' })], want: [{ version: 'v1', type: 'Warning', reason: 'ImportRetrying' }] },
    { name: 'ready', previous: [v('v1', 'Importing', { reason: 'Importing' })], next: [v('v1', 'Ready', { reason: 'Imported' })], want: [{ version: 'v1', type: 'Normal', reason: 'VersionReady' }] },
    { name: 'failed', previous: [v('v1', 'Importing', { reason: 'ImportRetrying' })], next: [v('v1', 'Failed', { reason: 'NoSuchBucket' })], want: [{ version: 'v1', type: 'Warning', reason: 'ImportFailed' }] },
    { name: 'a missing claim', previous: undefined, next: [v('v1', 'Pending', { reason: 'ClaimNotFound' })], want: [{ version: 'v1', type: 'Warning', reason: 'ClaimNotFound' }] },
    { name: 'invalid inline files', previous: undefined, next: [v('v1', 'Failed', { reason: 'InvalidFiles' })], want: [{ version: 'v1', type: 'Warning', reason: 'InvalidFiles' }] },
    { name: 'nothing changed', previous: [v('v1', 'Ready', { reason: 'Imported' })], next: [v('v1', 'Ready', { reason: 'Imported', readyTime: 'x' })], want: [] },
    {
      name: 'one event per changed version',
      previous: [v('v1', 'Ready', { reason: 'ClaimFound' }), v('v2', 'Importing', { reason: 'Importing' })],
      next: [v('v1', 'Ready', { reason: 'ClaimFound' }), v('v2', 'Ready', { reason: 'Imported' }), v('v3', 'Ready', { reason: 'ClaimFound' })],
      want: [
        { version: 'v2', type: 'Normal', reason: 'VersionReady' },
        { version: 'v3', type: 'Normal', reason: 'VersionReady' },
      ],
    },
  ])('$name', ({ previous, next, want }) => {
    expect(versionEvents(previous, next).map(({ note: _note, ...e }) => e)).toEqual(want);
  });

  it('tells the version and the reason in the note', () => {
    expect(versionEvents(undefined, [v('v2', 'Failed', { reason: 'NoSuchBucket', message: 'bucket gone' })])[0]?.note).toBe('version v2 failed (NoSuchBucket): bucket gone');
  });
});
