import { describe, expect, it } from '@jest/globals';
import { apiVersion, type Job, type ModelService, type Notebook, type Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { FieldError } from '../admission.js';
import { createContext, lookupsOf, makeJob, makeNotebook, updateContext } from '../testing/octopus.js';
import type { WriteContext } from './check.js';
import { octopusAdmission } from './index.js';
import { validateWorkspacePools } from './workspace-pools.js';

const workspace = (name: string, pools?: string[]): Workspace => ({ apiVersion, kind: 'Workspace', metadata: { name }, spec: pools ? { pools } : {} });
const lookups = lookupsOf([workspace('team-a', ['cpu', 'gpu-a100']), workspace('team-b')]);
const inNamespace = <T extends Job | Notebook>(obj: T, namespace: string): T => ({ ...obj, metadata: { ...obj.metadata, namespace } });
const modelService = (pool: string): ModelService => ({
  apiVersion,
  kind: 'ModelService',
  metadata: { name: 'serve', namespace: 'team-a' },
  spec: { model: { name: 'bert', version: 'v1' }, image: { reference: 'docker.io/pytorch/torchserve:0.12.0-cpu' }, resources: { requests: { cpu: 1 } }, pool },
});
const notAllowed = (pool: string): FieldError[] => [{ path: 'spec.pool', message: `Workspace team-a may use only pools cpu, gpu-a100 (its spec.pools), not ${pool}` }];

describe('validateWorkspacePools', () => {
  it.each<{ name: string; ctx: WriteContext<Job | Notebook | ModelService>; want: FieldError[] }>([
    { name: 'allows a Job in a pool its workspace lists', ctx: createContext(makeJob({ pool: 'gpu-a100' })), want: [] },
    { name: 'denies a Job in a pool its workspace does not list', ctx: createContext(makeJob({ pool: 'npu-910b' })), want: notAllowed('npu-910b') },
    { name: 'denies a Notebook likewise', ctx: createContext(makeNotebook({ pool: 'npu-910b' })), want: notAllowed('npu-910b') },
    { name: 'denies a ModelService likewise', ctx: createContext(modelService('npu-910b')), want: notAllowed('npu-910b') },
    { name: 'allows any pool to a workspace without spec.pools', ctx: createContext(inNamespace(makeJob({ pool: 'npu-910b' }), 'team-b')), want: [] },
    { name: 'allows any pool in a namespace no Workspace owns', ctx: createContext(inNamespace(makeJob({ pool: 'npu-910b' }), 'scratch')), want: [] },
    { name: 'judges a pool changed on update', ctx: updateContext(makeJob({ pool: 'cpu' }), makeJob({ pool: 'npu-910b' })), want: notAllowed('npu-910b') },
  ])('$name', ({ ctx, want }) => {
    expect(validateWorkspacePools(ctx, lookups).errors).toEqual(want);
  });

  it('does not block edits of a Job created before its workspace narrowed spec.pools', async () => {
    const admission = octopusAdmission(lookups);
    const old = makeJob({ pool: 'npu-910b', tasks: [{ name: 'worker', resources: { requests: { cpu: 1 } } }] });
    const suspended = makeJob({ ...old.spec, suspend: true });
    expect((await admission.validators.job!.validate(updateContext(old, suspended))).errors).toEqual([]);
    expect((await admission.validators.job!.validate(createContext(suspended))).errors).toEqual(notAllowed('npu-910b'));
  });
});
