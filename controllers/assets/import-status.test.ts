import { describe, expect, it } from '@jest/globals';
import { clip, observeExport, observeImport, parseFailureReport, parseImportReport, type ImportObservation } from './import-status.js';
import { jobState, pod } from './testing/fixtures.js';
import type { VersionStatus } from './types.js';

const nowMs = Date.parse('2025-06-01T12:00:00.500Z');
const wantNow = '2025-06-01T12:00:00Z';

describe('parseImportReport', () => {
  it.each([
    { name: 'size and files', message: '{"size":"12Gi","files":1234}', want: { size: '12Gi', fileCount: 1234 } },
    { name: 'a numeric size', message: '{"size":1024}', want: { size: '1024' } },
    {
      name: "octopus-data's report: the manifest digest kept, the fields the status has no room for dropped",
      message: `{"size":"1.5Gi","bytes":1610612736,"files":3,"manifestDigest":"sha256:${'a'.repeat(64)}","resumed":1,"commit":"abc"}`,
      want: { size: '1.5Gi', fileCount: 3, manifestDigest: `sha256:${'a'.repeat(64)}` },
    },
    { name: 'a malformed digest is dropped', message: '{"files":1,"manifestDigest":"md5:x"}', want: { fileCount: 1 } },
    { name: 'a negative or fractional count is dropped', message: '{"size":"1Gi","files":-1}', want: { size: '1Gi' } },
    { name: 'plain text', message: 'done', want: {} },
    { name: 'a JSON array', message: '[1,2]', want: {} },
    { name: 'nothing', message: undefined, want: {} },
  ])('$name', ({ message, want }) => {
    expect(parseImportReport(message)).toEqual(want);
  });
});

describe('parseFailureReport', () => {
  it.each([
    { name: 'plain text is the message', message: '  access denied: bucket datasets\n', want: { message: 'access denied: bucket datasets' } },
    { name: 'a structured report', message: '{"reason":"NoSuchBucket","message":"bucket datasets does not exist"}', want: { reason: 'NoSuchBucket', message: 'bucket datasets does not exist' } },
    { name: 'a reason that is not CamelCase is ignored', message: '{"reason":"no such bucket","message":"gone"}', want: { message: 'gone' } },
    { name: 'JSON without either field is text', message: '{"code":3}', want: { message: '{"code":3}' } },
    { name: 'nothing', message: '', want: {} },
  ])('$name', ({ message, want }) => {
    expect(parseFailureReport(message)).toEqual(want);
  });
});

