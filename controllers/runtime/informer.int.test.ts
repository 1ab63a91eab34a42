import { CoreV1Api, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { eventually } from '../../e2e/harness/kube.js';
import { SystemClock } from './clock.js';
import { Informer, type InformerOptions, type WatchTransport } from './informer.js';
import { RuntimeMetrics } from './metrics.js';
import { RestClient } from './rest.js';
import { CountingRequester } from './testing/counting-requester.js';
import { configMaps, testLogger } from './testing/fixtures.js';
import { stopAfterEach, useTestNamespace } from './testing/suite.js';

/** The real watch, with hooks to break connections, hold reconnects and rewrite the resourceVersion asked for. */
class ControllableWatch implements WatchTransport {
  opened = 0;
  waiting = false;
  /** Used once, for the next watch. */
  nextResourceVersion: string | undefined;
  private readonly inner: RestClient;
  private readonly connections: AbortController[] = [];
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;

  constructor(kc: KubeConfig) {
    this.inner = new RestClient(kc);
  }

  async watch(...[path, query, onEvent, onDone]: Parameters<WatchTransport['watch']>): Promise<AbortController> {
    this.waiting = true;
    await this.gate;
    this.waiting = false;
    this.opened++;
    const resourceVersion = this.nextResourceVersion ?? query.resourceVersion;
    this.nextResourceVersion = undefined;
    const connection = await this.inner.watch(path, { ...query, resourceVersion }, onEvent, onDone);
    this.connections.push(connection);
    return connection;
  }

  breakConnections(): void {
    for (const connection of this.connections.splice(0)) connection.abort();
  }

  hold(): void {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
  }

  release(): void {
    this.gate = undefined;
    this.openGate?.();
  }
}

describe('Informer against the real apiserver', () => {
  const plane = useTestNamespace('rt-informer');
  const informers = stopAfterEach<Informer<V1ConfigMap>>();
  const core = () => plane.kc.makeApiClient(CoreV1Api);

  function startInformer(overrides: Partial<InformerOptions> = {}) {
    const registry = new Registry();
    const rest = new CountingRequester(new RestClient(plane.kc));
    const watch = new ControllableWatch(plane.kc);
    const informer = new Informer<V1ConfigMap>({
      resource: configMaps,
      namespace: plane.namespace,
      rest,
      watch,
      clock: new SystemClock(),
      logger: testLogger(),
      metrics: new RuntimeMetrics(registry),
      backoff: { initialMs: 50, maxMs: 500 },
      ...overrides,
    });
    const seen: string[] = [];
    informer.addHandler({
      add: (cm) => seen.push(`add ${cm.metadata?.name}`),
      update: (cm, old) => seen.push(`update ${cm.metadata?.name} ${old.data?.v ?? '-'}→${cm.data?.v ?? '-'}`),
      delete: (cm) => seen.push(`delete ${cm.metadata?.name}`),
    });
    informers.push(informer);
    informer.start();
    const restarts = async () => (await registry.getSingleMetric('octopus_watch_restarts_total')?.get())?.values.find((v) => v.labels.resource === 'configmaps.v1')?.value ?? 0;
    return { informer, rest, watch, seen, restarts };
  }

  const createConfigMap = (name: string, data: Record<string, string>, labels?: Record<string, string>) =>
    core().createNamespacedConfigMap({ namespace: plane.namespace, body: { metadata: { name, labels }, data } });

  it('caches ConfigMaps as they are created, updated and deleted, and tells its handlers', async () => {
    await createConfigMap('before', { v: '0' });
    const { informer, seen } = startInformer();
    expect(await informer.waitForSync()).toBe(true);
    expect(informer.get(`${plane.namespace}/before`)).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap', data: { v: '0' } });

    await createConfigMap('cm', { v: '1' });
    await eventually('cm cached', async () => informer.get(`${plane.namespace}/cm`));
    await core().patchNamespacedConfigMap({ namespace: plane.namespace, name: 'cm', body: [{ op: 'replace', path: '/data/v', value: '2' }] });
    await eventually('cm updated', async () => (informer.get(`${plane.namespace}/cm`)?.data?.v === '2' ? true : undefined));
    await core().deleteNamespacedConfigMap({ namespace: plane.namespace, name: 'cm' });
    await eventually('cm gone', async () => (informer.get(`${plane.namespace}/cm`) ? undefined : true));

    expect(seen.filter((s) => s.includes(' cm'))).toEqual(['add cm', 'update cm 1→2', 'delete cm']);
    expect(seen).toContain('add before');
    expect(informer.list(plane.namespace).map((cm) => cm.metadata?.name)).toContain('before');
  });

  it('caches objects slimmed by a transform, on list and on watch', async () => {
    await createConfigMap('listed', { keep: 'a', drop: 'b' });
    const keepOnly = (cm: V1ConfigMap): V1ConfigMap => ({ ...cm, metadata: { ...cm.metadata, managedFields: undefined }, data: { keep: cm.data?.keep ?? '' } });
    const { informer } = startInformer({ transform: (obj) => keepOnly(obj as V1ConfigMap) });
    expect(await informer.waitForSync()).toBe(true);
    expect(informer.get(`${plane.namespace}/listed`)?.data).toEqual({ keep: 'a' });
    await createConfigMap('watched', { keep: 'c', drop: 'd' });
    const watched = await eventually('watched cached', async () => informer.get(`${plane.namespace}/watched`));
    expect(watched.data).toEqual({ keep: 'c' });
    expect(watched.metadata?.managedFields).toBeUndefined();
  });

  it('with a transform, an update that changes only dropped fields is no event and keeps the cached object', async () => {
    await createConfigMap('slim', { keep: 'a', drop: 'b' });
    const keepOnly = (cm: V1ConfigMap): V1ConfigMap => ({ ...cm, data: { keep: cm.data?.keep ?? '' } });
    const { informer, seen } = startInformer({ transform: (obj) => keepOnly(obj as V1ConfigMap) });
    expect(await informer.waitForSync()).toBe(true);
    const key = `${plane.namespace}/slim`;
    const before = informer.get(key)!;
    const patch = (path: string, value: string) => core().patchNamespacedConfigMap({ namespace: plane.namespace, name: 'slim', body: [{ op: 'replace', path, value }] });
    await patch('/data/drop', 'c');
    await patch('/data/keep', 'k');
    await eventually('the kept field updated', async () => (informer.get(key)?.data?.keep === 'k' ? true : undefined));
    expect(seen.filter((s) => s.includes(' slim'))).toEqual(['add slim', 'update slim -→-']);
    const afterKept = informer.get(key)!;
    expect(afterKept).not.toBe(before);
    await patch('/data/drop', 'd');
    // A change the transform keeps, after the dropped one, proves the dropped one was delivered and skipped.
    await createConfigMap('marker', { keep: 'm' });
    await eventually('marker cached', async () => informer.get(`${plane.namespace}/marker`));
    expect(informer.get(key)).toBe(afterKept);
    expect(seen.filter((s) => s.includes(' slim'))).toEqual(['add slim', 'update slim -→-']);
  });

  it('honours a label selector and keeps indexes', async () => {
    await createConfigMap('labelled-a', { v: '1' }, { app: 'train', tier: 'gpu' });
    await createConfigMap('labelled-b', { v: '1' }, { app: 'train', tier: 'cpu' });
    await createConfigMap('unlabelled', { v: '1' });
    const { informer } = startInformer({ labelSelector: 'app=train' });
    informer.addIndex('tier', (cm) => [cm.metadata?.labels?.tier ?? '']);
    await informer.waitForSync();
    expect(informer.list().map((cm) => cm.metadata?.name).sort()).toEqual(['labelled-a', 'labelled-b']);
    expect(informer.byIndex('tier', 'gpu').map((cm) => cm.metadata?.name)).toEqual(['labelled-a']);

    await core().patchNamespacedConfigMap({ namespace: plane.namespace, name: 'labelled-b', body: [{ op: 'replace', path: '/metadata/labels/tier', value: 'gpu' }] });
    await eventually('labelled-b re-indexed', async () => (informer.byIndex('tier', 'gpu').length === 2 ? true : undefined));
    // Losing the label takes the object out of the selection: the watch reports it deleted.
    await core().patchNamespacedConfigMap({ namespace: plane.namespace, name: 'labelled-a', body: [{ op: 'remove', path: '/metadata/labels/app' }] });
    await eventually('labelled-a dropped', async () => (informer.get(`${plane.namespace}/labelled-a`) ? undefined : true));
  });

  it('reconnects after its watch connection breaks and misses nothing', async () => {
    const { informer, watch, restarts } = startInformer();
    await informer.waitForSync();
    await eventually('watch open', async () => (watch.opened === 1 ? true : undefined));
    watch.breakConnections();
    await createConfigMap('after-break', { v: '1' });
    await eventually('after-break cached', async () => informer.get(`${plane.namespace}/after-break`));
    expect(watch.opened).toBeGreaterThanOrEqual(2);
    expect(await restarts()).toBeGreaterThanOrEqual(1);
  });

  it('reopens watches the apiserver ends on their timeout, from where it left off', async () => {
    const { informer, rest, watch } = startInformer({ watchTimeoutSeconds: 1 });
    await informer.waitForSync();
    await eventually('three watches', async () => (watch.opened >= 3 ? true : undefined));
    await createConfigMap('after-timeouts', { v: '1' });
    await eventually('after-timeouts cached', async () => informer.get(`${plane.namespace}/after-timeouts`));
    expect(rest.counts.GET).toBe(1);
  });

  it('relists on 410 Gone and delivers deletes of objects that vanished while it was not watching', async () => {
    await createConfigMap('stays', { v: '1' });
    await createConfigMap('vanishes', { v: '1' });
    const { informer, rest, watch, seen } = startInformer();
    await informer.waitForSync();
    await eventually('watch open', async () => (watch.opened === 1 ? true : undefined));

    watch.hold();
    watch.breakConnections();
    await eventually('informer waiting to reconnect', async () => (watch.waiting ? true : undefined));
    await core().deleteNamespacedConfigMap({ namespace: plane.namespace, name: 'vanishes' });
    await core().patchNamespacedConfigMap({ namespace: plane.namespace, name: 'stays', body: [{ op: 'replace', path: '/data/v', value: '2' }] });
    // A resourceVersion long compacted away: the apiserver answers 410 Gone.
    watch.nextResourceVersion = '1';
    watch.release();

    await eventually('vanishes deleted', async () => (seen.includes('delete vanishes') ? true : undefined));
    expect(informer.get(`${plane.namespace}/vanishes`)).toBeUndefined();
    expect(informer.get(`${plane.namespace}/stays`)?.data?.v).toBe('2');
    expect(seen).toContain('update stays 1→2');
    expect(rest.counts.GET).toBe(2);
  });

  it('keeps retrying a list that fails, without throwing, and stops cleanly', async () => {
    const { informer, rest } = startInformer({ resource: { ...configMaps, plural: 'no-such-things' } });
    await eventually('several list attempts', async () => (rest.counts.GET >= 3 ? true : undefined));
    expect(informer.hasSynced()).toBe(false);
    await informer.stop();
    expect(await informer.waitForSync()).toBe(false);
  });
});
