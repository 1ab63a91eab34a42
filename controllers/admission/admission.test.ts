import { describe, expect, it } from '@jest/globals';
import type { DevicePolicy, Quota, ResourceSpec } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { formatResources, parseResources } from '../../apis/quantity.js';
import { deviceNodeSelector, deviceViolations } from './device-policy.js';
import { describeAccelerators, gangTotal, resolveTask, type Gang, type PodSet, type PoolTerms, type TaskSpec } from './gang.js';
import { placeGang, type NodeState } from './placement.js';
import { budgetProblems, neverFits, notNow, quotaState } from './quota.js';

const gpuNode = (name: string, freeGpus: number, labels: Record<string, string> = {}): NodeState => ({
  name,
  labels,
  free: parseResources({ 'nvidia.com/gpu': freeGpus, cpu: 64, memory: '512Gi' }),
});
const podSet = (task: string, count: number, gpus: number, extra: Partial<PodSet> = {}): PodSet => ({
  task,
  count,
  requests: parseResources({ 'nvidia.com/gpu': gpus, cpu: 8, memory: '64Gi' }),
  ...extra,
});
const spec = (name: string, requests: Record<string, string | number>, extra: Partial<ResourceSpec['spec']> = {}): ResourceSpec => ({
  apiVersion: 'octopus.openi.pcl.cn/v1alpha1',
  kind: 'ResourceSpec',
  metadata: { name },
  spec: { resources: { requests }, ...extra },
});

describe('resolveTask', () => {
  const specs = new Map([['gpu-1x', spec('gpu-1x', { 'nvidia.com/gpu': 1, cpu: 8 }, { shmSize: '16Gi', pricePerHour: '12.5' })]]);

  it.each<{ name: string; task: TaskSpec; pool?: PoolTerms; want: { count: number; requests: Record<string, string>; shm: bigint | undefined; price: string | undefined } }>([
    {
      name: 'takes requests, shm and price from the ResourceSpec',
      task: { name: 'worker', replicas: 4, resourceSpec: 'gpu-1x' },
      want: { count: 4, requests: { cpu: '8', memory: '128Mi', 'nvidia.com/gpu': '1' }, shm: 16n * 1024n ** 3n * 1000n, price: '12.5' },
    },
    {
      name: 'a task shmSize overrides the spec',
      task: { name: 'worker', resourceSpec: 'gpu-1x', shmSize: '1Gi' },
      want: { count: 1, requests: { cpu: '8', memory: '128Mi', 'nvidia.com/gpu': '1' }, shm: 1024n ** 3n * 1000n, price: '12.5' },
    },
    {
      name: 'counts extended resources given only as limits',
      task: { name: 'worker', resources: { requests: { cpu: 2 }, limits: { 'nvidia.com/gpu': 2, cpu: 4 } } },
      want: { count: 1, requests: { cpu: '2', memory: '128Mi', 'nvidia.com/gpu': '2' }, shm: undefined, price: undefined },
    },
    {
      name: 'gives a pod without cpu or memory the pool defaults, so none is BestEffort',
      task: { name: 'worker', resources: { requests: { 'nvidia.com/gpu': 1 } } },
      pool: { defaultRequests: { cpu: 2, memory: '8Gi' } },
      want: { count: 1, requests: { cpu: '2', memory: '8Gi', 'nvidia.com/gpu': '1' }, shm: undefined, price: undefined },
    },
    {
      name: 'gives the platform defaults where the pool sets none',
      task: { name: 'worker', resources: { limits: { 'nvidia.com/gpu': 1 } } },
      want: { count: 1, requests: { cpu: '100m', memory: '128Mi', 'nvidia.com/gpu': '1' }, shm: undefined, price: undefined },
    },
    {
      name: "prices inline resources with the pool's prices, memory by the GiB",
      task: { name: 'worker', resources: { requests: { 'nvidia.com/gpu': 2, cpu: '500m', memory: '16Gi' } } },
      pool: { pricesPerHour: { 'nvidia.com/gpu': '10', cpu: '0.05', memory: '0.01' } },
      // 2 × 10 + 0.5 × 0.05 + 16 × 0.01 = 20.185
      want: { count: 1, requests: { cpu: '500m', memory: '16Gi', 'nvidia.com/gpu': '2' }, shm: undefined, price: '20.185' },
    },
    {
      name: 'rounds a price below a thousandth up, so a priced request never costs nothing',
      task: { name: 'worker', resources: { requests: { cpu: '1m', memory: '1Mi' } } },
      pool: { pricesPerHour: { cpu: '0.05' } },
      want: { count: 1, requests: { cpu: '1m', memory: '1Mi' }, shm: undefined, price: '0.001' },
    },
    {
      name: "keeps the ResourceSpec's own price over the pool's",
      task: { name: 'worker', resourceSpec: 'gpu-1x' },
      pool: { pricesPerHour: { 'nvidia.com/gpu': '1000' } },
      want: { count: 1, requests: { cpu: '8', memory: '128Mi', 'nvidia.com/gpu': '1' }, shm: 16n * 1024n ** 3n * 1000n, price: '12.5' },
    },
  ])('$name', ({ task, pool, want }) => {
    const r = resolveTask(task, specs, undefined, pool);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.podSet.count).toBe(want.count);
    expect(formatResources(r.podSet.requests)).toEqual(want.requests);
    expect(r.podSet.shmSize).toBe(want.shm);
    expect(r.podSet.pricePerHour).toBe(want.price);
  });

  it('names a missing ResourceSpec', () => {
    expect(resolveTask({ name: 'w', resourceSpec: 'gpu-9x' }, specs)).toEqual({ ok: false, missing: 'gpu-9x' });
  });

  it('describes accelerators of a gang', () => {
    const gang: Gang = { podSets: [podSet('worker', 4, 2), { task: 'npu', count: 1, requests: parseResources({ 'huawei.com/Ascend910': 8 }) }] };
    expect(describeAccelerators(gangTotal(gang))).toBe('8 nvidia.com/gpu, 8 huawei.com/Ascend910');
  });
});

