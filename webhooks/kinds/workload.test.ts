import { describe, expect, it } from '@jest/globals';
import { formatResources } from '../../apis/quantity.js';
import { lookupsOf, makeJob, makeNotebook, makeResourceSpec, makeTask } from '../testing/octopus.js';
import type { Lookups } from './lookups.js';
import { rememberedGangs, workloadGang } from './workload.js';

const specs = lookupsOf([makeResourceSpec('gpu-1x', { 'nvidia.com/gpu': 1, cpu: 8 }, { shmSize: '16Gi' }), makeResourceSpec('broken', { cpu: '1e1.5' })]);

describe('workloadGang', () => {
  it('resolves every task, from resources or its ResourceSpec, with the path of each', () => {
    const gang = workloadGang('Job', makeJob({ tasks: [{ name: 'master', resourceSpec: 'gpu-1x' }, makeTask('worker', { 'nvidia.com/gpu': 2 }, 3)] }), specs);
    expect(gang.podSets.map((p) => [p.path, p.task, p.count])).toEqual([
      ['spec.tasks[0]', 'master', 1],
      ['spec.tasks[1]', 'worker', 3],
    ]);
    expect(formatResources(gang.total)).toEqual({ cpu: '8', 'nvidia.com/gpu': '7' });
    expect(gang).toMatchObject({ pool: 'gpu-a100', path: 'spec.tasks', unresolved: [] });
  });

  it('leaves out, and names, tasks whose ResourceSpec is missing or broken', () => {
    const gang = workloadGang('Job', makeJob({ tasks: [{ name: 'a', resourceSpec: 'gpu-9x' }, { name: 'b', resourceSpec: 'broken' }, makeTask('c', { cpu: 1 })] }), specs);
    expect(gang.podSets.map((p) => p.task)).toEqual(['c']);
    expect(gang.unresolved).toEqual(['gpu-9x', 'broken']);
  });

  it('makes a one-pod gang of a Notebook', () => {
    const gang = workloadGang('Notebook', makeNotebook({ resources: undefined, resourceSpec: 'gpu-1x' }), specs);
    expect(gang.podSets.map((p) => [p.path, p.count])).toEqual([['spec.resourceSpec', 1]]);
    expect(gang.path).toBe('spec.resourceSpec');
  });
});

describe('rememberedGangs', () => {
  it('resolves the gang of one object once', () => {
    let reads = 0;
    const counting: Lookups = { ...specs, resourceSpec: (name) => (reads++, specs.resourceSpec(name)) };
    const gangs = rememberedGangs();
    const job = makeJob({ tasks: [{ name: 'worker', resourceSpec: 'gpu-1x' }] });
    expect(gangs('Job', job, counting)).toBe(gangs('Job', job, counting));
    expect(reads).toBe(1);
    gangs('Job', structuredClone(job), counting);
    expect(reads).toBe(2);
  });
});
