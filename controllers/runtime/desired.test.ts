import { describe, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ObjectClient } from './client.js';
import { applyIfChanged, desiredHashAnnotation, holdsDesired, withDesiredHash } from './desired.js';

describe('holdsDesired', () => {
  it.each([
    { name: 'fields only the live object has do not matter', desired: { spec: { replicas: 2 } }, actual: { spec: { replicas: 2, strategy: { type: 'RollingUpdate' } }, status: {} }, want: true },
    { name: 'a different value matters', desired: { spec: { replicas: 2 } }, actual: { spec: { replicas: 3 } }, want: false },
    { name: 'a field the live object lacks matters', desired: { spec: { paused: true } }, actual: { spec: {} }, want: false },
    { name: 'false, 0, "" and empty lists or maps match an absent field (omitempty)', desired: { a: false, b: 0, c: '', d: [], e: {} }, actual: {}, want: true },
    { name: 'a zero value does not match a set one', desired: { replicas: 0 }, actual: { replicas: 2 }, want: false },
    { name: 'arrays match element by element, defaults inside elements allowed', desired: { ports: [{ port: 80 }] }, actual: { ports: [{ port: 80, protocol: 'TCP' }] }, want: true },
    { name: 'an extra array element matters', desired: { env: [{ name: 'A' }] }, actual: { env: [{ name: 'A' }, { name: 'B' }] }, want: false },
    { name: 'array order matters', desired: { args: ['a', 'b'] }, actual: { args: ['b', 'a'] }, want: false },
    { name: 'an object where a scalar is', desired: { x: { y: 1 } }, actual: { x: 'y' }, want: false },
  ])('$name', ({ desired, actual, want }) => {
    expect(holdsDesired(desired, actual)).toBe(want);
  });

  it('asks `equivalent` about leaves that differ, with their path', () => {
    const paths: string[][] = [];
    const equivalent = (d: unknown, a: unknown, path: readonly string[]) => {
      paths.push([...path]);
      return d === '1000m' && a === '1';
    };
    expect(holdsDesired({ resources: { requests: { cpu: '1000m' } } }, { resources: { requests: { cpu: '1' } } }, equivalent)).toBe(true);
    expect(paths).toEqual([['resources', 'requests', 'cpu']]);
  });
});

describe('withDesiredHash', () => {
  const obj = (labels: Record<string, string>): KubernetesObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', labels } });
  const hash = (o: KubernetesObject) => withDesiredHash(o).metadata?.annotations?.[desiredHashAnnotation];

  it('hashes the intent whatever the key order, and changes when a field goes', () => {
    expect(hash(obj({ a: '1', b: '2' }))).toBe(hash(obj({ b: '2', a: '1' })));
    expect(hash(obj({ a: '1' }))).not.toBe(hash(obj({ a: '1', b: '2' })));
  });
});

describe('applyIfChanged', () => {
  function fakeClient() {
    const applied: KubernetesObject[] = [];
    const client = {
      applyObject: async (o: KubernetesObject) => {
        applied.push(o);
        return o;
      },
    } as unknown as ObjectClient;
    return { client, applied };
  }
  const desired: KubernetesObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: 'n', labels: { app: 'x', tier: 'web' } } };

  it('writes nothing when the cached object holds the intent', async () => {
    const { client, applied } = fakeClient();
    const cached = { ...withDesiredHash(desired), metadata: { ...withDesiredHash(desired).metadata, uid: 'u', resourceVersion: '7' } };
    expect(await applyIfChanged(client, desired, cached)).toBe(false);
    expect(applied).toEqual([]);
  });

  it.each([
    { name: 'the object is missing', cached: undefined },
    { name: 'someone edited a field we set', cached: { ...withDesiredHash(desired), metadata: { ...withDesiredHash(desired).metadata, labels: { app: 'y', tier: 'web' } } } },
    // The live labels still hold every desired one: only the hash tells the intent changed.
    { name: 'we stopped setting a field', cached: withDesiredHash({ ...desired, metadata: { ...desired.metadata, labels: { app: 'x', tier: 'web', old: 'yes' } } }) },
  ])('applies the hashed intent when $name', async ({ cached }) => {
    const { client, applied } = fakeClient();
    expect(await applyIfChanged(client, desired, cached)).toBe(true);
    expect(applied).toEqual([withDesiredHash(desired)]);
  });
});
