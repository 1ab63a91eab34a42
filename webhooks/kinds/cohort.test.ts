import { describe, expect, it } from '@jest/globals';
import { apiVersion, type Quota, type Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { FieldError } from '../admission.js';
import { createContext, lookupsOf, makeQuota, updateContext } from '../testing/octopus.js';
import type { WriteContext } from './check.js';
import { validateLendingLimit } from './cohort.js';
import { octopusAdmission } from './index.js';

const hard = { 'nvidia.com/gpu': 16, cpu: 256 };
const lending = (lendingLimit: Record<string, number>, extra: Partial<Quota['spec']> = {}): Quota => makeQuota('default', { hard, cohort: 'vision', lendingLimit, ...extra });
const workspace = (quota: Workspace['spec']['quota']): Workspace => ({ apiVersion, kind: 'Workspace', metadata: { name: 'team-a' }, spec: { quota } });
const notHeld = (path: string, resource: string): FieldError => ({ path: `${path}.lendingLimit[${resource}]`, message: `${path}.hard does not limit ${resource}: a Quota lends only unused hard limits` });

describe('validateLendingLimit', () => {
  it.each<{ name: string; ctx: WriteContext<Quota | Workspace>; want: FieldError[] }>([
    { name: 'allows lending part of a hard limit', ctx: createContext(lending({ 'nvidia.com/gpu': 8 })), want: [] },
    { name: 'allows lending more than the hard limit (it lends at most what is unused)', ctx: createContext(lending({ cpu: 512 })), want: [] },
    { name: 'allows a Quota that lends without limits', ctx: createContext(makeQuota('default', { hard, cohort: 'vision' })), want: [] },
    { name: 'denies lending a resource spec.hard does not name', ctx: createContext(lending({ 'nvidia.com/gpu': 4, memory: 1 })), want: [notHeld('spec', 'memory')] },
    { name: 'names every such resource', ctx: createContext(lending({ 'huawei.com/Ascend910': 2, 'nvidia.com/gpus': 4 })), want: [notHeld('spec', 'huawei.com/Ascend910'), notHeld('spec', 'nvidia.com/gpus')] },
    { name: 'judges per-pool limits no part of it: only spec.hard is lent', ctx: createContext(lending({ memory: 1 }, { pools: [{ name: 'cpu', hard: { memory: '1Ti' } }] })), want: [notHeld('spec', 'memory')] },
    { name: 'judges an update', ctx: updateContext(lending({ cpu: 8 }), lending({ memory: 1 })), want: [notHeld('spec', 'memory')] },
    { name: "judges a Workspace's quota likewise", ctx: createContext(workspace({ hard, cohort: 'vision', lendingLimit: { memory: 1 } })), want: [notHeld('spec.quota', 'memory')] },
    { name: 'allows a Workspace without a quota', ctx: createContext(workspace(undefined)), want: [] },
  ])('$name', ({ ctx, want }) => {
    expect(validateLendingLimit(ctx, lookupsOf([])).errors).toEqual(want);
  });
});

describe('cohort limits through the validator', () => {
  const admission = octopusAdmission(lookupsOf([]));
  const offline = octopusAdmission(lookupsOf([]), undefined, { schemaJudgedBy: 'nobody' });

  // The CRD's CEL rules: the apiserver applies them before the served webhook is called; offline validation evaluates them as it does.
  it.each([
    { field: 'borrowingLimit', message: 'borrowingLimit needs a cohort to borrow from' },
    { field: 'lendingLimit', message: 'lendingLimit needs a cohort to lend to' },
  ])('refuses $field without a cohort, naming the field', async ({ field, message }) => {
    const quota = makeQuota('default', { hard, [field]: { cpu: 8 } });
    const verdict = await offline.validators.quota!.validate(createContext(quota));
    expect(verdict).toMatchObject({ reason: 'Invalid', errors: [{ path: `spec.${field}`, message: expect.stringContaining(message) as unknown as string }] });
  });

  it("refuses them without a cohort in a Workspace's quota too", async () => {
    const verdict = await offline.validators.workspace!.validate(createContext(workspace({ hard, borrowingLimit: { cpu: 8 } })));
    expect(verdict.errors).toEqual([{ path: 'spec.quota.borrowingLimit', message: expect.stringContaining('borrowingLimit needs a cohort to borrow from') as unknown as string }]);
  });

  it('refuses lending a resource not held as Invalid', async () => {
    const verdict = await admission.validators.quota!.validate(createContext(lending({ memory: 1 })));
    expect(verdict).toMatchObject({ reason: 'Invalid', errors: [notHeld('spec', 'memory')] });
  });

  it('refuses a fraction of a device in a lending or borrowing limit', async () => {
    const verdict = await admission.validators.quota!.validate(createContext(makeQuota('default', { hard, cohort: 'vision', borrowingLimit: { 'nvidia.com/gpu': '0.5' }, lendingLimit: { 'nvidia.com/gpu': '1.5' } })));
    expect(verdict.errors.map((e) => e.path)).toEqual(['spec.borrowingLimit[nvidia.com/gpu]', 'spec.lendingLimit[nvidia.com/gpu]']);
  });

  it('admits a Quota that borrows and lends within its cohort', async () => {
    const verdict = await admission.validators.quota!.validate(createContext(lending({ 'nvidia.com/gpu': 8 }, { borrowingLimit: { 'nvidia.com/gpu': 8 }, weight: 2 })));
    expect(verdict.errors).toEqual([]);
  });
});
