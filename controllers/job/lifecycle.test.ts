import { describe, expect, it } from '@jest/globals';
import type { Job } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { addUsage, decide, preempted, requeueBackoffMs, type JobStatus, type ObservedPod } from './lifecycle.js';

const t0 = Date.parse('2026-11-28T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** A builder in the Kueue style: makeJob().tasks(...).status(...).obj */
function makeJob(opts: { tasks?: Job['spec']['tasks']; policy?: Job['spec']['policy']; status?: JobStatus; suspend?: boolean; output?: boolean } = {}): Job {
  return {
    apiVersion: 'octopus.openi.pcl.cn/v1alpha1',
    kind: 'Job',
    metadata: { name: 'train', namespace: 'team-a', uid: 'u1', generation: 1 },
    spec: {
      image: { reference: 'x/y:1' },
      pool: 'gpu-a100',
      tasks: opts.tasks ?? [{ name: 'worker', replicas: 2, resourceSpec: 'gpu-1x' }],
      ...(opts.policy ? { policy: opts.policy } : {}),
      ...(opts.suspend ? { suspend: true } : {}),
      ...(opts.output ? { output: { model: { name: 'resnet' } } } : {}),
    },
    status: opts.status ?? {},
  };
}

const admitted = (extra: Partial<JobStatus> = {}): JobStatus => ({
  phase: 'Admitted',
  attempt: 0,
  attemptStartTime: iso(t0),
  admission: { pool: 'gpu-a100', admittedAt: iso(t0), podSets: [{ task: 'worker', count: 2, resources: { 'nvidia.com/gpu': '1' } }], total: { 'nvidia.com/gpu': '2' } },
  ...extra,
});

const pod = (task: string, index: number, phase: ObservedPod['phase'], extra: Partial<ObservedPod> = {}): ObservedPod => ({
  name: `train-${task}-${index}`,
  task,
  index,
  attempt: 0,
  phase,
  ready: phase === 'Running',
  terminating: false,
  disrupted: false,
  ...extra,
});

const cond = (status: JobStatus, type: string) => status.conditions?.find((c) => c.type === type);

describe('decide', () => {
  it.each([
    {
      name: 'an admitted job creates its pods and waits for the pods-ready timeout',
      job: makeJob({ status: admitted() }),
      pods: [],
      now: t0 + 1000,
      want: { phase: 'Admitted', createPods: true, deletePods: [], requeueAfterMs: 299_000 },
    },
    {
      name: 'all pods running → Running, start time set',
      job: makeJob({ status: admitted() }),
      pods: [pod('worker', 0, 'Running'), pod('worker', 1, 'Running')],
      now: t0 + 5000,
      want: { phase: 'Running', createPods: false, deletePods: [] },
    },
    {
      name: 'pods not all running within podsReadyTimeoutSeconds → requeued with backoff, pods deleted',
      job: makeJob({ status: admitted(), policy: { podsReadyTimeoutSeconds: 60 } }),
      pods: [pod('worker', 0, 'Running'), pod('worker', 1, 'Pending')],
      now: t0 + 61_000,
      want: { phase: 'Queued', createPods: false, deletePods: ['train-worker-0', 'train-worker-1'] },
    },
    {
      name: 'every role done → Succeeded, reservation kept for audit',
      job: makeJob({ status: admitted({ phase: 'Running', startTime: iso(t0) }) }),
      pods: [pod('worker', 0, 'Succeeded'), pod('worker', 1, 'Succeeded')],
      now: t0 + 3_600_000,
      want: { phase: 'Succeeded', createPods: false, deletePods: [] },
    },
    {
      name: 'a failed worker with retries left restarts the whole gang',
      job: makeJob({ status: admitted({ phase: 'Running', startTime: iso(t0) }), policy: { maxRetries: 2 } }),
      pods: [pod('worker', 0, 'Failed', { message: 'CUDA OOM' }), pod('worker', 1, 'Running')],
      now: t0 + 60_000,
      want: { phase: 'Restarting', createPods: false, deletePods: ['train-worker-0', 'train-worker-1'] },
    },
    {
      name: 'past maxRetries the job fails',
      job: makeJob({ status: admitted({ phase: 'Running', startTime: iso(t0), retries: 2, attempt: 2 }), policy: { maxRetries: 2 } }),
      pods: [pod('worker', 0, 'Failed', { attempt: 2 }), pod('worker', 1, 'Running', { attempt: 2 })],
      now: t0 + 60_000,
      want: { phase: 'Failed', createPods: false, deletePods: ['train-worker-1'] },
    },
    {
      name: 'an evicted pod is not a failure: released and requeued',
      job: makeJob({ status: admitted({ phase: 'Running', startTime: iso(t0) }), policy: { maxRetries: 0 } }),
      pods: [pod('worker', 0, 'Failed', { disrupted: true }), pod('worker', 1, 'Running')],
      now: t0 + 60_000,
      want: { phase: 'Queued', createPods: false, deletePods: ['train-worker-0', 'train-worker-1'] },
    },
    {
      name: 'activeDeadlineSeconds exceeded → Failed',
      job: makeJob({ status: admitted({ phase: 'Running', startTime: iso(t0) }), policy: { activeDeadlineSeconds: 600 } }),
      pods: [pod('worker', 0, 'Running'), pod('worker', 1, 'Running')],
      now: t0 + 600_000,
      want: { phase: 'Failed', createPods: false, deletePods: ['train-worker-0', 'train-worker-1'] },
    },
    {
      name: 'suspend deletes pods and stops',
      job: makeJob({ status: admitted({ phase: 'Running', startTime: iso(t0) }), suspend: true }),
      pods: [pod('worker', 0, 'Running'), pod('worker', 1, 'Running')],
      now: t0 + 60_000,
      want: { phase: 'Stopped', createPods: false, deletePods: ['train-worker-0', 'train-worker-1'] },
    },
    {
      name: 'resume puts a stopped job back in the queue',
      job: makeJob({ status: { phase: 'Stopped' } }),
      pods: [],
      now: t0,
      want: { phase: 'Queued', createPods: false, deletePods: [] },
    },
  ])('$name', ({ job, pods, now, want }) => {
    const d = decide(job, pods, now);
    expect(d.status.phase).toBe(want.phase);
    expect(d.createPods).toBe(want.createPods);
    expect(d.deletePods).toEqual(want.deletePods);
    if ('requeueAfterMs' in want) expect(d.requeueAfterMs).toBe(want.requeueAfterMs);
  });

  it('a main role decides the job even while other roles still run', () => {
    const job = makeJob({
      tasks: [
        { name: 'chief', resourceSpec: 'x', main: true },
        { name: 'ps', replicas: 2, resourceSpec: 'x' },
      ],
      status: admitted({ phase: 'Running', startTime: iso(t0) }),
    });
    const d = decide(job, [pod('chief', 0, 'Succeeded'), pod('ps', 0, 'Running'), pod('ps', 1, 'Running')], t0 + 1000);
    expect(d.status.phase).toBe('Succeeded');
    expect(d.deletePods).toEqual(['train-ps-0', 'train-ps-1']);
    expect(cond(d.status, 'Succeeded')).toMatchObject({ status: 'True', reason: 'Completed', message: 'task chief completed' });
  });

  it('maxFailed tolerates failures within a role', () => {
    const job = makeJob({ tasks: [{ name: 'worker', replicas: 3, resourceSpec: 'x', completion: { minSucceeded: 2, maxFailed: 1 } }], status: admitted({ phase: 'Running', startTime: iso(t0) }) });
    const d = decide(job, [pod('worker', 0, 'Succeeded'), pod('worker', 1, 'Succeeded'), pod('worker', 2, 'Failed')], t0 + 1000);
    expect(d.status.phase).toBe('Succeeded');
  });

  it('restart bumps attempt and retries, then deletes the old attempt before creating the new one', () => {
    const job = makeJob({ status: admitted({ phase: 'Running', startTime: iso(t0) }), policy: { maxRetries: 3 } });
    const first = decide(job, [pod('worker', 0, 'Failed'), pod('worker', 1, 'Running')], t0 + 1000);
    expect(first.status).toMatchObject({ attempt: 1, retries: 1, phase: 'Restarting' });
    expect(first.events.map((e) => e.reason)).toEqual(['Restarting']);
    const restarted = makeJob({ status: first.status, policy: { maxRetries: 3 } });
    // Old pods still terminating: wait, create nothing.
    const waiting = decide(restarted, [pod('worker', 0, 'Failed', { terminating: true }), pod('worker', 1, 'Running', { terminating: true })], t0 + 2000);
    expect(waiting.createPods).toBe(false);
    expect(waiting.deletePods).toEqual([]);
    // Old pods gone: create the new attempt's.
    expect(decide(restarted, [], t0 + 3000).createPods).toBe(true);
  });

  it('the failure message names the task, the count and the pod\'s termination message', () => {
    const job = makeJob({ status: admitted({ phase: 'Running', startTime: iso(t0) }) });
    const d = decide(job, [pod('worker', 0, 'Failed', { message: 'CUDA out of memory' }), pod('worker', 1, 'Running')], t0 + 1000);
    expect(cond(d.status, 'Failed')).toMatchObject({ reason: 'TaskFailed', message: 'task worker: 1 of 2 pods failed (train-worker-0: CUDA out of memory)' });
  });

  it('a requeue releases the reservation, accounts usage and sets a growing backoff', () => {
    const job = makeJob({ status: admitted({ requeues: 2 }), policy: { podsReadyTimeoutSeconds: 100 } });
    const d = decide(job, [], t0 + 100_000);
    expect(d.status.admission).toBeUndefined();
    expect(d.status.usage).toEqual({ 'nvidia.com/gpu': '200' });
    expect(d.status.requeues).toBe(3);
    expect(d.status.backoffUntil).toBe(iso(t0 + 100_000 + requeueBackoffMs(3)));
    expect(cond(d.status, 'Admitted')).toMatchObject({ status: 'False', reason: 'PodsReadyTimeout' });
  });

  it('success with output.model registers the output before reporting success', () => {
    const job = makeJob({ output: true, status: admitted({ phase: 'Running', startTime: iso(t0) }) });
    const pods = [pod('worker', 0, 'Succeeded'), pod('worker', 1, 'Succeeded')];
    const first = decide(job, pods, t0 + 1000);
    expect(first.registerOutput).toBe(true);
    expect(first.status.phase).toBe('Running');
    const registered = makeJob({ output: true, status: { ...first.status, output: { model: 'resnet', version: 'train' } } });
    expect(decide(registered, pods, t0 + 1000).status.phase).toBe('Succeeded');
  });

  it.each([
    { name: 'before the TTL the finished job stays', now: t0 + 59_000, wantDelete: false },
    { name: 'after the TTL the finished job is deleted', now: t0 + 60_000, wantDelete: true },
  ])('$name', ({ now, wantDelete }) => {
    const job = makeJob({ status: { phase: 'Succeeded', completionTime: iso(t0) }, policy: { ttlSecondsAfterFinished: 60 } });
    expect(decide(job, [], now).deleteJob).toBe(wantDelete);
  });

  it('a steady running job decides nothing new (no status change, no actions)', () => {
    const job = makeJob({ status: admitted() });
    const running = decide(job, [pod('worker', 0, 'Running'), pod('worker', 1, 'Running')], t0 + 5000);
    const again = decide(makeJob({ status: running.status }), [pod('worker', 0, 'Running'), pod('worker', 1, 'Running')], t0 + 9000);
    expect(again.status).toEqual(running.status);
    expect(again.events).toEqual([]);
    expect(again.createPods).toBe(false);
  });
});

describe('addUsage', () => {
  it('adds resource-seconds since admission to what was used before', () => {
    const status = admitted({ usage: { 'nvidia.com/gpu': '100' } });
    expect(addUsage(status, t0 + 30_000)).toEqual({ 'nvidia.com/gpu': '160' });
  });
});

describe('preempted', () => {
  const running = makeJob({ status: admitted({ phase: 'Running', retries: 1, requeues: 2, startTime: iso(t0), usage: { 'nvidia.com/gpu': '100' } }) });
  const status = preempted(running, t0 + 60_000, 'LowerPriority', 'preempted by Job team-a/urgent (priority 1000)');

  it('requeues at once with a new attempt, its usage accounted and its reservation gone', () => {
    expect(status).toMatchObject({ phase: 'Queued', attempt: 1, preemptions: 1, queuedAt: iso(t0 + 60_000), usage: { 'nvidia.com/gpu': '220' } });
    expect(status.admission).toBeUndefined();
    expect(status.backoffUntil).toBeUndefined();
  });

  it('is neither a failure nor a retry nor a requeue with backoff', () => {
    expect({ retries: status.retries, requeues: status.requeues }).toEqual({ retries: 1, requeues: 2 });
  });

  it('says who preempted it, on Preempted, Admitted and Running', () => {
    for (const type of ['Preempted', 'Admitted', 'Running']) {
      expect(cond(status, type)).toMatchObject({ reason: 'LowerPriority', message: 'preempted by Job team-a/urgent (priority 1000)' });
    }
    expect(cond(status, 'Preempted')!.status).toBe('True');
  });

  it('then its pods of the old attempt are deleted, and none are created while it queues', () => {
    const d = decide({ ...running, status }, [pod('worker', 0, 'Running'), pod('worker', 1, 'Pending')], t0 + 61_000);
    expect({ deletePods: d.deletePods, createPods: d.createPods, phase: d.status.phase }).toEqual({ deletePods: ['train-worker-0', 'train-worker-1'], createPods: false, phase: 'Queued' });
  });
});
