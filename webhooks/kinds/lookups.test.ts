import { describe, expect, it } from '@jest/globals';
import { ObjectStore } from '../../controllers/runtime/store.js';
import { apiVersion, type Quota, type Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { lookupsOf, makeAsset, makeDevicePolicy, makePriorityClass, makeQuota, makeResourceSpec } from '../testing/octopus.js';
import { byNamespace, cacheLookups, namespaceOf, type ObjectCache } from './lookups.js';

describe('cacheLookups', () => {
  it("finds a namespace's Quotas, parsed, and leaves out one that does not parse", () => {
    const lookups = lookupsOf([
      makeQuota('gpu', { hard: { 'nvidia.com/gpu': 8 } }),
      makeQuota('broken', { hard: { cpu: '1e1.5' } }),
      makeQuota('other', { hard: { cpu: 1 } }, undefined, 'team-b'),
    ]);
    expect(lookups.quotas('team-a').map((q) => [q.name, q.hard])).toEqual([['gpu', new Map([['nvidia.com/gpu', 8000n]])]]);
    expect(lookups.quotas('team-c')).toEqual([]);
  });

  it('parses a cached Quota once, and again once the cache holds a new object for it', () => {
    const quotas = new ObjectStore<Quota>();
    quotas.addIndex(byNamespace, namespaceOf);
    const empty: ObjectCache<never> = new ObjectStore<never>();
    const lookups = cacheLookups({ quotas, devicePolicies: empty, resourceSpecs: empty, pools: empty, priorityClasses: empty, workspaces: empty, workloads: { Notebook: empty, ModelService: empty }, assets: { Dataset: empty, Algorithm: empty, Model: empty, Image: empty } });
    quotas.upsert(makeQuota('gpu', { hard: { 'nvidia.com/gpu': 8 } }));
    const [first] = lookups.quotas('team-a');
    expect(lookups.quotas('team-a')[0]).toBe(first);
    quotas.upsert(makeQuota('gpu', { hard: { 'nvidia.com/gpu': 4 } }));
    expect(lookups.quotas('team-a')[0]?.hard.get('nvidia.com/gpu')).toBe(4000n);
  });

  it('finds device policies and resource specs', () => {
    const lookups = lookupsOf([makeDevicePolicy('p', [{ resource: 'nvidia.com/gpu' }]), makeResourceSpec('gpu-1x', { 'nvidia.com/gpu': 1 })]);
    expect(lookups.devicePolicies().map((p) => p.metadata.name)).toEqual(['p']);
    expect(lookups.resourceSpec('gpu-1x')?.spec.resources.requests).toEqual({ 'nvidia.com/gpu': 1 });
    expect(lookups.resourceSpec('gpu-2x')).toBeUndefined();
  });

  it.each([
    { kind: 'Dataset' as const, visibility: 'Public' as const, want: 'Public' },
    { kind: 'Model' as const, visibility: 'Private' as const, want: 'Private' },
    { kind: 'Image' as const, visibility: undefined, want: 'Private' },
  ])("reads a $kind's visibility ($want)", ({ kind, visibility, want }) => {
    const lookups = lookupsOf([makeAsset(kind, 'shared', 'x', visibility)]);
    expect(lookups.visibility(kind, 'shared', 'x')).toBe(want);
    expect(lookups.visibility(kind, 'team-a', 'x')).toBeUndefined();
    expect(lookups.visibility('Algorithm', 'shared', 'x')).toBeUndefined();
  });

  it("finds priority classes, and the ones a namespace's Workspace lists (none where no Workspace owns it)", () => {
    const workspace = (name: string, spec: Workspace['spec']): Workspace => ({ apiVersion, kind: 'Workspace', metadata: { name }, spec });
    const lookups = lookupsOf([makePriorityClass('urgent', 1000), workspace('team-a', { priorityClasses: ['urgent'] }), workspace('team-b', {})]);
    expect(lookups.priorityClass('urgent')?.spec.value).toBe(1000);
    expect(lookups.priorityClass('standard')).toBeUndefined();
    expect(lookups.workspacePriorityClasses('team-a')).toEqual(['urgent']);
    expect(lookups.workspacePriorityClasses('team-b')).toEqual([]);
    expect(lookups.workspacePriorityClasses('scratch')).toBeUndefined();
  });
});
