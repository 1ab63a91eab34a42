import { describe, expect, it } from '@jest/globals';
import type { Job, JobPhase, Notebook } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { FieldError } from '../admission.js';
import { createContext, lookupsOf, makeJob, makeNotebook, makeTask, updateContext } from '../testing/octopus.js';
import { validateAdmittedJob, validateAdmittedNotebook } from './immutability.js';

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
    // The pool swap: pods of a job admitted in one pool must not be made in another.
    { name: 'freezes the pool of a running job', old: inPhase('Running'), spec: { pool: 'npu-910b' }, want: [frozen('pool', 'Running')] },
    { name: 'freezes the priority class it was admitted with', old: inPhase('Admitted'), spec: { priorityClassName: 'urgent' }, want: [frozen('priorityClassName', 'Admitted')] },
    { name: 'freezes whether it may be preempted', old: inPhase('Running'), spec: { preemptible: false }, want: [frozen('preemptible', 'Running')] },
    { name: 'freezes the default shm size', old: inPhase('Running'), spec: { shmSize: '64Gi' }, want: [frozen('shmSize', 'Running')] },
    { name: 'freezes the resources of a task', old: inPhase('Running'), spec: { tasks: [makeTask('worker', { 'nvidia.com/gpu': 8, cpu: 4 })] }, want: [frozen('tasks', 'Running')] },
    {
      name: 'freezes the ResourceSpec of a task',
      old: inPhase('Running'),
      spec: { tasks: [{ name: 'worker', replicas: 1, resourceSpec: 'gpu-8x' }] },
      want: [frozen('tasks', 'Running')],
    },
    { name: 'treats an admission without a phase as admitted', old: inPhase(undefined), spec: moreWorkers, want: [frozen('tasks', 'Admitted')] },
    { name: 'allows other fields of a running job to change', old: inPhase('Running'), spec: { suspend: true, policy: { maxRetries: 2 } }, want: [] },
    { name: 'allows a pool change once stopped', old: inPhase('Stopped'), spec: { pool: 'npu-910b', priorityClassName: 'urgent' }, want: [] },
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

describe('validateAdmittedNotebook', () => {
  const admission = { pool: 'gpu-a100', admittedAt: '2025-06-01T08:00:00Z', resources: { 'nvidia.com/gpu': '1', cpu: '4' } };
  const holding = (nb: Notebook): Notebook => ({ ...nb, status: { phase: 'Running', admission } });
  const frozenNb = (field: string): FieldError => ({ path: `spec.${field}`, message: 'may not change while the notebook holds its reservation in pool gpu-a100: stop it (spec.suspend: true) and change it once Stopped' });
  const edited = (nb: Notebook, spec: Partial<Notebook['spec']>): Notebook => ({ ...nb, spec: { ...nb.spec, ...spec } });

  it.each<{ name: string; old: Notebook; spec: Partial<Notebook['spec']>; want: FieldError[] }>([
    { name: 'freezes the pool of a notebook holding a reservation', old: holding(makeNotebook()), spec: { pool: 'cpu' }, want: [frozenNb('pool')] },
    { name: 'freezes its resources', old: holding(makeNotebook()), spec: { resources: { requests: { 'nvidia.com/gpu': 8, cpu: 4 } } }, want: [frozenNb('resources')] },
    {
      name: 'freezes a switch to a ResourceSpec, naming both fields',
      old: holding(makeNotebook()),
      spec: { resources: undefined, resourceSpec: 'gpu-8x' },
      want: [frozenNb('resourceSpec'), frozenNb('resources')],
    },
    { name: 'freezes its priority class', old: holding(makeNotebook()), spec: { priorityClassName: 'urgent' }, want: [frozenNb('priorityClassName')] },
    { name: 'allows stopping it and other edits', old: holding(makeNotebook()), spec: { suspend: true, idleTimeoutSeconds: 600 }, want: [] },
    { name: 'allows any change to a notebook without a reservation', old: { ...makeNotebook(), status: { phase: 'Stopped' } }, spec: { pool: 'cpu', priorityClassName: 'urgent' }, want: [] },
  ])('$name', ({ old, spec, want }) => {
    expect(validateAdmittedNotebook(updateContext(old, edited(old, spec)), lookups)).toEqual({ errors: want });
  });

  it('has nothing to say on create', () => {
    expect(validateAdmittedNotebook(createContext(holding(makeNotebook())), lookups)).toEqual({ errors: [] });
  });
});
