import { describe, expect, it } from '@jest/globals';
import type { Job } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { awaitsPods, worthReconciling } from './controller.js';

const job = (status: Job['status'], metadata: Partial<Job['metadata']> = {}): Job => ({
  apiVersion: 'octopus.openi.pcl.cn/v1alpha1',
  kind: 'Job',
  metadata: { name: 'j', namespace: 'ws', generation: 1, ...metadata },
  spec: { image: { reference: 'python:3.12' }, pool: 'p', tasks: [{ name: 'w', resourceSpec: 's' }] },
  ...(status ? { status } : {}),
});
const waiting = (extra: Partial<NonNullable<Job['status']>> = {}): Job['status'] => ({ phase: 'Queued', queuedAt: '2026-11-30T00:00:00Z', ...extra });
const admittedCondition = (reason: string, message: string) => [{ type: 'Admitted', status: 'False' as const, reason, message, lastTransitionTime: '2026-11-30T00:00:00Z' }];

describe('worthReconciling (Job updates the Job controller acts on)', () => {
  const admission = { pool: 'p', podSets: [{ task: 'w', count: 1, resources: { 'nvidia.com/gpu': '1' } }] } as unknown as NonNullable<Job['status']>['admission'];
  it.each([
    ['a waiting job whose queue position moved', job(waiting({ position: 3 })), job(waiting({ position: 4 })), false],
    ['a waiting job whose waiting message changed', job(waiting({ conditions: admittedCondition('QuotaExceeded', 'needs 8, 2 free') })), job(waiting({ conditions: admittedCondition('Pending', 'waiting') })), false],
    ['a new job getting its first status', job(waiting()), job(undefined), true],
    ['a waiting job admitted', job({ ...waiting(), phase: 'Admitted', admission }), job(waiting({ position: 1 })), true],
    ['a waiting job given a reservation before its phase moved', job(waiting({ admission })), job(waiting()), true],
    ['a running job requeued (preempted)', job(waiting()), job({ phase: 'Running', admission }), true],
    ['a waiting job whose spec changed', job(waiting(), { generation: 2 }), job(waiting()), true],
    ['a waiting job being deleted', job(waiting(), { deletionTimestamp: new Date('2026-11-30T00:00:00Z') }), job(waiting()), true],
    ['a waiting job whose backoff changed', job(waiting({ backoffUntil: '2026-11-30T00:01:00Z' })), job(waiting()), true],
  ])('%s: %s', (_what, updated, old, expected) => {
    expect(worthReconciling(updated, old)).toBe(expected);
  });
});

describe('awaitsPods (Job events that jump the queue)', () => {
  const admission = { pool: 'p', podSets: [] } as unknown as NonNullable<Job['status']>['admission'];
  it.each([
    ['admitted, pods not yet running', job({ phase: 'Admitted', admission }), true],
    ['new', job(undefined), false],
    ['waiting', job(waiting({ position: 2 })), false],
    ['running', job({ phase: 'Running', admission }), false],
    ['succeeded', job({ phase: 'Succeeded' }), false],
  ])('%s: %s', (_what, j, expected) => {
    expect(awaitsPods(j)).toBe(expected);
  });
});
