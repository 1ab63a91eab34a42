import { describe, expect, it } from '@jest/globals';
import { apiVersionOf, groupOf, objectKey, resourceId, resourcePath, splitObjectKey, type ResourceRef } from './resource.js';
import { semanticEqual } from './semantic-equal.js';
import { microTime, rfc3339 } from './time.js';

const configMaps: ResourceRef = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true };
const workspaces: ResourceRef = { group: 'octopus.openi.pcl.cn', version: 'v1alpha1', plural: 'workspaces', kind: 'Workspace', namespaced: false };

describe('resourcePath', () => {
  it.each([
    { resource: configMaps, options: {}, want: '/api/v1/configmaps' },
    { resource: configMaps, options: { namespace: 'a' }, want: '/api/v1/namespaces/a/configmaps' },
    { resource: configMaps, options: { namespace: 'a', name: 'c' }, want: '/api/v1/namespaces/a/configmaps/c' },
    { resource: workspaces, options: { namespace: 'ignored', name: 'w', subresource: 'status' }, want: '/apis/octopus.openi.pcl.cn/v1alpha1/workspaces/w/status' },
  ])('$want', ({ resource, options, want }) => {
    expect(resourcePath(resource, options)).toBe(want);
  });
});

describe('resource names', () => {
  it.each([
    { resource: configMaps, wantApiVersion: 'v1', wantId: 'configmaps.v1' },
    { resource: workspaces, wantApiVersion: 'octopus.openi.pcl.cn/v1alpha1', wantId: 'workspaces.v1alpha1.octopus.openi.pcl.cn' },
  ])('$wantId', ({ resource, wantApiVersion, wantId }) => {
    expect(apiVersionOf(resource)).toBe(wantApiVersion);
    expect(groupOf(wantApiVersion)).toBe(resource.group);
    expect(resourceId(resource)).toBe(wantId);
  });
});

describe('objectKey and splitObjectKey', () => {
  it.each([
    { namespace: 'a', name: 'c', want: 'a/c' },
    { namespace: undefined, name: 'w', want: 'w' },
  ])('$want', ({ namespace, name, want }) => {
    expect(objectKey({ metadata: { namespace, name } })).toBe(want);
    expect(splitObjectKey(want)).toEqual({ namespace, name });
  });
});

describe('semanticEqual', () => {
  it.each([
    { a: { x: 1, y: [1, { z: 'a' }] }, b: { y: [1, { z: 'a' }], x: 1 }, want: true },
    { a: { x: 1, gone: undefined }, b: { x: 1 }, want: true },
    { a: [1, 2], b: [2, 1], want: false },
    { a: { x: 1 }, b: { x: 1, y: 2 }, want: false },
    { a: { x: null }, b: {}, want: false },
    { a: undefined, b: {}, want: false },
    { a: { x: [1] }, b: { x: { 0: 1 } }, want: false },
    { a: 'True', b: 'True', want: true },
  ])('$a vs $b → $want', ({ a, b, want }) => {
    expect(semanticEqual(a, b)).toBe(want);
    expect(semanticEqual(b, a)).toBe(want);
  });
});

describe('time formats', () => {
  it.each([
    { ms: Date.parse('2025-06-01T12:00:00.789Z'), wantTime: '2025-06-01T12:00:00Z', wantMicro: '2025-06-01T12:00:00.789000Z' },
    { ms: Date.parse('2025-06-01T12:00:00Z'), wantTime: '2025-06-01T12:00:00Z', wantMicro: '2025-06-01T12:00:00.000000Z' },
  ])('$wantMicro', ({ ms, wantTime, wantMicro }) => {
    expect(rfc3339(ms)).toBe(wantTime);
    expect(microTime(ms)).toBe(wantMicro);
  });
});
