import { describe, expect, it } from '@jest/globals';
import type { DevicePolicy, Quota } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { parseResources } from '../../apis/quantity.js';
import { admissionCycle, type CycleInput, type CycleResult, type PendingWorkload } from './cycle.js';
import type { NodeState } from './placement.js';
import { quotaState } from './quota.js';

const node = (name: string, gpus: number): NodeState => ({ name, labels: {}, free: parseResources({ 'nvidia.com/gpu': gpus, cpu: 64, memory: '512Gi' }) });

const job = (name: string, pods: number, gpusPerPod: number, extra: Partial<PendingWorkload> = {}): PendingWorkload => ({
  key: `team-a/${name}`,
  namespace: 'team-a',
  priority: 0,
  createdAt: 0,
  pool: 'gpu',
  podSets: [{ task: 'worker', count: pods, requests: parseResources({ 'nvidia.com/gpu': gpusPerPod, cpu: 4 }), path: 'spec.tasks[0]' }],
  requireQuota: false,
  mayPreempt: true,
  preemptible: true,
  ...extra,
});

const quota = (gpus: number): Quota => ({
  apiVersion: 'octopus.openi.pcl.cn/v1alpha1',
  kind: 'Quota',
  metadata: { name: 'default', namespace: 'team-a' },
  spec: { hard: { 'nvidia.com/gpu': gpus } },
});

/** What a waiting workload is told, without its place in the queue. */
const verdicts = (r: CycleResult) => r.waiting.map(({ key, reason, message }) => ({ key, reason, message }));

function input(pending: PendingWorkload[], nodes: NodeState[], extra: Partial<CycleInput> = {}): CycleInput {
  return {
    pending,
    active: [],
    pools: new Map([['gpu', { name: 'gpu', nodes }]]),
    quotas: new Map(),
    policies: [],
    ...extra,
  };
}