describe('placeGang', () => {
  it.each([
    {
      name: 'a pod needing 8 GPUs does not fit nodes with 4 free each, although 8 are free in total',
      nodes: [gpuNode('a', 4), gpuNode('b', 4)],
      gang: { podSets: [podSet('worker', 1, 8)] },
      wantOk: false,
      wantMessage: /no node can fit pod worker-0 \(8 nvidia.com\/gpu\); the most free on one of 2 nodes is 4 nvidia.com\/gpu/,
    },
    {
      name: 'four 2-GPU pods fit two 4-GPU nodes',
      nodes: [gpuNode('a', 4), gpuNode('b', 4)],
      gang: { podSets: [podSet('worker', 4, 2)] },
      wantOk: true,
      wantMessage: undefined,
    },
    {
      name: 'big pods first: 8 then 1+1 fits an 8 and a 2, where smallest-first would not',
      nodes: [gpuNode('a', 2), gpuNode('b', 8)],
      gang: { podSets: [podSet('small', 2, 1), podSet('big', 1, 8)] },
      wantOk: true,
      wantMessage: undefined,
    },
    {
      name: 'a node selector limits the candidates',
      nodes: [gpuNode('a', 8, { zone: 'x' }), gpuNode('b', 8, { zone: 'y' })],
      gang: { podSets: [podSet('worker', 2, 8, { nodeSelector: { zone: 'y' } })] },
      wantOk: false,
      wantMessage: /no node can fit pod worker-1/,
    },
  ])('$name', ({ nodes, gang, wantOk, wantMessage }) => {
    const before = nodes.map((n) => formatResources(n.free));
    const result = placeGang(nodes, gang);
    expect(result.ok).toBe(wantOk);
    if (result.ok) {
      expect(result.placements).toHaveLength(gang.podSets.reduce((n, p) => n + p.count, 0));
    } else {
      expect(result.message).toMatch(wantMessage!);
      // A failed placement reserves nothing.
      expect(nodes.map((n) => formatResources(n.free))).toEqual(before);
    }
  });

  it('reserves what it placed, so the next gang sees less', () => {
    const nodes = [gpuNode('a', 8)];
    expect(placeGang(nodes, { podSets: [podSet('w', 1, 6)] }).ok).toBe(true);
    expect(formatResources(nodes[0]!.free)['nvidia.com/gpu']).toBe('2');
    expect(placeGang(nodes, { podSets: [podSet('w', 1, 4)] }).ok).toBe(false);
  });

  it('packs best-fit: a 2-GPU pod goes to the fuller node, keeping a whole node free', () => {
    const nodes = [gpuNode('empty', 8), gpuNode('half', 4)];
    const r = placeGang(nodes, { podSets: [podSet('w', 1, 2)] });
    expect(r.ok && r.placements[0]!.node).toBe('half');
  });
});

const quota = (hard: Record<string, string | number>, extra: Partial<Quota['spec']> = {}, status: Quota['status'] = {}): Quota => ({
  apiVersion: 'octopus.openi.pcl.cn/v1alpha1',
  kind: 'Quota',
  metadata: { name: 'default', namespace: 'team-a' },
  spec: { hard, ...extra },
  status,
});

