import { describe, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Job, ModelService, Notebook, Quota, Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { Verdict } from '../admission.js';
import { createContext, lookupsOf, makeJob, makeNotebook, makeQuota, makeResourceSpec, makeTask, updateContext } from '../testing/octopus.js';
import type { WriteContext } from './check.js';
import { validateQuota, warnQuotaLowered } from './quota.js';

const gpus = (perPod: number, replicas = 1): Job => makeJob({ tasks: [makeTask('worker', { 'nvidia.com/gpu': perPod, cpu: 8 }, replicas)] });
const gpuQuota = (hard: number, extra: Partial<Quota['spec']> = {}, status?: Quota['status']) => makeQuota('gpu', { hard: { 'nvidia.com/gpu': hard }, ...extra }, status);
const spent = gpuQuota(64, { budget: { resourceHours: { 'nvidia.com/gpu': 100 } } }, { consumed: { 'nvidia.com/gpu': 100 } });
const specs = [makeResourceSpec('gpu-8x', { 'nvidia.com/gpu': 8, cpu: 60 })];
const denied = (path: string, message: string): Verdict => ({ errors: [{ path, message }], auditAnnotations: { quota: `denied: ${message}` } });
const allowed = (decision: string, warnings: string[] = []): Verdict => ({ errors: [], warnings, auditAnnotations: { quota: `allowed: ${decision}` } });

const service = (replicas: number, resourceSpec: string): ModelService => ({
  apiVersion: 'octopus.openi.pcl.cn/v1alpha1',
  kind: 'ModelService',
  metadata: { name: 'serve', namespace: 'team-a' },
  spec: { model: { name: 'm', version: 'v1' }, image: { reference: 'r/x:1' }, pool: 'gpu-a100', replicas, resourceSpec },
});
const requiringWorkspace: Workspace = { apiVersion: 'octopus.openi.pcl.cn/v1alpha1', kind: 'Workspace', metadata: { name: 'team-a' }, spec: {} };

describe('validateQuota', () => {
  it.each<{ name: string; cache: KubernetesObject[]; ctx: WriteContext<Job | Notebook | ModelService>; want: Verdict }>([
    {
      name: 'denies a ModelService whose replicas together exceed a hard limit',
      cache: [gpuQuota(16), ...specs],
      ctx: createContext(service(20, 'gpu-8x')),
      want: denied('spec.resourceSpec', 'requests 160 nvidia.com/gpu, more than the 16 that Quota gpu allows'),
    },
    {
      name: 'warns, under a Workspace that requires quota, that a resource no Quota names makes the gang wait',
      cache: [gpuQuota(16), requiringWorkspace],
      ctx: createContext(gpus(1, 2)),
      want: allowed('nvidia.com/gpu 2 of 16 (Quota gpu)', [
        'spec.tasks: waits (NoQuota): no Quota in namespace team-a limits cpu, memory: Workspace team-a requires one for every requested resource (spec.requireQuota)',
      ]),
    },
    {
      name: 'does not warn about unnamed resources where the Workspace opts out of requireQuota',
      cache: [gpuQuota(16), { ...requiringWorkspace, spec: { requireQuota: false } } as Workspace],
      ctx: createContext(gpus(1, 2)),
      want: allowed('nvidia.com/gpu 2 of 16 (Quota gpu)'),
    },
    {
      name: 'allows a preemptible Job of a cohort Quota above hard, up to what it may borrow',
      cache: [gpuQuota(8, { cohort: 'research', borrowingLimit: { 'nvidia.com/gpu': 8 } })],
      ctx: createContext(gpus(4, 4)),
      want: allowed('nvidia.com/gpu 16 of 8 (Quota gpu)', ['spec.tasks: borrows from cohort research if its members lend enough, else queues until quota frees up, waiting for Quota gpu: nvidia.com/gpu 0 in use + 16 requested > 8 hard']),
    },
    {
      name: 'denies a cohort Job beyond hard plus borrowingLimit, naming both',
      cache: [gpuQuota(8, { cohort: 'research', borrowingLimit: { 'nvidia.com/gpu': 8 } })],
      ctx: createContext(gpus(4, 5)),
      want: denied('spec.tasks', 'requests 20 nvidia.com/gpu, more than the 16 (8 hard + 8 borrowingLimit) that Quota gpu allows'),
    },
    {
      name: 'denies a Job that may not be preempted above hard: it never borrows',
      cache: [gpuQuota(8, { cohort: 'research' })],
      ctx: createContext({ ...gpus(4, 3), spec: { ...gpus(4, 3).spec, preemptible: false } }),
      want: denied('spec.tasks', 'requests 12 nvidia.com/gpu, more than the 8 that Quota gpu allows'),
    },
    {
      name: 'denies a ModelService above hard in a cohort: serving never borrows',
      cache: [gpuQuota(16, { cohort: 'research' }), ...specs],
      ctx: createContext(service(3, 'gpu-8x')),
      want: denied('spec.resourceSpec', 'requests 24 nvidia.com/gpu, more than the 16 that Quota gpu allows'),
    },
    {
      name: 'allows any gang where no Quota applies',
      cache: [makeQuota('elsewhere', { hard: { 'nvidia.com/gpu': 1 } }, undefined, 'team-b')],
      ctx: createContext(gpus(4, 4)),
      want: { errors: [], auditAnnotations: { quota: 'allowed: no Quota in namespace team-a' } },
    },
    {
      name: 'allows a gang within every limit and records what it asks of each',
      cache: [gpuQuota(8), makeQuota('cpu', { hard: { cpu: 64 } })],
      ctx: createContext(gpus(1, 4)),
      want: allowed('nvidia.com/gpu 4 of 8 (Quota gpu), cpu 32 of 64 (Quota cpu)'),
    },
    {
      name: 'denies a gang larger than a hard limit, naming resource, request and limit',
      cache: [gpuQuota(8)],
      ctx: createContext(gpus(4, 4)),
      want: denied('spec.tasks', 'requests 16 nvidia.com/gpu, more than the 8 that Quota gpu allows'),
    },
    {
      name: 'denies a gang larger than the limit of its pool',
      cache: [gpuQuota(32, { pools: [{ name: 'gpu-a100', hard: { 'nvidia.com/gpu': 4 } }] })],
      ctx: createContext(gpus(4, 2)),
      want: denied('spec.tasks', 'requests 8 nvidia.com/gpu, more than the 4 that Quota gpu in pool gpu-a100 allows'),
    },
    {
      name: "ignores another pool's limit",
      cache: [gpuQuota(32, { pools: [{ name: 'gpu-h100', hard: { 'nvidia.com/gpu': 4 } }] })],
      ctx: createContext(gpus(4, 2)),
      want: allowed('nvidia.com/gpu 8 of 32 (Quota gpu)'),
    },
    {
      name: 'allows a gang that only has to wait for quota others hold, and says so',
      cache: [gpuQuota(8, {}, { used: { 'nvidia.com/gpu': 6 } })],
      ctx: createContext(gpus(1, 4)),
      want: allowed('nvidia.com/gpu 4 of 8 (Quota gpu)', ['spec.tasks: queues until quota frees up, waiting for Quota gpu: nvidia.com/gpu 6 in use + 4 requested > 8 hard']),
    },
    {
      name: 'denies a new job while the budget is spent',
      cache: [spent],
      ctx: createContext(gpus(1)),
      want: denied('metadata.namespace', 'budget of Quota gpu is spent: 100 of 100 nvidia.com/gpu-hours consumed'),
    },
    {
      name: 'allows a new job while budget remains',
      cache: [gpuQuota(64, { budget: { resourceHours: { 'nvidia.com/gpu': 100 } } }, { consumed: { 'nvidia.com/gpu': 99 } })],
      ctx: createContext(gpus(1)),
      want: allowed('nvidia.com/gpu 1 of 64 (Quota gpu)'),
    },
    {
      name: 'counts a task by its ResourceSpec',
      cache: [gpuQuota(8), ...specs],
      ctx: createContext(makeJob({ tasks: [{ name: 'worker', replicas: 2, resourceSpec: 'gpu-8x' }] })),
      want: denied('spec.tasks', 'requests 16 nvidia.com/gpu, more than the 8 that Quota gpu allows'),
    },
    {
      name: 'does not count a task whose ResourceSpec is not there yet, and records that',
      cache: [gpuQuota(8)],
      ctx: createContext(makeJob({ tasks: [{ name: 'worker', replicas: 2, resourceSpec: 'gpu-8x' }] })),
      want: allowed('requests nothing a Quota limits; not counted: resourceSpec gpu-8x (not found)'),
    },
    {
      name: 'judges a Notebook as a one-pod gang',
      cache: [gpuQuota(2)],
      ctx: createContext(makeNotebook({ resources: { requests: { 'nvidia.com/gpu': 4 } } })),
      want: denied('spec.resources', 'requests 4 nvidia.com/gpu, more than the 2 that Quota gpu allows'),
    },
    {
      name: "judges a Notebook's ResourceSpec",
      cache: [gpuQuota(4), ...specs],
      ctx: createContext(makeNotebook({ resources: undefined, resourceSpec: 'gpu-8x' })),
      want: denied('spec.resourceSpec', 'requests 8 nvidia.com/gpu, more than the 4 that Quota gpu allows'),
    },
    {
      name: 'leaves an update that does not change the gang alone, spent budget or not',
      cache: [spent],
      ctx: updateContext(gpus(1), { ...gpus(1), spec: { ...gpus(1).spec, suspend: true } }),
      want: { errors: [] },
    },
    {
      name: 'denies an update that grows the gang past a limit',
      cache: [gpuQuota(8)],
      ctx: updateContext(gpus(1, 4), gpus(1, 12)),
      want: denied('spec.tasks', 'requests 12 nvidia.com/gpu, more than the 8 that Quota gpu allows'),
    },
    {
      name: 'does not hold a spent budget against an update of existing work',
      cache: [spent],
      ctx: updateContext(gpus(1), gpus(2)),
      want: allowed('nvidia.com/gpu 2 of 64 (Quota gpu)'),
    },
  ])('$name', ({ cache, ctx, want }) => {
    expect(validateQuota()(ctx, lookupsOf(cache))).toEqual(want);
  });
});

describe('warnQuotaLowered', () => {
  const quota = (hard: Record<string, number>, pools?: Quota['spec']['pools'], status?: Quota['status']) => makeQuota('default', { hard, ...(pools ? { pools } : {}) }, status);
  const inUse: Quota['status'] = { used: { 'nvidia.com/gpu': 6, cpu: 10 }, pools: [{ name: 'gpu-a100', used: { 'nvidia.com/gpu': 6 } }] };

  it.each<{ name: string; ctx: WriteContext<Quota>; want: string[] }>([
    { name: 'says nothing on create', ctx: createContext(quota({ 'nvidia.com/gpu': 1 }, undefined, inUse)), want: [] },
    {
      name: 'warns when a limit is lowered below use',
      ctx: updateContext(quota({ 'nvidia.com/gpu': 8 }, undefined, inUse), quota({ 'nvidia.com/gpu': 4 }, undefined, inUse)),
      want: ['spec.hard[nvidia.com/gpu]: 4 is below the 6 in use; admitted workloads keep it, new ones queue until use drops'],
    },
    { name: 'says nothing when the lowered limit still covers use', ctx: updateContext(quota({ 'nvidia.com/gpu': 16 }, undefined, inUse), quota({ 'nvidia.com/gpu': 8 }, undefined, inUse)), want: [] },
    { name: 'says nothing about a limit this update did not lower', ctx: updateContext(quota({ 'nvidia.com/gpu': 4, cpu: 64 }, undefined, inUse), quota({ 'nvidia.com/gpu': 4, cpu: 32 }, undefined, inUse)), want: [] },
    { name: 'says nothing when a limit is raised', ctx: updateContext(quota({ 'nvidia.com/gpu': 2 }, undefined, inUse), quota({ 'nvidia.com/gpu': 5 }, undefined, inUse)), want: [] },
    {
      name: 'warns when a resource that had no limit gets one below use',
      ctx: updateContext(quota({ 'nvidia.com/gpu': 8 }, undefined, inUse), quota({ 'nvidia.com/gpu': 8, cpu: 4 }, undefined, inUse)),
      want: ['spec.hard[cpu]: 4 is below the 10 in use; admitted workloads keep it, new ones queue until use drops'],
    },
    {
      name: "warns when a pool's limit is lowered below the pool's use",
      ctx: updateContext(quota({}, [{ name: 'gpu-a100', hard: { 'nvidia.com/gpu': 8 } }], inUse), quota({}, [{ name: 'gpu-a100', hard: { 'nvidia.com/gpu': 2 } }], inUse)),
      want: ['spec.pools[0].hard[nvidia.com/gpu]: 2 is below the 6 in use; admitted workloads keep it, new ones queue until use drops'],
    },
    {
      name: 'says nothing when the status does not parse',
      ctx: updateContext(quota({ 'nvidia.com/gpu': 8 }, undefined, { used: { 'nvidia.com/gpu': 'lots' } }), quota({ 'nvidia.com/gpu': 1 }, undefined, { used: { 'nvidia.com/gpu': 'lots' } })),
      want: [],
    },
  ])('$name', ({ ctx, want }) => {
    expect(warnQuotaLowered(ctx, lookupsOf([]))).toEqual({ errors: [], ...(ctx.operation === 'UPDATE' ? { warnings: want } : {}) });
  });
});
