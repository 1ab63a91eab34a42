import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import type { Job } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { jobChangeMatters, podChangeMatters } from './controller.js';

const queued: Job = {
  apiVersion: 'octopus.openi.pcl.cn/v1alpha1',
  kind: 'Job',
  metadata: { name: 'j', namespace: 'team-a', generation: 1 },
  spec: { image: { reference: 'python:3.12' }, pool: 'gpu', tasks: [{ name: 'w', replicas: 2, resourceSpec: 'gpu-1x' }] },
  status: {
    phase: 'Queued',
    position: 3,
    conditions: [
      { type: 'ReferencesResolved', status: 'True', reason: 'Resolved', message: 'every reference resolved', lastTransitionTime: '2026-12-01T00:00:00Z' },
      { type: 'Admitted', status: 'False', reason: 'QuotaExceeded', message: 'waiting for Quota default: 8 in use', lastTransitionTime: '2026-12-01T00:00:00Z' },
    ],
  },
} as Job;

const withStatus = (patch: Partial<NonNullable<Job['status']>>): Job => ({ ...queued, status: { ...queued.status!, ...patch } });
const admittedMessage = (message: string, reason = 'QuotaExceeded') =>
  withStatus({ conditions: queued.status!.conditions!.map((c) => (c.type === 'Admitted' ? { ...c, reason, message } : c)) });

describe('which Job updates wake the admission cycle', () => {
  it.each([
    { change: 'its place in the queue', job: withStatus({ position: 4 }), matters: false },
    { change: 'the numbers in its wait message', job: admittedMessage('waiting for Quota default: 7 in use'), matters: false },
    { change: 'its pod count', job: withStatus({ pods: '1/2' } as never), matters: false },
    { change: 'the reason it waits', job: admittedMessage('preempting 1 workload', 'Preempting'), matters: true },
    { change: 'its phase (finished: its reservation ends)', job: withStatus({ phase: 'Succeeded' }), matters: true },
    { change: 'a backoff that ends', job: withStatus({ backoffUntil: '2026-12-01T00:01:00Z' }), matters: true },
    { change: 'its spec (a new generation)', job: { ...queued, metadata: { ...queued.metadata, generation: 2 } }, matters: true },
    { change: 'its references no longer resolving', job: withStatus({ conditions: queued.status!.conditions!.map((c) => (c.type === 'ReferencesResolved' ? { ...c, status: 'False' as const } : c)) }), matters: true },
  ])('$change: $matters', ({ job, matters }) => {
    expect(jobChangeMatters(job, queued)).toBe(matters);
  });
});

const pending: V1Pod = { metadata: { name: 'j-w-0', namespace: 'team-a', labels: { 'octopus.openi.pcl.cn/job': 'j' } }, spec: { containers: [] }, status: { phase: 'Pending' } };
const bound: V1Pod = { ...pending, spec: { ...pending.spec!, nodeName: 'n1' } };

describe('which Pod updates wake the admission cycle', () => {
  it.each([
    { change: 'bound to a node', pod: bound, old: pending, matters: true },
    { change: 'starts running', pod: { ...bound, status: { phase: 'Running' } }, old: bound, matters: false },
    { change: 'becomes ready', pod: { ...bound, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } }, old: { ...bound, status: { phase: 'Running' } }, matters: false },
    { change: 'succeeds (its room frees)', pod: { ...bound, status: { phase: 'Succeeded' } }, old: { ...bound, status: { phase: 'Running' } }, matters: true },
    { change: 'starts terminating', pod: { ...bound, metadata: { ...bound.metadata, deletionTimestamp: '2026-12-01T00:00:00Z' as never } }, old: bound, matters: true },
    { change: 'is relabelled', pod: { ...bound, metadata: { ...bound.metadata, labels: { 'octopus.openi.pcl.cn/job': 'k' } } }, old: bound, matters: true },
  ])('$change: $matters', ({ pod, old, matters }) => {
    expect(podChangeMatters(pod as V1Pod, old as V1Pod)).toBe(matters);
  });
});
