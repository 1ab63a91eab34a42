import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from '@jest/globals';
import { ObjectStore } from './store.js';

const pod = (namespace: string | undefined, name: string, node: string, rv = '1'): KubernetesObject => ({
  metadata: { namespace, name, resourceVersion: rv, labels: { node } },
});
const byNode = (obj: KubernetesObject) => [obj.metadata?.labels?.node ?? ''];
const names = (objs: KubernetesObject[]) => objs.map((o) => o.metadata?.name).sort();

describe('ObjectStore', () => {
  it('keys objects by namespace/name, or name when cluster-scoped', () => {
    const store = new ObjectStore();
    store.upsert(pod('a', 'p1', 'n1'));
    store.upsert(pod(undefined, 'node-1', 'n1'));
    expect(store.keys().sort()).toEqual(['a/p1', 'node-1']);
    expect(store.get('a/p1')?.metadata?.name).toBe('p1');
  });

  it('lists every object or one namespace', () => {
    const store = new ObjectStore();
    [pod('a', 'p1', 'n1'), pod('a', 'p2', 'n1'), pod('b', 'p3', 'n2')].forEach((p) => store.upsert(p));
    expect(names(store.list())).toEqual(['p1', 'p2', 'p3']);
    expect(names(store.list('a'))).toEqual(['p1', 'p2']);
    expect(store.list('c')).toEqual([]);
  });

  it('keeps one namespace\'s list current through replacements and removals; cluster-scoped objects are in no namespace', () => {
    const store = new ObjectStore();
    [pod('a', 'p1', 'n1'), pod('a', 'p2', 'n1'), pod(undefined, 'node-1', 'n1')].forEach((p) => store.upsert(p));
    store.upsert(pod('a', 'p1', 'n2', '2'));
    expect(store.list('a').map((o) => o.metadata?.resourceVersion).sort()).toEqual(['1', '2']);
    store.remove('a/p2');
    expect(names(store.list('a'))).toEqual(['p1']);
    store.remove('a/p1');
    expect(store.list('a')).toEqual([]);
    expect(store.list('')).toEqual([]);
    expect(names(store.list())).toEqual(['node-1']);
  });

  it('returns the replaced and the removed object', () => {
    const store = new ObjectStore();
    expect(store.upsert(pod('a', 'p1', 'n1', '1'))).toBeUndefined();
    expect(store.upsert(pod('a', 'p1', 'n1', '2'))?.metadata?.resourceVersion).toBe('1');
    expect(store.remove('a/p1')?.metadata?.resourceVersion).toBe('2');
    expect(store.remove('a/p1')).toBeUndefined();
    expect(store.size).toBe(0);
  });

  it('keeps an index current through adds, moves and removals, including objects stored before the index', () => {
    const store = new ObjectStore();
    store.upsert(pod('a', 'p1', 'n1'));
    store.addIndex('node', byNode);
    store.upsert(pod('a', 'p2', 'n1'));
    store.upsert(pod('b', 'p3', 'n2'));
    expect(names(store.byIndex('node', 'n1'))).toEqual(['p1', 'p2']);
    store.upsert(pod('a', 'p2', 'n2', '2'));
    expect(names(store.byIndex('node', 'n1'))).toEqual(['p1']);
    expect(names(store.byIndex('node', 'n2'))).toEqual(['p2', 'p3']);
    store.remove('a/p1');
    expect(store.byIndex('node', 'n1')).toEqual([]);
  });

  it.each([
    { name: 'an unknown index', act: (s: ObjectStore<KubernetesObject>) => s.byIndex('missing', 'x'), want: /no index named missing/ },
    { name: 'a duplicate index', act: (s: ObjectStore<KubernetesObject>) => s.addIndex('node', byNode), want: /already exists/ },
  ])('refuses $name', ({ act, want }) => {
    const store = new ObjectStore();
    store.addIndex('node', byNode);
    expect(() => act(store)).toThrow(want);
  });
});
