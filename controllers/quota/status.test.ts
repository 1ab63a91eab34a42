import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import type { Job, ModelService, Quota } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { Holders } from '../admission/workloads.js';
import { onlyAccountingMoved, quotaStatus } from './status.js';

const t0 = Date.parse('2026-11-28T10:00:00Z');

const quota = (status: Quota['status'] = {}, budget?: Quota['spec']['budget']): Quota => ({
  apiVersion: 'octopus.openi.pcl.cn/v1alpha1',
  kind: 'Quota',
  metadata: { name: 'default', namespace: 'team-a', generation: 1 },
  spec: { hard: { 'nvidia.com/gpu': 8, cpu: 64 }, ...(budget ? { budget } : {}) },
  status,
});

const job = (name: string, phase: NonNullable<Job['status']>['phase'], gpus?: number, price?: string): Job => ({
  apiVersion: 'octopus.openi.pcl.cn/v1alpha1',
  kind: 'Job',
  metadata: { name, namespace: 'team-a' },
  spec: { image: { reference: 'x' }, pool: 'gpu', tasks: [{ name: 'w', resourceSpec: 's' }] },
  status: {
    phase,
    ...(gpus !== undefined
      ? {
          admission: {
            pool: 'gpu',
            admittedAt: '2026-11-28T09:00:00Z',
            podSets: [{ task: 'w', count: gpus, resources: { 'nvidia.com/gpu': '1' }, ...(price ? { pricePerHour: price } : {}) }],
            total: { 'nvidia.com/gpu': String(gpus) },
          },
        }
      : {}),
  },
});

const holders = (jobs: Job[], extra: Partial<Holders> = {}): Holders => ({ jobs, notebooks: [], modelServices: [], chargedPods: [], buildNamespace: 'octopus-builds', ...extra });

