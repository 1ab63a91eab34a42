import { describe, expect, it } from '@jest/globals';
import type { DevicePolicy, Job, Notebook } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { Verdict } from '../admission.js';
import { createContext, lookupsOf, makeDevicePolicy, makeJob, makeNotebook, makeResourceSpec, makeTask, updateContext } from '../testing/octopus.js';
import type { WriteContext } from './check.js';
import { validateDevicePolicy } from './device-policy.js';

const gpu = 'nvidia.com/gpu';
const gpuJob = (perPod: number, replicas = 1, pool = 'gpu-a100'): Job => makeJob({ pool, tasks: [makeTask('worker', { [gpu]: perPod, cpu: 8 }, replicas)] });
const denied = (path: string, message: string): Verdict => ({ errors: [{ path, message }], auditAnnotations: { 'device-policy': `denied: ${message}` } });
const policy = (rule: Partial<DevicePolicy['spec']['rules'][number]>) => makeDevicePolicy('accelerators', [{ resource: gpu, ...rule }]);

describe('validateDevicePolicy', () => {
  it.each<{ name: string; policies: DevicePolicy[]; ctx: WriteContext<Job | Notebook>; want: Verdict }>([
    {
      name: 'allows a device no rule names, and records it',
      policies: [makeDevicePolicy('npu', [{ resource: 'huawei.com/Ascend910', maxPerPod: 1 }])],
      ctx: createContext(gpuJob(8, 4)),
      want: { errors: [], auditAnnotations: { 'device-policy': 'allowed: 32 nvidia.com/gpu in pool gpu-a100 (no DevicePolicy rule)' } },
    },
    {
      name: 'allows what the rules allow, naming the policy',
      policies: [policy({ allowedWorkspaces: ['team-a'], maxPerPod: 8, maxPerJob: 32, pools: ['gpu-a100'] })],
      ctx: createContext(gpuJob(8, 4)),
      want: { errors: [], auditAnnotations: { 'device-policy': 'allowed: 32 nvidia.com/gpu in pool gpu-a100 (DevicePolicy accelerators)' } },
    },
    {
      name: 'says nothing about a workload without devices',
      policies: [policy({ deniedWorkspaces: ['team-a'] })],
      ctx: createContext(makeJob({ pool: 'cpu', tasks: [makeTask('worker', { cpu: 2 })] })),
      want: { errors: [] },
    },
    {
      name: 'denies a device the workspace is not among those allowed',
      policies: [policy({ allowedWorkspaces: ['team-b'] })],
      ctx: createContext(gpuJob(1)),
      want: denied('spec', 'workspace team-a may not use nvidia.com/gpu (DevicePolicy accelerators)'),
    },
    {
      name: 'denies a device the workspace is denied',
      policies: [policy({ deniedWorkspaces: ['team-a'] })],
      ctx: createContext(gpuJob(1)),
      want: denied('spec', 'workspace team-a may not use nvidia.com/gpu (DevicePolicy accelerators)'),
    },
    {
      name: 'denies more per pod than maxPerPod, naming the task',
      policies: [policy({ maxPerPod: 4 })],
      ctx: createContext(makeJob({ tasks: [makeTask('chief', { [gpu]: 1 }), makeTask('worker', { [gpu]: 8 }, 2)] })),
      want: denied('spec.tasks[1]', 'requests 8 nvidia.com/gpu per pod, more than the 4 per pod that DevicePolicy accelerators allows'),
    },
    {
      name: 'denies more per job than maxPerJob',
      policies: [policy({ maxPerJob: 16 })],
      ctx: createContext(gpuJob(8, 4)),
      want: denied('spec', 'requests 32 nvidia.com/gpu in total, more than the 16 per job that DevicePolicy accelerators allows'),
    },
    {
      name: 'denies a pool the rule does not name',
      policies: [policy({ pools: ['gpu-a100'] })],
      ctx: createContext(gpuJob(1, 1, 'gpu-h100')),
      want: denied('spec.pool', 'nvidia.com/gpu may only be used in pool gpu-a100, not gpu-h100 (DevicePolicy accelerators)'),
    },
    {
      name: 'judges devices of a ResourceSpec',
      policies: [policy({ maxPerPod: 4 })],
      ctx: createContext(makeJob({ tasks: [{ name: 'worker', resourceSpec: 'gpu-8x' }] })),
      want: denied('spec.tasks[0]', 'requests 8 nvidia.com/gpu per pod, more than the 4 per pod that DevicePolicy accelerators allows'),
    },
    {
      name: 'judges a Notebook',
      policies: [policy({ maxPerPod: 1 })],
      ctx: createContext(makeNotebook({ resources: { requests: { [gpu]: 2 } } })),
      want: denied('spec.resources', 'requests 2 nvidia.com/gpu per pod, more than the 1 per pod that DevicePolicy accelerators allows'),
    },
    {
      name: 'leaves an update that does not change the gang alone',
      policies: [policy({ deniedWorkspaces: ['team-a'] })],
      ctx: updateContext(gpuJob(1), { ...gpuJob(1), metadata: { name: 'train', namespace: 'team-a', labels: { run: '2' } } }),
      want: { errors: [] },
    },
    {
      name: 'judges an update that moves the gang to another pool',
      policies: [policy({ pools: ['gpu-a100'] })],
      ctx: updateContext(gpuJob(1), gpuJob(1, 1, 'gpu-h100')),
      want: denied('spec.pool', 'nvidia.com/gpu may only be used in pool gpu-a100, not gpu-h100 (DevicePolicy accelerators)'),
    },
  ])('$name', ({ policies, ctx, want }) => {
    expect(validateDevicePolicy()(ctx, lookupsOf([...policies, makeResourceSpec('gpu-8x', { [gpu]: 8 })]))).toEqual(want);
  });
});