describe('admissionCycle', () => {
  it('quota of 8 GPUs, three 4-GPU jobs: the first two are admitted, the third waits naming the quota', () => {
    const r = admissionCycle(
      input([job('a', 1, 4, { createdAt: 1 }), job('b', 1, 4, { createdAt: 2 }), job('c', 1, 4, { createdAt: 3 })], [node('n1', 8), node('n2', 8)], {
        quotas: new Map([['team-a', [quotaState(quota(8))]]]),
      }),
    );
    expect(r.admitted.map((a) => a.key)).toEqual(['team-a/a', 'team-a/b']);
    expect(verdicts(r)).toEqual([
      { key: 'team-a/c', reason: 'QuotaExceeded', message: 'waiting for Quota default: nvidia.com/gpu 8 in use + 4 requested > 8 hard' },
    ]);
  });

  it('does not admit a pod needing 8 GPUs to a pool whose nodes each have 4 free, though 8 are free in total', () => {
    const r = admissionCycle(input([job('big', 1, 8)], [node('n1', 4), node('n2', 4)]));
    expect(r.admitted).toEqual([]);
    expect(r.waiting[0]).toMatchObject({ key: 'team-a/big', reason: 'InsufficientCapacity' });
    expect(r.waiting[0]!.message).toContain('the most free on one of 2 nodes is 4 nvidia.com/gpu');
  });

  it.each([
    {
      name: 'the pool as a whole has too little free',
      pending: [job('big', 3, 8)],
      nodes: [node('n1', 8), node('n2', 8)],
      message: 'pool gpu has no room now for the whole gang of 3 pods: it needs 24 nvidia.com/gpu, 16 are free on its nodes together',
    },
    {
      name: 'enough in total, but no single node fits a pod',
      pending: [job('big', 1, 8)],
      nodes: [node('n1', 4), node('n2', 4)],
      message: 'pool gpu has no room now: no node can fit pod worker-0 (8 nvidia.com/gpu); the most free on one of 2 nodes is 4 nvidia.com/gpu',
    },
    {
      name: 'a pod at least as big as one that found no node earlier in the cycle',
      pending: [job('first', 1, 8, { createdAt: 1 }), job('second', 1, 8, { createdAt: 2 })],
      nodes: [node('n1', 4), node('n2', 4)],
      message: 'pool gpu has no room now: no node fits a pod of task worker: a pod needing no more found none earlier in this cycle',
    },
  ])('says why a gang does not fit when $name', ({ pending, nodes, message }) => {
    const r = admissionCycle(input(pending, nodes));
    expect(r.admitted).toEqual([]);
    expect(r.waiting.at(-1)).toMatchObject({ key: pending.at(-1)!.key, reason: 'InsufficientCapacity', message });
  });

  it.each([
    { case: 'confined to a full zone, then free to go anywhere', first: { zone: 'a' }, second: undefined, admitted: ['team-a/second'] },
    { case: 'confined to a full zone, then to the same zone', first: { zone: 'a' }, second: { zone: 'a' }, admitted: [] },
    { case: 'anywhere with no room, then confined to a zone', first: undefined, second: { zone: 'b' }, admitted: [] },
  ])('a pod that found no node blocks a later one only if it is as big and as confined: $case', ({ first, second, admitted }) => {
    const zoned = (name: string, zone: string, gpus: number): NodeState => ({ ...node(name, gpus), labels: { zone } });
    const confined = (name: string, createdAt: number, nodeSelector?: Record<string, string>) => {
      const w = job(name, 1, 2, { createdAt });
      return { ...w, podSets: w.podSets.map((ps) => (nodeSelector ? { ...ps, nodeSelector } : ps)) };
    };
    const nodes = first ? [zoned('a1', 'a', 1), zoned('b1', 'b', 8)] : [zoned('a1', 'a', 1), zoned('b1', 'b', 1)];
    const r = admissionCycle(input([confined('first', 1, first), confined('second', 2, second)], nodes));
    expect(r.admitted.map((a) => a.key)).toEqual(admitted);
    expect(r.waiting.find((w) => w.key === 'team-a/first')).toMatchObject({ reason: 'InsufficientCapacity' });
  });

  it('admits by priority, then age', () => {
    const r = admissionCycle(input([job('old', 1, 8, { createdAt: 1 }), job('urgent', 1, 8, { createdAt: 5, priority: 10 }), job('new', 1, 8, { createdAt: 2 })], [node('n1', 8)]));
    expect(r.admitted.map((a) => a.key)).toEqual(['team-a/urgent']);
    expect(r.waiting.map((w) => w.key)).toEqual(['team-a/old', 'team-a/new']);
  });

  it('best effort: a smaller job behind a blocked big one is admitted', () => {
    const r = admissionCycle(input([job('big', 2, 8, { createdAt: 1 }), job('small', 1, 2, { createdAt: 2 })], [node('n1', 8)]));
    expect(r.admitted.map((a) => a.key)).toEqual(['team-a/small']);
  });

  it('counts admitted-but-unbound pods of earlier admissions as taken', () => {
    const unbound = [{ task: 'worker', count: 1, requests: parseResources({ 'nvidia.com/gpu': 8, cpu: 4 }) }];
    const r = admissionCycle(
      input([job('next', 1, 8)], [node('n1', 8)], { active: [{ namespace: 'team-b', pool: 'gpu', total: parseResources({ 'nvidia.com/gpu': 8 }), priority: 0, admittedAt: 0, preemptible: true, bound: [], unbound }] }),
    );
    expect(r.admitted).toEqual([]);
    expect(r.waiting[0]!.reason).toBe('InsufficientCapacity');
  });

  it('admits the whole gang or nothing, and reserves it for later workloads in the same cycle', () => {
    const r = admissionCycle(input([job('a', 3, 4, { createdAt: 1 }), job('b', 2, 4, { createdAt: 2 })], [node('n1', 8), node('n2', 8)]));
    expect(r.admitted.map((a) => a.key)).toEqual(['team-a/a']);
    expect(r.admitted[0]!.total).toEqual({ cpu: '12', 'nvidia.com/gpu': '12' });
    expect(r.waiting.map((w) => w.key)).toEqual(['team-a/b']);
  });

  it('applies DevicePolicies and freezes the node labels they add into the admission', () => {
    const policy: DevicePolicy = {
      apiVersion: 'octopus.openi.pcl.cn/v1alpha1',
      kind: 'DevicePolicy',
      metadata: { name: 'gpus' },
      spec: { rules: [{ resource: 'nvidia.com/gpu', maxPerPod: 4, nodeLabels: { 'gpu.product': 'a100' } }] },
    };
    const labelled: NodeState = { ...node('n1', 8), labels: { 'gpu.product': 'a100' } };
    const r = admissionCycle(input([job('ok', 1, 4, { createdAt: 1 }), job('too-big', 1, 8, { createdAt: 2 })], [labelled], { policies: [policy] }));
    expect(r.admitted.map((a) => [a.key, a.podSets[0]!.nodeSelector])).toEqual([['team-a/ok', { 'gpu.product': 'a100' }]]);
    expect(verdicts(r)).toEqual([
      { key: 'team-a/too-big', reason: 'DevicePolicyDenied', message: 'requests 8 nvidia.com/gpu per pod, more than the 4 per pod that DevicePolicy gpus allows' },
    ]);
  });

  it.each<{ name: string; hard: Record<string, number>; requireQuota: boolean; want?: { reason: string; message: string } }>([
    { name: 'a resource no Quota names, under requireQuota', hard: { cpu: 64 }, requireQuota: true, want: { reason: 'NoQuota', message: 'no Quota in namespace team-a limits nvidia.com/gpu: Workspace team-a requires one for every requested resource (spec.requireQuota)' } },
    { name: 'every resource named, under requireQuota', hard: { cpu: 64, 'nvidia.com/gpu': 8 }, requireQuota: true, want: undefined },
    { name: 'a resource no Quota names, without requireQuota', hard: { cpu: 64 }, requireQuota: false, want: undefined },
  ])('fails closed on $name', ({ hard, requireQuota, want }) => {
    const q: Quota = { ...quota(0), spec: { hard } };
    const r = admissionCycle(input([job('a', 1, 4, { requireQuota })], [node('n1', 8)], { quotas: new Map([['team-a', [quotaState(q)]]]) }));
    if (want) expect(verdicts(r)).toEqual([{ key: 'team-a/a', ...want }]);
    else expect(r.admitted.map((a) => a.key)).toEqual(['team-a/a']);
  });

  it('counts pods charged to a workspace outside any pool against its overall quota', () => {
    const charged = { namespace: 'team-a', pool: '', total: parseResources({ 'nvidia.com/gpu': 6 }), priority: 0, admittedAt: 0, preemptible: false, bound: [], unbound: [] };
    const r = admissionCycle(input([job('a', 1, 4)], [node('n1', 8)], { active: [charged], quotas: new Map([['team-a', [quotaState(quota(8))]]]) }));
    expect(verdicts(r)).toEqual([{ key: 'team-a/a', reason: 'QuotaExceeded', message: 'waiting for Quota default: nvidia.com/gpu 6 in use + 4 requested > 8 hard' }]);
  });

  it('judges a scale-up by its added replicas for quota, by the whole gang for a per-job device maximum', () => {
    const policy: DevicePolicy = { apiVersion: 'octopus.openi.pcl.cn/v1alpha1', kind: 'DevicePolicy', metadata: { name: 'gpus' }, spec: { rules: [{ resource: 'nvidia.com/gpu', maxPerJob: 4 }] } };
    const requests = parseResources({ 'nvidia.com/gpu': 1, cpu: 4 });
    const scaleUp = (name: string, held: number, added: number) =>
      job(name, added, 1, { wholeGang: [{ task: 'server', count: held + added, requests, path: 'spec' }] });
    const r = admissionCycle(input([scaleUp('to-4', 3, 1), scaleUp('to-5', 4, 1)], [node('n1', 8)], { policies: [policy] }));
    expect(r.admitted.map((a) => [a.key, a.podSets[0]!.count])).toEqual([['team-a/to-4', 1]]);
    expect(verdicts(r)).toEqual([{ key: 'team-a/to-5', reason: 'DevicePolicyDenied', message: 'requests 5 nvidia.com/gpu in total, more than the 4 per job that DevicePolicy gpus allows' }]);
  });

  it('names a missing pool', () => {
    expect(verdicts(admissionCycle(input([job('a', 1, 1, { pool: 'tpu' })], [])))).toEqual([
      { key: 'team-a/a', reason: 'PoolNotFound', message: 'ResourcePool tpu does not exist' },
    ]);
  });
});