describe('quota', () => {
  const gpus = (n: number) => parseResources({ 'nvidia.com/gpu': n });

  it.each([
    { name: 'a gang above the hard limit never fits', hard: 8, gang: 12, want: /requests 12 nvidia.com\/gpu, more than the 8 that Quota default allows/ },
    { name: 'a gang at the limit can fit', hard: 8, gang: 8, want: undefined },
  ])('$name', ({ hard, gang, want }) => {
    const problems = neverFits([quotaState(quota({ 'nvidia.com/gpu': hard }))], 'gpu-a100', gpus(gang));
    if (want) expect(problems.map((p) => p.message)).toEqual([expect.stringMatching(want)]);
    else expect(problems).toEqual([]);
  });

  it('keeps a gang waiting while reservations fill the quota, naming the numbers', () => {
    const q = quotaState(quota({ 'nvidia.com/gpu': 8 }), { total: gpus(8), byPool: new Map() });
    const problems = notNow([q], 'gpu-a100', gpus(4));
    expect(problems).toHaveLength(1);
    expect(problems[0]!.message).toBe('waiting for Quota default: nvidia.com/gpu 8 in use + 4 requested > 8 hard');
    expect(notNow([quotaState(quota({ 'nvidia.com/gpu': 8 }), { total: gpus(4), byPool: new Map() })], 'gpu-a100', gpus(4))).toEqual([]);
  });

  it('applies per-pool limits only in that pool', () => {
    const q = quotaState(quota({ 'nvidia.com/gpu': 16 }, { pools: [{ name: 'gpu-a100', hard: { 'nvidia.com/gpu': 4 } }] }));
    expect(neverFits([q], 'gpu-a100', gpus(8)).map((p) => p.message)).toEqual([
      'requests 8 nvidia.com/gpu, more than the 4 that Quota default in pool gpu-a100 allows',
    ]);
    expect(neverFits([q], 'gpu-h100', gpus(8))).toEqual([]);
  });

  it('reports a spent budget', () => {
    const q = quotaState(quota({ cpu: 10 }, { budget: { resourceHours: { 'nvidia.com/gpu': 100 } } }, { consumed: { 'nvidia.com/gpu': '100' } }));
    expect(budgetProblems([q])).toEqual([
      { quota: 'default', reason: 'BudgetExhausted', message: 'budget of Quota default is spent: 100 of 100 nvidia.com/gpu-hours consumed' },
    ]);
    const fresh = quotaState(quota({ cpu: 10 }, { budget: { resourceHours: { 'nvidia.com/gpu': 100 } } }, { consumed: { 'nvidia.com/gpu': '99.5' } }));
    expect(budgetProblems([fresh])).toEqual([]);
  });
});

describe('device policy', () => {
  const policy: DevicePolicy = {
    apiVersion: 'octopus.openi.pcl.cn/v1alpha1',
    kind: 'DevicePolicy',
    metadata: { name: 'accelerators' },
    spec: {
      rules: [
        { resource: 'nvidia.com/gpu', maxPerPod: 8, maxPerJob: 16, pools: ['gpu-a100'] },
        { resource: 'huawei.com/Ascend910', allowedWorkspaces: ['team-a'], nodeLabels: { accelerator: 'ascend' } },
      ],
    },
  };
  const req = (namespace: string, pool: string, podSets: [PodSet, string][]) => ({ namespace, pool, podSets: podSets.map(([p, path]) => ({ ...p, path })) });
  const npu = (n: number): PodSet => ({ task: 'w', count: 1, requests: parseResources({ 'huawei.com/Ascend910': n }) });

  it.each([
    { name: 'allows what the rules allow', r: req('team-a', 'gpu-a100', [[podSet('w', 2, 8), 'spec.tasks[0]']]), want: [] },
    {
      name: 'denies too many devices per pod',
      r: req('team-a', 'gpu-a100', [[podSet('w', 1, 9), 'spec.tasks[0]']]),
      want: [{ path: 'spec.tasks[0]', message: 'requests 9 nvidia.com/gpu per pod, more than the 8 per pod that DevicePolicy accelerators allows' }],
    },
    {
      name: 'denies too many devices per job',
      r: req('team-a', 'gpu-a100', [[podSet('w', 3, 8), 'spec.tasks[0]']]),
      want: [{ path: 'spec', message: 'requests 24 nvidia.com/gpu in total, more than the 16 per job that DevicePolicy accelerators allows' }],
    },
    {
      name: 'denies a pool the device may not be used in',
      r: req('team-a', 'cpu', [[podSet('w', 1, 1), 'spec.tasks[0]']]),
      want: [{ path: 'spec.pool', message: 'nvidia.com/gpu may only be used in pool gpu-a100, not cpu (DevicePolicy accelerators)' }],
    },
    {
      name: 'denies a workspace not on the allow list',
      r: req('team-b', 'npu-910', [[npu(1), 'spec.tasks[0]']]),
      want: [{ path: 'spec', message: 'workspace team-b may not use huawei.com/Ascend910 (DevicePolicy accelerators)' }],
    },
    { name: 'leaves devices no rule names alone', r: req('team-b', 'x', [[{ task: 'w', count: 1, requests: parseResources({ 'xilinx.com/fpga': 4 }) }, 'spec.tasks[0]']]), want: [] },
  ])('$name', ({ r, want }) => {
    expect(deviceViolations([policy], r)).toEqual(want);
  });

  it('adds node labels for the devices a pod uses', () => {
    expect(deviceNodeSelector([policy], parseResources({ 'huawei.com/Ascend910': 1 }))).toEqual({ accelerator: 'ascend' });
    expect(deviceNodeSelector([policy], parseResources({ 'nvidia.com/gpu': 1 }))).toEqual({});
  });
});
