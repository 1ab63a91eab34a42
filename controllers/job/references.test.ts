import { describe, expect, it } from '@jest/globals';
import type { Job, ResourcePool, Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { resolvePool, resolveReferences, storageClassDenied, trainingPoolUse, type Lookups } from './references.js';

const apiVersion = 'octopus.openi.pcl.cn/v1alpha1';
const pool = (name: string, spec: ResourcePool['spec'] = {}): ResourcePool => ({ apiVersion, kind: 'ResourcePool', metadata: { name }, spec });
const workspace = (name: string, pools?: string[]): Workspace => ({ apiVersion, kind: 'Workspace', metadata: { name }, spec: pools ? { pools } : {} });
const tag = { key: 'octopus.pcl.ac.cn/resource', valuePrefix: '' };

describe('resolvePool', () => {
  const pools = new Map([
    ['gpu', pool('gpu')],
    ['serving', pool('serving', { jobTypes: ['Serving'] })],
  ]);
  it.each([
    { name: 'a namespace that is no workspace may use any pool', namespace: 'scratch', workspaces: [], pool: 'gpu', want: { ok: true } },
    { name: 'a workspace without spec.pools may use any pool', namespace: 'team-a', workspaces: [workspace('team-a')], pool: 'gpu', want: { ok: true } },
    { name: 'a workspace may use a pool it lists', namespace: 'team-a', workspaces: [workspace('team-a', ['cpu', 'gpu'])], pool: 'gpu', want: { ok: true } },
    {
      name: 'a workspace may not use a pool it does not list, even one that exists',
      namespace: 'team-a',
      workspaces: [workspace('team-a', ['cpu', 'npu'])],
      pool: 'gpu',
      want: { ok: false, reason: 'PoolNotInWorkspace', message: 'ResourcePool gpu is not one Workspace team-a may use (spec.pools: cpu, npu)' },
    },
    {
      name: "another workspace's list does not apply",
      namespace: 'team-a',
      workspaces: [workspace('team-b', ['cpu'])],
      pool: 'gpu',
      want: { ok: true },
    },
    { name: 'a missing pool', namespace: 'team-a', workspaces: [], pool: 'tpu', want: { ok: false, reason: 'PoolNotFound', message: 'ResourcePool tpu not found' } },
    {
      name: 'a pool that does not take training jobs',
      namespace: 'team-a',
      workspaces: [],
      pool: 'serving',
      want: { ok: false, reason: 'PoolNotForTraining', message: 'ResourcePool serving does not accept training jobs (jobTypes: Serving)' },
    },
  ])('$name', ({ namespace, workspaces, pool: name, want }) => {
    const byName = new Map(workspaces.map((w) => [w.metadata.name!, w]));
    const got = resolvePool(name, namespace, { pool: (n) => pools.get(n), workspace: (n) => byName.get(n) }, tag, trainingPoolUse);
    expect(got).toMatchObject(want);
  });
});

describe('pool placement', () => {
  const volcano = pool('gpu', { resourceTag: 'gpu-a100', schedulerName: 'volcano', tolerations: [{ key: 'gpu', operator: 'Exists' }] });
  const cpu = pool('cpu');
  const lookups: Lookups = {
    image: () => undefined,
    dataset: () => undefined,
    algorithm: () => undefined,
    model: () => undefined,
    pool: (n) => new Map([['gpu', volcano], ['cpu', cpu]]).get(n),
    spec: () => undefined,
    workspace: () => undefined,
  };

  it("resolves the pool's nodes and scheduler", () => {
    expect(resolvePool('gpu', 'team-a', lookups, tag, trainingPoolUse)).toEqual({
      ok: true,
      pool: { nodeSelector: { [tag.key]: 'gpu-a100' }, tolerations: [{ key: 'gpu', operator: 'Exists' }], schedulerName: 'volcano' },
    });
    expect(resolvePool('cpu', 'team-a', lookups, tag, trainingPoolUse)).toEqual({ ok: true, pool: { nodeSelector: { [tag.key]: 'cpu' }, tolerations: [] } });
  });

  const job = (status?: Job['status']): Job => ({
    apiVersion,
    kind: 'Job',
    metadata: { name: 'train', namespace: 'team-a' },
    spec: { image: { reference: 'docker.io/library/python:3.12' }, pool: 'gpu', tasks: [{ name: 'w', resources: { requests: { cpu: 1 } } }] },
    ...(status ? { status } : {}),
  });

  it.each([
    { name: 'a queued job resolves the pool its spec names', status: undefined, want: { nodeSelector: { [tag.key]: 'gpu-a100' }, schedulerName: 'volcano' } },
    // spec.pool was swapped to gpu after admission in cpu (the webhook refuses it; the pods must not follow regardless).
    { name: 'an admitted job resolves the pool it was admitted to', status: { phase: 'Running' as const, admission: { pool: 'cpu', admittedAt: '2025-06-01T08:00:00Z', podSets: [], total: {} } }, want: { nodeSelector: { [tag.key]: 'cpu' } } },
  ])('$name', ({ status, want }) => {
    const got = resolveReferences(job(status), lookups, tag);
    expect(got.ok && got.refs.pool).toEqual({ tolerations: want.schedulerName ? [{ key: 'gpu', operator: 'Exists' }] : [], ...want });
  });
});

describe('storageClassDenied', () => {
  const withClasses = (storageClasses?: string[]): Workspace => ({ apiVersion, kind: 'Workspace', metadata: { name: 'team-a' }, spec: storageClasses ? { storage: { storageClasses } } : {} });
  it.each([
    { name: 'the cluster default (no class named) is always allowed', ws: withClasses(), storageClassName: undefined, want: undefined },
    { name: 'a class the Workspace lists', ws: withClasses(['fast']), storageClassName: 'fast', want: undefined },
    {
      name: 'a class the Workspace no longer lists',
      ws: withClasses(['fast']),
      storageClassName: 'premium',
      want: { ok: false, reason: 'StoragePolicyDenied', message: 'spec.output.model.storage.storageClassName: StorageClass "premium" is not allowed in workspace team-a (its spec.storage.storageClasses allows fast)' },
    },
  ])('$name', ({ ws, storageClassName, want }) => {
    expect(storageClassDenied(storageClassName, 'spec.output.model.storage.storageClassName', 'team-a', { workspace: (n) => (n === 'team-a' ? ws : undefined) })).toEqual(want);
  });
});
