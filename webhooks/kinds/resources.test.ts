import { describe, expect, it } from '@jest/globals';
import { apiVersion, type ModelService } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { FieldError } from '../admission.js';
import { createContext, lookupsOf, makeJob, makeNotebook, makeQuota, makeResourceSpec } from '../testing/octopus.js';
import type { WriteContext } from './check.js';
import { validateResources, type WithResources } from './resources.js';

const gpu = 'nvidia.com/gpu';
type Requirements = { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
const task = (resources: Requirements, shmSize?: string) => ({ name: 'worker', resources, ...(shmSize ? { shmSize } : {}) });
const service = (resources: Requirements): ModelService => ({
  apiVersion,
  kind: 'ModelService',
  metadata: { name: 'serve', namespace: 'team-a' },
  spec: { model: { name: 'bert', version: 'v1' }, image: { reference: 'docker.io/pytorch/torchserve:0.12.0-cpu' }, pool: 'cpu', resources },
});

describe('validateResources', () => {
  it.each<{ name: string; ctx: WriteContext<WithResources>; want: FieldError[] }>([
    { name: 'allows whole devices and requests within limits', ctx: createContext(makeJob({ tasks: [task({ requests: { [gpu]: 2, cpu: '500m', memory: '8Gi' }, limits: { [gpu]: 2, cpu: 1, memory: '8Gi' } })] })), want: [] },
    { name: 'allows a device given only as a limit', ctx: createContext(makeJob({ tasks: [task({ limits: { [gpu]: 1 } })] })), want: [] },
    {
      name: 'denies half a device',
      ctx: createContext(makeJob({ tasks: [task({ requests: { [gpu]: '0.5' } })] })),
      want: [{ path: 'spec.tasks[0].resources.requests[nvidia.com/gpu]', message: 'Invalid value: "0.5": must be a whole number of devices' }],
    },
    {
      name: 'denies a device limit in milli-units',
      ctx: createContext(makeJob({ tasks: [task({ limits: { 'huawei.com/Ascend910': '1500m' } })] })),
      want: [{ path: 'spec.tasks[0].resources.limits[huawei.com/Ascend910]', message: 'Invalid value: "1500m": must be a whole number of devices' }],
    },
    {
      name: 'denies a request above its limit',
      ctx: createContext(makeJob({ tasks: [task({ requests: { cpu: 8, memory: '16Gi' }, limits: { cpu: 4, memory: '32Gi' } })] })),
      want: [{ path: 'spec.tasks[0].resources.requests[cpu]', message: 'Invalid value: "8": must be less than or equal to the cpu limit of 4' }],
    },
    {
      name: 'denies a device request other than its limit',
      ctx: createContext(makeJob({ tasks: [task({ requests: { [gpu]: 1 }, limits: { [gpu]: 2 } })] })),
      want: [{ path: 'spec.tasks[0].resources.requests[nvidia.com/gpu]', message: 'Invalid value: "1": must be equal to the nvidia.com/gpu limit of 2' }],
    },
    {
      name: 'denies a negative amount',
      ctx: createContext(makeJob({ tasks: [task({ requests: { cpu: '-1' } })] })),
      want: [{ path: 'spec.tasks[0].resources.requests[cpu]', message: 'Invalid value: "-1": must be greater than or equal to 0' }],
    },
    {
      name: 'denies a quantity the schema pattern lets through but Kubernetes cannot hold',
      ctx: createContext(makeJob({ shmSize: '1e1.5', tasks: [task({ requests: { cpu: 1 } }, '2Gi')] })),
      want: [{ path: 'spec.shmSize', message: 'Invalid value: "1e1.5": must be a quantity such as 500m, 4 or 32Gi' }],
    },
    {
      name: 'checks every task',
      ctx: createContext(makeJob({ tasks: [task({ requests: { cpu: 1 } }), { ...task({ requests: { [gpu]: '0.25' } }), name: 'eval' }] })),
      want: [{ path: 'spec.tasks[1].resources.requests[nvidia.com/gpu]', message: 'Invalid value: "0.25": must be a whole number of devices' }],
    },
    {
      name: "checks a Notebook's resources",
      ctx: createContext(makeNotebook({ resources: { requests: { [gpu]: '0.5' } } })),
      want: [{ path: 'spec.resources.requests[nvidia.com/gpu]', message: 'Invalid value: "0.5": must be a whole number of devices' }],
    },
    {
      name: "checks a ModelService's resources",
      ctx: createContext(service({ requests: { memory: '2Gi' }, limits: { memory: '1Gi' } })),
      want: [{ path: 'spec.resources.requests[memory]', message: 'Invalid value: "2Gi": must be less than or equal to the memory limit of 1Gi' }],
    },
    {
      name: "checks a ResourceSpec's resources and shm size",
      ctx: createContext(makeResourceSpec('gpu-half', { [gpu]: '0.5' }, { shmSize: '-1Gi' })),
      want: [
        { path: 'spec.resources.requests[nvidia.com/gpu]', message: 'Invalid value: "0.5": must be a whole number of devices' },
        { path: 'spec.shmSize', message: 'Invalid value: "-1Gi": must be greater than or equal to 0' },
      ],
    },
    {
      name: "checks a Quota's limits, but lets a budget count fractions of device-hours",
      ctx: createContext(makeQuota('q', { hard: { [gpu]: '2.5' }, pools: [{ name: 'p', hard: { cpu: '-4' } }], budget: { resourceHours: { [gpu]: '0.5' } } })),
      want: [
        { path: 'spec.hard[nvidia.com/gpu]', message: 'Invalid value: "2.5": must be a whole number of devices' },
        { path: 'spec.pools[0].hard[cpu]', message: 'Invalid value: "-4": must be greater than or equal to 0' },
      ],
    },
  ])('$name', ({ ctx, want }) => {
    expect(validateResources(ctx, lookupsOf([]))).toEqual({ errors: want });
  });
});