describe('observeImport', () => {
  const readyBefore: VersionStatus = { name: 'v1', phase: 'Ready', size: '5Gi', fileCount: 10, readyTime: '2025-01-02T00:00:00Z' };

  it.each<{ name: string; job: Parameters<typeof jobState>[0]; pods: ReturnType<typeof pod>[]; previous?: VersionStatus; want: ImportObservation }>([
    {
      name: 'a Job whose pod has not started is Pending',
      job: {},
      pods: [pod('Pending')],
      want: { phase: 'Pending', reason: 'ImportPending', message: 'waiting for the import pod to start', attempts: 0 },
    },
    {
      name: 'a running pod is attempt 1',
      job: {},
      pods: [pod('Running')],
      want: { phase: 'Importing', reason: 'Importing', message: 'attempt 1 of 3', attempts: 1 },
    },
    {
      name: 'after a failure, the next attempt carries its reason',
      job: { failed: 1 },
      pods: [pod('Failed', 'connection reset'), pod('Running')],
      want: { phase: 'Importing', reason: 'ImportRetrying', message: 'attempt 2 of 3; attempt 1 failed: connection reset', attempts: 2 },
    },
    {
      name: 'success reports size and files and when',
      job: { failed: 1, condition: 'Complete', completionTime: '2025-05-01T00:00:00Z' },
      pods: [pod('Failed', 'x'), pod('Succeeded', '{"size":"12Gi","files":1234}')],
      want: { phase: 'Ready', reason: 'Imported', message: 'imported 12Gi in 1234 files', attempts: 2, size: '12Gi', fileCount: 1234, readyTime: '2025-05-01T00:00:00Z' },
    },
    {
      name: 'success without a completion time is ready now',
      job: { condition: 'Complete' },
      pods: [pod('Succeeded', 'no report')],
      want: { phase: 'Ready', reason: 'Imported', message: 'imported', attempts: 1, readyTime: wantNow },
    },
    {
      name: 'a Ready version keeps its time, and its report once the pod is gone',
      job: { condition: 'Complete', completionTime: '2025-05-01T00:00:00Z' },
      pods: [],
      previous: readyBefore,
      want: { phase: 'Ready', reason: 'Imported', message: 'imported 5Gi in 10 files', attempts: 1, size: '5Gi', fileCount: 10, readyTime: '2025-01-02T00:00:00Z' },
    },
    {
      name: 'giving up reports the last failed pod, not an earlier one',
      job: { failed: 3, condition: 'Failed', conditionReason: 'BackoffLimitExceeded', conditionMessage: 'Job has reached the specified backoff limit' },
      pods: [pod('Failed', 'first', '2025-01-01T00:00:01Z'), pod('Failed', 'access denied: bucket datasets', '2025-01-01T00:00:09Z'), pod('Failed', 'second', '2025-01-01T00:00:05Z')],
      want: { phase: 'Failed', reason: 'ImportFailed', message: 'access denied: bucket datasets', attempts: 3 },
    },
    {
      name: "a structured failure gives the version the importer's reason",
      job: { failed: 1, backoffLimit: 0, condition: 'Failed', conditionReason: 'BackoffLimitExceeded' },
      pods: [pod('Failed', '{"reason":"NoSuchBucket","message":"bucket datasets does not exist"}')],
      want: { phase: 'Failed', reason: 'NoSuchBucket', message: 'bucket datasets does not exist', attempts: 1 },
    },
    {
      name: 'a deadline without a pod message says so',
      job: { failed: 1, condition: 'Failed', conditionReason: 'DeadlineExceeded', conditionMessage: 'Job was active longer than specified deadline' },
      pods: [],
      want: { phase: 'Failed', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline', attempts: 1 },
    },
  ])('$name', ({ job, pods, previous, want }) => {
    expect(observeImport(jobState(job), pods, previous, nowMs)).toEqual(want);
  });

  it('clips a long termination message to what the status schema accepts', () => {
    const got = observeImport(jobState({ failed: 1, condition: 'Failed' }), [pod('Failed', 'e'.repeat(10_000))], undefined, nowMs);
    expect(got.message).toHaveLength(4096);
    expect(clip('short')).toBe('short');
  });
});

describe('observeExport', () => {
  const request = { uri: 's3://b/p/', secretName: 's', phase: 'Pending' as const };
  it.each([
    { name: 'running', job: {}, pods: [], want: { phase: 'Exporting', reason: 'Exporting' } },
    {
      name: 'complete: the digest from the report',
      job: { condition: 'Complete' },
      pods: [pod('Succeeded', `{"size":"1Mi","files":2,"manifestDigest":"sha256:${'b'.repeat(64)}"}`)],
      want: { phase: 'Exported', reason: 'Exported', manifestDigest: `sha256:${'b'.repeat(64)}`, message: 'uploaded 1Mi in 2 files to s3://b/p/' },
    },
    { name: 'failed: the reason from the report', job: { failed: 1, condition: 'Failed' }, pods: [pod('Failed', '{"reason":"NoSuchBucket","message":"gone"}')], want: { phase: 'Failed', reason: 'NoSuchBucket', message: 'gone' } },
  ] as { name: string; job: Parameters<typeof jobState>[0]; pods: ReturnType<typeof pod>[]; want: object }[])('$name', ({ job, pods, want }) => {
    const got = observeExport(request, jobState(job), pods);
    expect(got).toMatchObject({ uri: 's3://b/p/', secretName: 's', ...want });
  });
});
