import { describe, expect, it } from '@jest/globals';
import { allKinds } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { planWebhooks } from '../registration.js';
import { createContext, lookupsOf, makeDataset, makeJob, makeQuota, makeTask, updateContext } from '../testing/octopus.js';
import { octopusAdmission } from './index.js';

const gpuQuota = makeQuota('gpu', { hard: { 'nvidia.com/gpu': 8 } });
const admission = octopusAdmission(lookupsOf([gpuQuota, makeDataset('shared', 'faces', 'Private')]));

describe('octopusAdmission', () => {
  it('validates every Octopus kind and labels every namespaced one', () => {
    const plan = planWebhooks(admission);
    expect(plan.validating.map((k) => k.kind)).toEqual(allKinds.map((k) => k.kind));
    expect(plan.mutating.map((k) => k.kind).sort()).toEqual(['Algorithm', 'Dataset', 'Image', 'Job', 'Model', 'ModelService', 'Notebook', 'Quota']);
  });

  it('admits a Job within its quota, recording the decision', async () => {
    const verdict = await admission.validators.job!.validate(createContext(makeJob({ tasks: [makeTask('worker', { 'nvidia.com/gpu': 2 }, 2)] })));
    expect(verdict).toMatchObject({ errors: [], auditAnnotations: { quota: 'allowed: nvidia.com/gpu 4 of 8 (Quota gpu)', 'device-policy': 'allowed: 4 nvidia.com/gpu in pool gpu-a100 (no DevicePolicy rule)' } });
  });

  it('refuses a malformed Job as Invalid before judging its quota', async () => {
    const verdict = await admission.validators.job!.validate(createContext(makeJob({ tasks: [makeTask('worker', { 'nvidia.com/gpu': '0.5' }, 40)] })));
    expect(verdict).toMatchObject({ reason: 'Invalid', errors: [{ path: 'spec.tasks[0].resources.requests[nvidia.com/gpu]' }] });
  });

  it('refuses quota, visibility and device policy together, as Forbidden', async () => {
    const job = makeJob({ datasets: [{ name: 'faces', namespace: 'shared' }], tasks: [makeTask('worker', { 'nvidia.com/gpu': 4 }, 4)] });
    const verdict = await admission.validators.job!.validate(createContext(job));
    expect(verdict.reason).toBe('Forbidden');
    expect(verdict.errors.map((e) => e.path)).toEqual(['spec.datasets[0]', 'spec.tasks']);
    expect(verdict.auditAnnotations?.quota).toMatch(/^denied: requests 16 nvidia.com\/gpu/);
  });

  it('lets a Job the quota would refuse today take a label, once admitted under an older quota', async () => {
    const big = makeJob({ tasks: [makeTask('worker', { 'nvidia.com/gpu': 4 }, 4)] });
    const labelled = { ...big, metadata: { ...big.metadata, labels: { run: 'b' } } };
    expect((await admission.validators.job!.validate(updateContext(big, labelled))).errors).toEqual([]);
  });

  it('refuses a foreign workspace label on namespaced kinds only', async () => {
    const foreign = { labels: { 'octopus.openi.pcl.cn/workspace': 'team-b' } };
    const quota = { ...gpuQuota, metadata: { ...gpuQuota.metadata, ...foreign } };
    expect((await admission.validators.quota!.validate(createContext(quota))).errors).toEqual([expect.objectContaining({ path: 'metadata.labels[octopus.openi.pcl.cn/workspace]' })]);
    const pool = { apiVersion: 'octopus.openi.pcl.cn/v1alpha1', kind: 'ResourcePool', metadata: { name: 'cpu', ...foreign }, spec: {} };
    expect((await admission.validators.resourcepool!.validate(createContext(pool))).errors).toEqual([]);
  });
});
