import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from '@jest/globals';
import { hasFinalizer } from './finalizers.js';
import { controllerOf, controllerReference, isControlledBy, setControllerReference } from './owner.js';

const makeObject = (kind: string, name: string, namespace: string | undefined, uid: string, extra: Partial<KubernetesObject['metadata']> = {}): KubernetesObject => ({
  apiVersion: kind === 'Workspace' ? 'octopus.openi.pcl.cn/v1alpha1' : 'v1',
  kind,
  metadata: { name, namespace, uid, ...extra },
});

const job = makeObject('Job', 'train', 'team-a', 'uid-job');
const workspace = makeObject('Workspace', 'team-a', undefined, 'uid-ws');

describe('controllerReference', () => {
  it('marks the owner as controller and blocks its foreground deletion', () => {
    expect(controllerReference(job)).toEqual({ apiVersion: 'v1', kind: 'Job', name: 'train', uid: 'uid-job', controller: true, blockOwnerDeletion: true });
  });

  it('refuses an owner without uid (one that was never read from the apiserver)', () => {
    expect(() => controllerReference(makeObject('Job', 'x', 'ns', ''))).toThrow(/uid/);
  });
});

describe('setControllerReference', () => {
  it.each([
    { name: 'namespaced owner, same namespace', owner: job, child: makeObject('Pod', 'p', 'team-a', 'uid-p') },
    { name: 'cluster-scoped owner, namespaced child', owner: workspace, child: makeObject('Pod', 'p', 'team-a', 'uid-p') },
    { name: 'cluster-scoped owner, cluster-scoped child', owner: workspace, child: makeObject('Namespace', 'team-a', undefined, 'uid-n') },
  ])('sets the reference: $name', ({ owner, child }) => {
    const owned = setControllerReference(owner, child);
    expect(isControlledBy(owned, owner)).toBe(true);
    expect(child.metadata?.ownerReferences).toBeUndefined();
  });

  it.each([
    { name: 'another namespace', child: makeObject('Pod', 'p', 'team-b', 'uid-p'), want: /same namespace/ },
    { name: 'a cluster-scoped child', child: makeObject('Namespace', 'n', undefined, 'uid-n'), want: /cluster-scoped object/ },
    {
      name: 'a child controlled by someone else',
      child: makeObject('Pod', 'p', 'team-a', 'uid-p', { ownerReferences: [{ apiVersion: 'v1', kind: 'Job', name: 'other', uid: 'uid-other', controller: true }] }),
      want: /already controlled by Job other/,
    },
  ])('refuses $name', ({ child, want }) => {
    expect(() => setControllerReference(job, child)).toThrow(want);
  });

  it('keeps other owners and does not duplicate its own reference', () => {
    const other = { apiVersion: 'v1', kind: 'ConfigMap', name: 'c', uid: 'uid-c' };
    const child = makeObject('Pod', 'p', 'team-a', 'uid-p', { ownerReferences: [other] });
    const twice = setControllerReference(job, setControllerReference(job, child));
    expect(twice.metadata?.ownerReferences).toEqual([other, controllerReference(job)]);
  });
});

describe('controllerOf and isControlledBy', () => {
  const ref = controllerReference(job);
  it.each([
    { name: 'controller reference', refs: [ref], wantController: true },
    { name: 'plain owner reference', refs: [{ ...ref, controller: false }], wantController: false },
    { name: 'no references', refs: undefined, wantController: false },
  ])('$name', ({ refs, wantController }) => {
    const child = makeObject('Pod', 'p', 'team-a', 'uid-p', { ownerReferences: refs });
    expect(controllerOf(child) !== undefined).toBe(wantController);
    expect(isControlledBy(child, job)).toBe(wantController);
    expect(isControlledBy(child, workspace)).toBe(false);
  });
});

describe('hasFinalizer', () => {
  it.each([
    { finalizers: undefined, want: false },
    { finalizers: ['other'], want: false },
    { finalizers: ['other', 'octopus.openi.pcl.cn/cleanup'], want: true },
  ])('$finalizers → $want', ({ finalizers, want }) => {
    expect(hasFinalizer(makeObject('Job', 'j', 'ns', 'u', { finalizers }), 'octopus.openi.pcl.cn/cleanup')).toBe(want);
  });
});
