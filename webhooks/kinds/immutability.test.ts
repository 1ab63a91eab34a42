import { describe, expect, it } from '@jest/globals';
import type { Job, JobPhase } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { FieldError } from '../admission.js';
import { createContext, lookupsOf, makeJob, makeTask, updateContext } from '../testing/octopus.js';
import { validateAdmittedJob } from './immutability.js';

const admission = { pool: 'gpu-a100', admittedAt: '2025-06-01T08:00:00Z', podSets: [{ task: 'worker', count: 1, resources: { cpu: '4' } }], total: { cpu: '4' } };
const inPhase = (phase: JobPhase | undefined, admitted = true): Job => ({ ...makeJob(), status: { ...(phase ? { phase } : {}), ...(admitted ? { admission } : {}) } });
const frozen = (field: string, phase: string): FieldError => ({
  path: `spec.${field}`,
  message: `may not change while the job is admitted (phase ${phase}): suspend it (spec.suspend: true) and change it once Stopped, or create a new Job`,
});
const lookups = lookupsOf([]);
const edit = (job: Job, spec: Partial<Job['spec']>): Job => ({ ...job, spec: { ...job.spec, ...spec } });
const moreWorkers = { tasks: [makeTask('worker', { 'nvidia.com/gpu': 1, cpu: 4 }, 8)] };

describe('validateAdmittedJob', () => {
  it.each<{ name: string; old: Job; spec: Partial<Job['spec']>; want: FieldError[] }>([
    { name: 'freezes the tasks of a running job', old: inPhase('Running'), spec: moreWorkers, want: [frozen('tasks', 'Running')] },
    { name: 'freezes the image of an admitted job', old: inPhase('Admitted'), spec: { image: { reference: 'docker.io/library/python:3.13' } }, want: [frozen('image', 'Admitted')] },
    { name: 'freezes the datasets of a restarting job', old: inPhase('Restarting'), spec: { datasets: [{ name: 'imagenet' }] }, want: [frozen('datasets', 'Restarting')] },
    { name: 'names every frozen field changed', old: inPhase('Running'), spec: { ...moreWorkers, datasets: [{ name: 'coco' }] }, want: [frozen('tasks', 'Running'), frozen('datasets', 'Running')] },
    { name: 'treats an admission without a phase as admitted', old: inPhase(undefined), spec: moreWorkers, want: [frozen('tasks', 'Admitted')] },
    { name: 'allows other fields of a running job to change', old: inPhase('Running'), spec: { suspend: true, priority: 10, policy: { maxRetries: 2 } }, want: [] },
    { name: 'allows any change to a queued job', old: inPhase('Queued', false), spec: moreWorkers, want: [] },
    { name: 'allows changes once stopped, even with the admission still recorded', old: inPhase('Stopped'), spec: moreWorkers, want: [] },
    { name: 'allows changes to a finished job', old: inPhase('Succeeded'), spec: moreWorkers, want: [] },
    { name: 'allows changes to a failed job', old: inPhase('Failed'), spec: moreWorkers, want: [] },
    { name: 'allows a job never admitted', old: makeJob(), spec: moreWorkers, want: [] },
  ])('$name', ({ old, spec, want }) => {
    expect(validateAdmittedJob(updateContext(old, edit(old, spec)), lookups)).toEqual({ errors: want });
  });

  it('compares semantically: key order does not matter', () => {
    const old = inPhase('Running');
    const reordered = { ...old, spec: { ...old.spec, tasks: old.spec.tasks.map((t) => Object.fromEntries(Object.entries(t).reverse()) as typeof t) } };
    expect(validateAdmittedJob(updateContext(old, reordered), lookups)).toEqual({ errors: [] });
  });

  it('has nothing to say on create', () => {
    expect(validateAdmittedJob(createContext(inPhase('Running')), lookups)).toEqual({ errors: [] });
  });
});
