import { describe, expect, it } from '@jest/globals';
import { apiVersion, type Dataset, type Image, type Job, type JobPhase, type Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { createContext, lookupsOf, makeDataset, makeJob, updateContext } from '../testing/octopus.js';
import type { Check, WriteContext } from './check.js';
import { warnAsset, warnJob, warnWorkspace } from './warnings.js';

const retries = (maxRetries: number): Job => makeJob({ policy: { maxRetries } });
const suspended = (job: Job): Job => ({ ...job, spec: { ...job.spec, suspend: true } });
const inPhase = (phase: JobPhase): Job => ({ ...makeJob(), status: { phase } });
const dataset = (visibility: 'Private' | 'Public', versions: string[]): Dataset => {
  const d = makeDataset('team-a', 'imagenet', visibility);
  return { ...d, spec: { ...d.spec, versions: versions.map((name) => ({ name, source: { pvc: { claimName: name } } })) } };
};
const image = (visibility: 'Private' | 'Public'): Image => ({ apiVersion, kind: 'Image', metadata: { name: 'pytorch', namespace: 'team-a' }, spec: { visibility, reference: 'docker.io/pytorch/pytorch:2.4.0' } });
const workspace = (spec: Workspace['spec']): Workspace => ({ apiVersion, kind: 'Workspace', metadata: { name: 'team-a' }, spec });

function warnings<T>(check: Check<T>, ctx: WriteContext<T>): string[] {
  const verdict = check(ctx, lookupsOf([]));
  expect(verdict.errors).toEqual([]);
  return verdict.warnings ?? [];
}

describe('warnJob', () => {
  it.each<{ name: string; ctx: WriteContext<Job>; want: string[] }>([
    { name: 'says nothing of a plain job', ctx: createContext(retries(10)), want: [] },
    { name: 'warns of more than 10 retries', ctx: createContext(retries(11)), want: ['spec.policy.maxRetries: 11 restarts of the whole gang can hold quota for a long time; more than 10 is rarely useful'] },
    { name: 'warns when retries are raised past 10', ctx: updateContext(retries(3), retries(50)), want: [expect.stringContaining('spec.policy.maxRetries: 50 restarts') as unknown as string] },
    { name: 'does not repeat the retries warning on later updates', ctx: updateContext(retries(50), suspended(retries(50))), want: [] },
    { name: 'warns when a running job is suspended', ctx: updateContext(inPhase('Running'), suspended(inPhase('Running'))), want: ['spec.suspend: stops the running job: its pods are deleted (unsaved progress is lost) and its quota released until it is resumed'] },
    { name: 'warns when an admitted job is suspended', ctx: updateContext(inPhase('Admitted'), suspended(inPhase('Admitted'))), want: [expect.stringContaining('stops the admitted job') as unknown as string] },
    { name: 'says nothing when a queued job is suspended', ctx: updateContext(inPhase('Queued'), suspended(inPhase('Queued'))), want: [] },
    { name: 'says nothing when a job is created suspended', ctx: createContext(suspended(makeJob())), want: [] },
  ])('$name', ({ ctx, want }) => {
    expect(warnings(warnJob, ctx)).toEqual(want);
  });
});

describe('warnAsset', () => {
  it.each<{ name: string; ctx: WriteContext<Dataset | Image>; want: string[] }>([
    { name: 'says nothing on create', ctx: createContext(dataset('Private', ['v1'])), want: [] },
    { name: 'says nothing when a version is added', ctx: updateContext(dataset('Public', ['v1']), dataset('Public', ['v1', 'v2'])), want: [] },
    {
      name: 'warns when a version is removed',
      ctx: updateContext(dataset('Private', ['v1', 'v2', 'v3']), dataset('Private', ['v3'])),
      want: ['spec.versions: removing version v1, v2 of Dataset team-a/imagenet deletes its imported content; workloads using it can no longer start'],
    },
    { name: 'warns when a Public dataset turns Private', ctx: updateContext(dataset('Public', ['v1']), dataset('Private', ['v1'])), want: ['spec.visibility: other namespaces can no longer start workloads with Dataset team-a/imagenet'] },
    { name: 'says nothing when a dataset turns Public', ctx: updateContext(dataset('Private', ['v1']), dataset('Public', ['v1'])), want: [] },
    { name: 'warns when a Public image turns Private', ctx: updateContext(image('Public'), image('Private')), want: ['spec.visibility: other namespaces can no longer start workloads with Image team-a/pytorch'] },
  ])('$name', ({ ctx, want }) => {
    expect(warnings(warnAsset, ctx)).toEqual(want);
  });
});

describe('warnWorkspace', () => {
  it.each<{ name: string; ctx: WriteContext<Workspace>; want: string[] }>([
    { name: 'says nothing of the defaults', ctx: createContext(workspace({ deletionPolicy: 'Retain', podSecurity: 'restricted' })), want: [] },
    {
      name: 'warns of a deletion policy that deletes the namespace, and of privileged pods',
      ctx: createContext(workspace({ deletionPolicy: 'Delete', podSecurity: 'privileged' })),
      want: ['spec.deletionPolicy: deleting this Workspace will delete namespace team-a and everything in it', 'spec.podSecurity: pods in namespace team-a may run privileged, with host access'],
    },
    { name: 'warns when the policy is switched to Delete', ctx: updateContext(workspace({ deletionPolicy: 'Retain' }), workspace({ deletionPolicy: 'Delete' })), want: [expect.stringContaining('spec.deletionPolicy') as unknown as string] },
    { name: 'does not repeat itself on later updates', ctx: updateContext(workspace({ deletionPolicy: 'Delete', podSecurity: 'privileged' }), workspace({ deletionPolicy: 'Delete', podSecurity: 'privileged', displayName: 'A' })), want: [] },
  ])('$name', ({ ctx, want }) => {
    expect(warnings(warnWorkspace, ctx)).toEqual(want);
  });
});
