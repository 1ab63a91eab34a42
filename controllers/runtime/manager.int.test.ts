import { CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import { describe, expect, it } from '@jest/globals';
import { eventually } from '../../e2e/harness/kube.js';
import type { Reconcile } from './controller.js';
import { Manager, type ManagerOptions } from './manager.js';
import type { ResourceRef } from './resource.js';
import { RestClient } from './rest.js';
import { configMaps, testLogger } from './testing/fixtures.js';
import { stopAfterEach, useTestNamespace } from './testing/suite.js';

const timings = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 400 };

interface LeaseJson {
  metadata: { resourceVersion: string };
  spec: { holderIdentity?: string; renewTime?: string };
}

describe('Manager against the real apiserver', () => {
  const plane = useTestNamespace('rt-manager');
  const managers = stopAfterEach<Manager>();
  const rest = () => new RestClient(plane.kc);

  const leasePath = (name: string) => `/apis/coordination.k8s.io/v1/namespaces/${plane.namespace}/leases/${name}`;
  const readLease = (name: string) => rest().request<LeaseJson>({ method: 'GET', path: leasePath(name) });
  const createConfigMap = (name: string) => plane.kc.makeApiClient(CoreV1Api).createNamespacedConfigMap({ namespace: plane.namespace, body: { metadata: { name } } });

  /** A manager with one controller over the test namespace's ConfigMaps, recording what it reconciled. */
  function makeManager(identity: string, lease: string | undefined, options: Partial<ManagerOptions> & { reconcile?: Reconcile; alsoWatch?: ResourceRef } = {}) {
    const reconciled: string[] = [];
    const manager = new Manager({
      kubeConfig: plane.kc,
      logger: testLogger(),
      instance: identity,
      healthPort: 0,
      healthHost: '127.0.0.1',
      leaderElection: lease === undefined ? undefined : { namespace: plane.namespace, name: lease, identity, ...timings },
      informers: { backoff: { initialMs: 50, maxMs: 500 } },
      ...options,
    });
    const informer = manager.informer<V1ConfigMap>(configMaps, { namespace: plane.namespace });
    const reconcile: Reconcile =
      options.reconcile ??
      (async (key) => {
        reconciled.push(key);
      });
    const controller = manager.addController({ name: 'configmaps', reconcile }).watches(informer);
    if (options.alsoWatch) controller.watches(manager.informer(options.alsoWatch, { namespace: plane.namespace }));
    managers.push(manager);
    const http = async (path: string) => {
      const response = await fetch(`http://127.0.0.1:${manager.healthPort}${path}`);
      return { status: response.status, body: await response.text() };
    };
    return { manager, reconciled, http };
  }

  it('runs controllers only on the leader, serves health and metrics, and hands over on stop', async () => {
    await createConfigMap('one');
    const a = makeManager('a', 'handover');
    const b = makeManager('b', 'handover');
    await Promise.all([a.manager.start(), b.manager.start()]);
    await eventually('a leader', async () => (a.manager.isLeader() || b.manager.isLeader() ? true : undefined));
    const [leader, standby] = a.manager.isLeader() ? [a, b] : [b, a];
    expect(standby.manager.isLeader()).toBe(false);

    await eventually('the leader reconciled one', async () => (leader.reconciled.includes(`${plane.namespace}/one`) ? true : undefined));
    await eventually('both ready', async () => ((await leader.http('/readyz')).status === 200 && (await standby.http('/readyz')).status === 200 ? true : undefined));
    expect(standby.reconciled).toEqual([]);
    expect(await standby.http('/healthz')).toEqual({ status: 200, body: 'ok' });

    const metrics = (await leader.http('/metrics')).body;
    expect(metrics).toMatch(/^octopus_reconcile_total\{controller="configmaps",result="success"\} [1-9]/m);
    expect(metrics).toMatch(/^octopus_workqueue_adds_total\{name="configmaps"\} [1-9]/m);
    expect(metrics).toMatch(/^octopus_reconcile_duration_seconds_count\{controller="configmaps"\} [1-9]/m);
    for (const name of ['octopus_reconcile_errors_total', 'octopus_workqueue_depth', 'octopus_workqueue_queue_duration_seconds', 'octopus_workqueue_work_duration_seconds', 'octopus_workqueue_retries_total', 'octopus_watch_restarts_total']) {
      expect(metrics).toContain(`# TYPE ${name} `);
    }

    await leader.manager.stop();
    await expect(leader.manager.wait()).resolves.toBeUndefined();
    await eventually('the standby took over and reconciled one', async () => (standby.reconciled.includes(`${plane.namespace}/one`) ? true : undefined));
    expect(standby.manager.isLeader()).toBe(true);
    expect((await readLease('handover')).spec.holderIdentity).toMatch(/^[ab]$/);
    expect((await readLease('handover')).spec.holderIdentity).not.toBe(leader === a ? 'a' : 'b');
  });

  it('is alive but not ready while a cache cannot sync, and does not reconcile before all its sources have', async () => {
    const { manager, reconciled, http } = makeManager('solo', undefined, { alsoWatch: { ...configMaps, plural: 'no-such-things' } });
    await manager.start();
    expect(manager.isLeader()).toBe(true);
    expect(await http('/healthz')).toEqual({ status: 200, body: 'ok' });
    await eventually('the ConfigMap cache synced', async () => (manager.informer(configMaps, { namespace: plane.namespace }).hasSynced() ? true : undefined));
    expect(await http('/readyz')).toEqual({ status: 503, body: 'caches not synced' });
    expect(reconciled).toEqual([]);
  });

  it('on SIGTERM finishes the reconcile in flight, releases the lease and exits 0', async () => {
    await createConfigMap('slow');
    let finishReconcile: (() => void) | undefined;
    let reconcileFinished = false;
    let exitCode: number | undefined;
    const listenersBefore = process.listenerCount('SIGTERM');
    const { manager } = makeManager('signalled', 'signals', {
      exit: (code) => (exitCode = code),
      reconcile: async (key) => {
        if (key !== `${plane.namespace}/slow`) return;
        await new Promise<void>((resolve) => (finishReconcile = resolve));
        reconcileFinished = true;
      },
    });
    manager.handleSignals();
    await manager.start();
    await eventually('the slow reconcile running', async () => (finishReconcile ? true : undefined));

    process.emit('SIGTERM');
    await eventually('the manager stopping', async () => (manager.isLeader() ? undefined : true));
    expect(exitCode).toBeUndefined();
    expect((await readLease('signals')).spec.holderIdentity).toBe('signalled');

    finishReconcile?.();
    await eventually('exit', async () => exitCode);
    expect(exitCode).toBe(0);
    expect(reconcileFinished).toBe(true);
    expect((await readLease('signals')).spec.holderIdentity).toBe('');
    expect(process.listenerCount('SIGTERM')).toBe(listenersBefore);
  });

  it('stops and rejects wait() when another holder takes the lease', async () => {
    const { manager } = makeManager('usurped', 'stolen');
    await manager.start();
    await eventually('leading', async () => (manager.isLeader() ? true : undefined));
    const lease = await readLease('stolen');
    await rest().request({
      method: 'PUT',
      path: leasePath('stolen'),
      body: { ...lease, spec: { ...lease.spec, holderIdentity: 'intruder', renewTime: new Date().toISOString().replace('Z', '000Z') } },
    });
    await expect(manager.wait()).rejects.toThrow(/leader election lost/);
    expect(manager.isLeader()).toBe(false);
    expect((await readLease('stolen')).spec.holderIdentity).toBe('intruder');
  });
});
