import { describe, expect, it } from '@jest/globals';
import type { ModelService } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
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
    // cpu and memory a pod does not name come from the platform's defaults (the pool sets none here): 3 × 100m, 4 × 128Mi.
    expect(formatResources(gang.total)).toEqual({ cpu: '8300m', memory: '512Mi', 'nvidia.com/gpu': '7' });
    expect(gang).toMatchObject({ pool: 'gpu-a100', path: 'spec.tasks', unresolved: [] });
  });

  it("completes pods with the pool's default requests and prices them with its prices, as admission does", () => {
    const pool = { apiVersion: 'octopus.openi.pcl.cn/v1alpha1', kind: 'ResourcePool', metadata: { name: 'gpu-a100' }, spec: { defaultRequests: { cpu: 4, memory: '16Gi' }, pricesPerHour: { 'nvidia.com/gpu': '10' } } };
    const gang = workloadGang('Job', makeJob({ tasks: [makeTask('worker', { 'nvidia.com/gpu': 2 }, 3)] }), lookupsOf([pool]));
    expect(formatResources(gang.total)).toEqual({ cpu: '12', memory: '48Gi', 'nvidia.com/gpu': '6' });
    expect(gang.podSets[0]!.pricePerHour).toBe('20');
  });

  it('sees a ModelService as a gang of all its replicas', () => {
    const service = { apiVersion: 'octopus.openi.pcl.cn/v1alpha1', kind: 'ModelService', metadata: { name: 'serve', namespace: 'team-a' }, spec: { model: { name: 'm', version: 'v1' }, image: { reference: 'r/x:1' }, pool: 'gpu-a100', replicas: 20, resourceSpec: 'gpu-1x' } } as ModelService;
    const gang = workloadGang('ModelService', service, specs);
    expect(gang.podSets.map((p) => [p.path, p.task, p.count])).toEqual([['spec.resourceSpec', 'server', 20]]);
    expect(formatResources(gang.total)).toEqual({ cpu: '160', memory: '2560Mi', 'nvidia.com/gpu': '20' });
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
