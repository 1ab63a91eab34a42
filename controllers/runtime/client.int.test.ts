import { CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually } from '../../e2e/harness/kube.js';
import { ObjectClient, type WithStatus } from './client.js';
import { setCondition, type Condition } from './conditions.js';
import { isConflict, isNotFound } from './errors.js';
import { addFinalizer, hasFinalizer, removeFinalizer } from './finalizers.js';
import { resourcePath, type ResourceRef } from './resource.js';
import { RestClient } from './rest.js';
import { RestMapper } from './rest-mapper.js';
import { configMaps } from './testing/fixtures.js';
import { useTestNamespace } from './testing/suite.js';

const widgets: ResourceRef = { group: 'runtime-test.octopus.openi.pcl.cn', version: 'v1', plural: 'widgets', kind: 'Widget', namespaced: true };
const widgetCrdName = `${widgets.plural}.${widgets.group}`;

interface WidgetStatus {
  phase?: string;
  observedGeneration?: number;
  conditions?: Condition[];
}
type Widget = WithStatus<WidgetStatus> & { spec?: { size?: number } };

const finalizer = 'runtime-test.octopus.openi.pcl.cn/cleanup';

describe('ObjectClient against the real apiserver', () => {
  const plane = useTestNamespace('rt-client');
  let core: CoreV1Api;
  let rest: RestClient;
  let client: ObjectClient;

  beforeAll(() => {
    core = plane.kc.makeApiClient(CoreV1Api);
    rest = new RestClient(plane.kc);
    client = new ObjectClient({ rest });
  });

  const configMap = (name: string, data: Record<string, string>): V1ConfigMap => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: plane.namespace }, data });
  const read = (name: string) => core.readNamespacedConfigMap({ namespace: plane.namespace, name });

  describe('applyObject', () => {
    it('creates, then changes nothing when the same intent is applied again', async () => {
      const first = await client.applyObject(configMap('applied', { a: '1' }));
      const second = await client.applyObject(configMap('applied', { a: '1' }));
      expect(second.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
      expect((await read('applied')).metadata?.managedFields?.map((f) => f.manager)).toEqual(['octopus-controller']);
    });

    it('owns what it applies: a changed intent replaces fields, a dropped field is removed', async () => {
      await client.applyObject(configMap('owned', { a: '1', b: '2' }));
      await core.patchNamespacedConfigMap({ namespace: plane.namespace, name: 'owned', body: [{ op: 'add', path: '/data/c', value: 'someone else' }] });
      const updated = await client.applyObject(configMap('owned', { a: '9' }));
      expect(updated.data).toEqual({ a: '9', c: 'someone else' });
    });

    it('ignores managedFields carried over from a read object', async () => {
      const current = await client.applyObject(configMap('reapplied', { a: '1' }));
      const again = await client.applyObject({ ...current, data: { a: '2' } });
      expect(again.data).toEqual({ a: '2' });
    });
  });

  describe('deleteIgnoreNotFound', () => {
    it('reports whether it deleted something', async () => {
      await client.applyObject(configMap('doomed', { a: '1' }));
      expect(await client.deleteIgnoreNotFound(configMap('doomed', {}))).toBe(true);
      expect(await client.deleteIgnoreNotFound(configMap('doomed', {}))).toBe(false);
      await expect(read('doomed')).rejects.toMatchObject({ code: 404 });
    });
  });

  describe('RestMapper', () => {
    it('finds the plural and scope of a kind, and names what it cannot find', async () => {
      const mapper = new RestMapper(rest);
      expect(await mapper.resourceFor('v1', 'ConfigMap')).toEqual(configMaps);
      expect(await mapper.resourceFor('coordination.k8s.io/v1', 'Lease')).toMatchObject({ plural: 'leases', namespaced: true });
      expect(await mapper.resourceFor('v1', 'Namespace')).toMatchObject({ plural: 'namespaces', namespaced: false });
      await expect(mapper.resourceFor('v1', 'Gizmo')).rejects.toThrow(/no kind Gizmo in v1/);
      await expect(mapper.resourceFor('nothing.example.com/v1', 'Gizmo')).rejects.toThrow(/no kind Gizmo/);
    });
  });

  describe('finalizers', () => {
    it('adds once, keeps the object while deleting, and lets it go when removed', async () => {
      const created = await client.applyObject(configMap('guarded', { a: '1' }));
      const guarded = await addFinalizer(client, created, finalizer);
      expect(hasFinalizer(await read('guarded'), finalizer)).toBe(true);
      expect(await addFinalizer(client, guarded, finalizer)).toBe(guarded);

      await core.deleteNamespacedConfigMap({ namespace: plane.namespace, name: 'guarded' });
      const deleting = await read('guarded');
      expect(deleting.metadata?.deletionTimestamp).toBeDefined();
      await removeFinalizer(client, { ...deleting, apiVersion: 'v1', kind: 'ConfigMap' }, finalizer);
      await eventually('guarded gone', async () => {
        try {
          await read('guarded');
          return undefined;
        } catch (err) {
          return isNotFound(err) ? true : undefined;
        }
      });
    });

    it('fails with a conflict instead of losing a concurrent edit', async () => {
      const stale = await client.applyObject(configMap('contended', { a: '1' }));
      await core.patchNamespacedConfigMap({ namespace: plane.namespace, name: 'contended', body: [{ op: 'add', path: '/metadata/finalizers', value: ['someone.else/keep'] }] });
      const err = await addFinalizer(client, stale, finalizer).catch((e: unknown) => e);
      expect(isConflict(err)).toBe(true);
      expect((await read('contended')).metadata?.finalizers).toEqual(['someone.else/keep']);
      const fresh = await read('contended');
      await removeFinalizer(client, await addFinalizer(client, { ...fresh, apiVersion: 'v1', kind: 'ConfigMap' }, finalizer), 'someone.else/keep');
      expect((await read('contended')).metadata?.finalizers).toEqual([finalizer]);
      const last = await read('contended');
      await removeFinalizer(client, { ...last, apiVersion: 'v1', kind: 'ConfigMap' }, finalizer);
    });
  });

  describe('updateStatusIfChanged (throw-away CRD with a status subresource)', () => {
    const preserve = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
    // Raw JSON through the runtime's own apply: client-node's typed CRD model would rename x-kubernetes-* fields.
    const widgetCrd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: widgetCrdName },
      spec: {
        group: widgets.group,
        scope: 'Namespaced',
        names: { kind: widgets.kind, plural: widgets.plural, singular: 'widget', listKind: 'WidgetList' },
        versions: [
          {
            name: widgets.version,
            served: true,
            storage: true,
            subresources: { status: {} },
            schema: { openAPIV3Schema: { type: 'object', properties: { spec: preserve, status: preserve } } },
          },
        ],
      },
    };

    beforeAll(async () => {
      await client.applyObject(widgetCrd);
      await eventually('widgets served', () => rest.request({ method: 'GET', path: resourcePath(widgets, { namespace: plane.namespace }) }).then(() => true));
    });
    afterAll(async () => {
      await client.deleteIgnoreNotFound(widgetCrd);
    });

    const widget = (name: string, size: number): Widget => ({ apiVersion: 'runtime-test.octopus.openi.pcl.cn/v1', kind: 'Widget', metadata: { name, namespace: plane.namespace }, spec: { size } });
    const readWidget = (name: string) => client.get<Widget>(widgets, name, plane.namespace);

    it('writes a changed status through /status, and nothing when it is equal in any key order', async () => {
      const created = await client.applyObject(widget('w1', 1));
      const conditions = setCondition(undefined, { type: 'Ready', status: 'True', reason: 'Built', message: 'done' }, 1, Date.now());
      const written = await client.updateStatusIfChanged(widgets, created, { phase: 'Ready', observedGeneration: 1, conditions });
      expect(written.changed).toBe(true);
      expect((await readWidget('w1')).status).toEqual({ phase: 'Ready', observedGeneration: 1, conditions });

      const current = await readWidget('w1');
      const reordered = { conditions: conditions.map(({ type, ...rest }) => ({ ...rest, type })), observedGeneration: 1, phase: 'Ready' };
      const again = await client.updateStatusIfChanged(widgets, current, reordered);
      expect(again.changed).toBe(false);
      expect((await readWidget('w1')).metadata?.resourceVersion).toBe(current.metadata?.resourceVersion);
    });

    it('replaces the whole status, dropping fields no longer set', async () => {
      const created = await client.applyObject(widget('w2', 1));
      const first = await client.updateStatusIfChanged(widgets, created, { phase: 'Building', observedGeneration: 1 });
      await client.updateStatusIfChanged(widgets, first.object, { phase: 'Ready' });
      expect((await readWidget('w2')).status).toEqual({ phase: 'Ready' });
    });

    it('does not touch the spec, and refuses to write over a newer object', async () => {
      const stale = await client.applyObject(widget('w3', 1));
      await client.applyObject(widget('w3', 2));
      const err = await client.updateStatusIfChanged(widgets, stale, { phase: 'Ready' }).catch((e: unknown) => e);
      expect(isConflict(err)).toBe(true);
      const fresh = await readWidget('w3');
      await client.updateStatusIfChanged(widgets, { ...fresh, spec: { size: 99 } }, { phase: 'Ready' });
      expect(await readWidget('w3')).toMatchObject({ spec: { size: 2 }, status: { phase: 'Ready' } });
    });
  });

  it('reads every response whole when more requests are in flight than the keep-alive pool has sockets', async () => {
    // Sockets are reused while requests queue for them: the case node-fetch misreads as "Premature close".
    const names = Array.from({ length: 20 }, (_, i) => `burst-${i}`);
    await Promise.all(names.map((name) => client.applyObject({ ...configMap(name, { payload: 'x'.repeat(20_000) }), metadata: { name, namespace: plane.namespace, labels: { burst: 'true' } } })));
    const path = `/api/v1/namespaces/${plane.namespace}/configmaps`;
    const results = await Promise.allSettled(
      Array.from({ length: 400 }, (_, i) => rest.request<{ items?: unknown[] }>({ method: 'GET', path: i % 2 ? path : `${path}/${names[i % names.length]}`, ...(i % 2 ? { query: { labelSelector: 'burst=true' } } : {}) })),
    );
    const failures = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason?.cause ?? r.reason));
    expect(failures).toEqual([]);
    const lists = results.filter((r, i) => i % 2 === 1 && r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<{ items?: unknown[] }>).value.items?.length);
    expect(new Set(lists)).toEqual(new Set([names.length]));
  });

  describe('RestClient.watch', () => {
    const path = () => `/api/v1/namespaces/${plane.namespace}/configmaps`;
    type Event = { type: string; name?: string; payload?: number };

    it('hands over every event in order, large ones whole, and reports nothing more once aborted', async () => {
      const list = await rest.request<{ metadata: { resourceVersion: string } }>({ method: 'GET', path: path(), query: { limit: 1 } });
      const resourceVersion = list.metadata.resourceVersion;
      const events: Event[] = [];
      const done: unknown[] = [];
      const onEvent = (type: string, object: unknown) => {
        const cm = object as V1ConfigMap;
        events.push({ type, name: cm.metadata?.name, payload: cm.data?.payload?.length });
      };
      const connection = await rest.watch(path(), { resourceVersion, labelSelector: 'watched=true' }, onEvent, (err) => done.push(err));
      const labelled = (name: string, payload: string) => ({ ...configMap(name, { payload }), metadata: { name, namespace: plane.namespace, labels: { watched: 'true' } } });
      // Larger than a socket read: one event arrives in many chunks.
      await client.applyObject(labelled('watched-1', 'a'.repeat(300_000)));
      await client.applyObject(labelled('watched-1', 'b'));
      await client.applyObject(labelled('watched-2', 'c'.repeat(10)));
      await core.deleteNamespacedConfigMap({ namespace: plane.namespace, name: 'watched-1' });
      const want = [
        { type: 'ADDED', name: 'watched-1', payload: 300_000 },
        { type: 'MODIFIED', name: 'watched-1', payload: 1 },
        { type: 'ADDED', name: 'watched-2', payload: 10 },
        { type: 'DELETED', name: 'watched-1', payload: 1 },
      ];
      await eventually('every event', async () => (events.length >= want.length ? true : undefined));
      expect(events).toEqual(want);
      connection.abort();
      await eventually('the watch ended', async () => (done.length > 0 ? true : undefined));
      await client.applyObject(labelled('watched-2', 'after'));
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(events).toEqual(want);
      expect(done).toHaveLength(1);
    });

    it('ends with the apiserver\'s error, as an ApiException, when the watch is refused', async () => {
      const done: unknown[] = [];
      await rest.watch(`/api/v1/namespaces/${plane.namespace}/no-such-things`, {}, () => undefined, (err) => done.push(err));
      await eventually('the watch ended', async () => (done.length > 0 ? true : undefined));
      expect(done).toHaveLength(1);
      expect(done[0]).toMatchObject({ code: 404, message: expect.stringContaining(`watch /api/v1/namespaces/${plane.namespace}/no-such-things: HTTP 404`) });
    });

    it('ends cleanly (no error) when the apiserver closes the watch at its timeout', async () => {
      const done: unknown[] = [];
      const started = Date.now();
      await rest.watch(path(), { timeoutSeconds: 1 }, () => undefined, (err) => done.push(err));
      await eventually('the watch ended', async () => (done.length > 0 ? true : undefined));
      expect(done).toEqual([undefined]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    });
  });
});