describe('quotaStatus', () => {
  it('sums reservations of active jobs only, and counts queued jobs', () => {
    const s = quotaStatus(quota(), holders([job('a', 'Running', 4), job('b', 'Admitted', 2), job('done', 'Succeeded', 8), job('q', 'Queued')]), t0);
    expect(s.used).toEqual({ 'nvidia.com/gpu': '6' });
    expect(s.pools).toEqual([{ name: 'gpu', used: { 'nvidia.com/gpu': '6' } }]);
    expect(s.admitted).toBe(2);
    expect(s.queued).toBe(1);
    expect(s.summary).toEqual({ cpu: '0/64', accelerators: '6/8' });
  });

  it('integrates the previous reservations over the time since the last accounting', () => {
    const previous = { used: { 'nvidia.com/gpu': '4' }, consumed: { 'nvidia.com/gpu': '10' }, accountedAt: '2026-11-28T09:30:00Z', costPerHour: '50', cost: '100' };
    const s = quotaStatus(quota(previous), holders([job('a', 'Running', 2, '12.5')]), t0);
    // 4 GPUs for half an hour = 2 GPU-hours on top of 10; 50/h for half an hour = 25 on top of 100.
    expect(s.consumed).toEqual({ 'nvidia.com/gpu': '12' });
    expect(s.cost).toBe('125');
    // The new rate applies from now on.
    expect(s.used).toEqual({ 'nvidia.com/gpu': '2' });
    expect(s.costPerHour).toBe('25');
    expect(s.accountedAt).toBe('2026-11-28T10:00:00Z');
  });

  it('counts admitted model services and the running import and build pods charged to the workspace, from where they may be charged', () => {
    const pod = (name: string, namespace: string, phase: string, chargedTo = 'team-a'): V1Pod => ({
      metadata: { name, namespace, labels: { 'octopus.openi.pcl.cn/charged-to': chargedTo } },
      spec: { containers: [{ name: 'c', resources: { requests: { cpu: '500m' } } }] },
      status: { phase },
    });
    const service = {
      metadata: { name: 'serve', namespace: 'team-a' },
      spec: { replicas: 2 },
      status: { admission: { pool: 'gpu', admittedAt: '2026-11-28T09:00:00Z', replicas: 2, resources: { 'nvidia.com/gpu': '1', cpu: '2' }, total: { 'nvidia.com/gpu': '2', cpu: '4' }, pricePerHour: '3' } },
    } as unknown as ModelService;
    const chargedPods = [
      pod('import', 'team-a', 'Running'),
      pod('build', 'octopus-builds', 'Running'),
      pod('finished-import', 'team-a', 'Succeeded'),
      // A label written in another tenant's namespace bills nobody.
      pod('spoofed', 'team-b', 'Running'),
    ];
    const s = quotaStatus(quota(), holders([job('a', 'Running', 1)], { modelServices: [service], chargedPods }), t0);
    expect(s.used).toEqual({ cpu: '5', 'nvidia.com/gpu': '3' });
    // Pods outside admission are in no pool.
    expect(s.pools).toEqual([{ name: 'gpu', used: { cpu: '4', 'nvidia.com/gpu': '3' } }]);
    expect(s.admitted).toBe(2);
    expect(s.costPerHour).toBe('6');
  });

  it('reports a spent budget', () => {
    const previous = { used: {}, consumed: { 'nvidia.com/gpu': '100' }, accountedAt: '2026-11-28T09:30:00Z' };
    const s = quotaStatus(quota(previous, { resourceHours: { 'nvidia.com/gpu': 100 } }), holders([]), t0);
    expect(s.conditions?.[0]).toMatchObject({ type: 'BudgetAvailable', status: 'False', reason: 'BudgetExhausted' });
  });

  it('tells accounting-only changes from real ones', () => {
    const jobs = [job('a', 'Running', 2)];
    const first = quotaStatus(quota(), holders(jobs), t0);
    const later = quotaStatus(quota(first), holders(jobs), t0 + 60_000);
    expect(onlyAccountingMoved(first, later)).toBe(true);
    // As the apiserver returns it: every object's keys sorted.
    const sortKeys = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(sortKeys) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, sortKeys(x)])) : v;
    expect(onlyAccountingMoved(sortKeys(first) as typeof first, later)).toBe(true);
    expect(onlyAccountingMoved(first, quotaStatus(quota(first), holders([...jobs, job('b', 'Running', 1)]), t0 + 60_000))).toBe(false);
  });

  it('shows the queue: how many wait and which is considered first, by position', () => {
    const waiting = (name: string, position?: number): Job => {
      const j = job(name, 'Queued');
      return { ...j, metadata: { ...j.metadata, creationTimestamp: `2026-11-28T09:0${name.length}:00Z` as unknown as Date }, status: { ...j.status, ...(position ? { position } : {}) } };
    };
    const s = quotaStatus(quota(), holders([waiting('third', 7), waiting('first', 2), waiting('unplaced'), job('a', 'Running', 4)]), t0);
    expect({ queued: s.queued, headOfLine: s.headOfLine }).toEqual({ queued: 3, headOfLine: 'Job/first' });
  });

  it.each<{ name: string; spec: Partial<Quota['spec']>; gpus: number; want: { share: string; borrowed?: Record<string, string> } }>([
    { name: 'half its GPUs in use', spec: {}, gpus: 4, want: { share: '0.5' } },
    { name: 'half its GPUs at weight 2', spec: { weight: 2 }, gpus: 4, want: { share: '0.25' } },
    { name: 'borrowing 4 GPUs in a cohort', spec: { cohort: 'research' }, gpus: 12, want: { share: '1.5', borrowed: { 'nvidia.com/gpu': '4' } } },
    { name: 'nothing in use', spec: { cohort: 'research' }, gpus: 0, want: { share: '0' } },
  ])('reports share and borrowing with $name', ({ spec, gpus, want }) => {
    const q = quota();
    const s = quotaStatus({ ...q, spec: { ...q.spec, ...spec } }, holders(gpus > 0 ? [job('a', 'Running', gpus)] : []), t0);
    expect({ share: s.share, ...(s.borrowed ? { borrowed: s.borrowed } : {}) }).toEqual(want);
  });
});
