import { describe, expect, it } from '@jest/globals';
import type { V1Node } from '@kubernetes/client-node';
import type { ResourcePool } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { WaitingWorkload } from '../admission/workloads.js';
import { poolShape, poolStatus, shapeOf } from './status.js';

const pool: ResourcePool = { apiVersion: 'octopus.openi.pcl.cn/v1alpha1', kind: 'ResourcePool', metadata: { name: 'gpu', generation: 1 }, spec: {} as ResourcePool['spec'] };
const node: V1Node = {
  metadata: { name: 'n1' },
  status: { capacity: { 'nvidia.com/gpu': '8' }, allocatable: { 'nvidia.com/gpu': '8' }, conditions: [{ type: 'Ready', status: 'True' }] },
};
const waiting = (name: string, position: number | undefined, message: string): WaitingWorkload => ({
  kind: 'Job',
  namespace: 'team-a',
  name,
  pool: 'gpu',
  ...(position !== undefined ? { position } : {}),
  message,
  createdAt: '2026-11-28T09:00:00Z',
});

describe('poolStatus queue', () => {
  it.each<{ name: string; waiting: WaitingWorkload[]; want: { pending: number; headOfLine?: string } }>([
    { name: 'an empty queue', waiting: [], want: { pending: 0 } },
    {
      name: 'the lowest position first, with why it waits',
      waiting: [waiting('later', 3, 'waiting for Quota default'), waiting('next', 1, 'pool gpu has no room now'), waiting('new', undefined, '')],
      want: { pending: 3, headOfLine: 'Job team-a/next: pool gpu has no room now' },
    },
    {
      name: 'a long reason cut to fit the field',
      waiting: [waiting('next', 1, 'x'.repeat(2000))],
      want: { pending: 1, headOfLine: `Job team-a/next: ${'x'.repeat(1024 - 'Job team-a/next: '.length - 1)}…` },
    },
  ])('shows $name', ({ waiting: queue, want }) => {
    const s = poolStatus(poolShape(pool, [node], Date.parse('2026-11-28T10:00:00Z')), [], queue);
    expect({ pending: s.pending, ...(s.headOfLine !== undefined ? { headOfLine: s.headOfLine } : {}) }).toEqual(want);
  });
});

describe('poolShape', () => {
  const at = Date.parse('2026-11-28T10:00:00Z');
  it('is what a status computed from the same nodes holds, so an unchanged pool is recognised without its pods', () => {
    const shape = poolShape(pool, [node], at);
    expect(shapeOf(poolStatus(shape, [], []))).toEqual(shape);
    expect(shape).toMatchObject({ nodes: 1, readyNodes: 1 });
  });
  it('changes when a node stops being ready', () => {
    const notReady: V1Node = { ...node, status: { ...node.status, conditions: [{ type: 'Ready', status: 'False' }] } };
    expect(poolShape(pool, [notReady], at)).toMatchObject({ nodes: 1, readyNodes: 0, allocatable: {} });
  });
});
