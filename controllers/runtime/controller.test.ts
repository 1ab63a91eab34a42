import type { KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { Controller, enqueueController, type Reconcile, type ReconcileContext } from './controller.js';
import { TerminalError } from './errors.js';
import { RuntimeMetrics } from './metrics.js';
import { controllerReference } from './owner.js';
import { FakeClock } from './testing/fake-clock.js';
import { FakeSource } from './testing/fake-source.js';

const logger = pino({ level: 'silent' });

const object = (namespace: string, name: string, uid = `uid-${name}`): KubernetesObject => ({
  apiVersion: 'octopus.openi.pcl.cn/v1alpha1',
  kind: 'Job',
  metadata: { namespace, name, uid },
});

/** Lets pending promise callbacks run until `done()` holds (bounded, so a bug fails instead of hanging). */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !done(); i++) await new Promise<void>((resolve) => setImmediate(resolve));
  if (!done()) throw new Error('condition never held');
}

function makeController(reconcile: Reconcile, options: { concurrency?: number; shutdownTimeoutMs?: number } = {}) {
  const clock = new FakeClock();
  const registry = new Registry();
  const controller = new Controller({ name: 'jobs', reconcile, clock, logger, metrics: new RuntimeMetrics(registry), ...options });
  const metric = async (name: string, labels: Record<string, string>) => {
    const values = (await registry.getSingleMetric(name)?.get())?.values ?? [];
    const match = values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want));
    return match?.value ?? 0;
  };
  return { clock, controller, metric };
}

describe('Controller', () => {
  it('starts reconciling only after every source has synced, with what the sources already hold', async () => {
    const seen: string[] = [];
    const { controller } = makeController(async (key) => {
      seen.push(key);
    });
    const primary = new FakeSource([object('a', 'j1')]);
    const secondary = new FakeSource<KubernetesObject>();
    controller.watches(primary).watches(secondary);
    const started = controller.start();
    primary.markSynced();
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(seen).toEqual([]);
    secondary.markSynced();
    await started;
    await until(() => seen.length === 1);
    expect(seen).toEqual(['a/j1']);
    await controller.stop();
  });

  it('maps owned objects to their controlling owner, old and new owner on update', async () => {
    const seen = new Set<string>();
    const { controller } = makeController(async (key) => {
      seen.add(key);
    });
    const pods = new FakeSource<KubernetesObject>();
    controller.watches(pods, enqueueController({ group: 'octopus.openi.pcl.cn', kind: 'Job', namespaced: true }));
    pods.markSynced();
    await controller.start();
    const owned = (owner: KubernetesObject): KubernetesObject => ({ metadata: { namespace: 'a', name: 'p', ownerReferences: [controllerReference(owner)] } });
    pods.add({ metadata: { namespace: 'a', name: 'orphan' } });
    pods.add({ metadata: { namespace: 'a', name: 'cm', ownerReferences: [{ ...controllerReference(object('a', 'x')), apiVersion: 'v1', kind: 'ConfigMap' }] } });
    pods.update(owned(object('a', 'j2')), owned(object('a', 'j1')));
    await until(() => seen.size === 2);
    expect([...seen].sort()).toEqual(['a/j1', 'a/j2']);
    await controller.stop();
  });

  it('drops the updates its predicate refuses, never adds or deletes', async () => {
    const seen = new Set<string>();
    const { controller } = makeController(async (key) => {
      seen.add(key);
    });
    const jobs = new FakeSource<KubernetesObject>();
    const labelled = (name: string, tier: string): KubernetesObject => ({ ...object('a', name), metadata: { ...object('a', name).metadata, labels: { tier } } });
    controller.watches(jobs, undefined, { updated: (obj, old) => obj.metadata?.labels?.tier !== old.metadata?.labels?.tier });
    jobs.markSynced();
    await controller.start();
    jobs.update(labelled('same', 'x'), labelled('same', 'x'));
    jobs.update(labelled('moved', 'y'), labelled('moved', 'x'));
    jobs.add(labelled('added', 'x'));
    jobs.delete(labelled('deleted', 'x'));
    await until(() => seen.size >= 3);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect([...seen].sort()).toEqual(['a/added', 'a/deleted', 'a/moved']);
    await controller.stop();
  });

  it('hands each reconcile its key, namespace, name and a logger bound to them', async () => {
    let context: ReconcileContext | undefined;
    const { controller } = makeController(async (_key, ctx) => {
      context = ctx;
    });
    await controller.start();
    controller.enqueue('team-a/train');
    await until(() => context !== undefined);
    expect(context).toMatchObject({ key: 'team-a/train', namespace: 'team-a', name: 'train' });
    expect(context?.logger.bindings()).toMatchObject({ controller: 'jobs', namespace: 'team-a', name: 'train' });
    await controller.stop();
  });

  it('retries a failing key with growing backoff, then forgets the backoff on success', async () => {
    let attempts = 0;
    const { clock, controller, metric } = makeController(async () => {
      attempts++;
      if (attempts <= 3) throw new Error('apiserver unavailable');
    });
    await controller.start();
    controller.enqueue('a/j1');
    await until(() => attempts === 1);
    const gaps: number[] = [];
    for (let gap = 1; gaps.length < 3 && gap <= 100; gap++) {
      clock.advance(1);
      const before = attempts;
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (attempts > before) {
        gaps.push(gap);
        gap = 0;
      }
    }
    expect(gaps).toEqual([5, 10, 20]);
    expect(await metric('octopus_reconcile_total', { controller: 'jobs', result: 'error' })).toBe(3);
    expect(await metric('octopus_reconcile_errors_total', { controller: 'jobs' })).toBe(3);
    expect(await metric('octopus_reconcile_total', { controller: 'jobs', result: 'success' })).toBe(1);
    expect(await metric('octopus_workqueue_retries_total', { name: 'jobs' })).toBe(3);
    expect(clock.pendingTimers()).toBe(0);
    await controller.stop();
  });

  it('does not retry a TerminalError', async () => {
    let attempts = 0;
    const { clock, controller, metric } = makeController(async () => {
      attempts++;
      throw new TerminalError('spec.image is empty');
    });
    await controller.start();
    controller.enqueue('a/j1');
    await until(() => attempts === 1);
    clock.advance(10_000_000);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(attempts).toBe(1);
    expect(clock.pendingTimers()).toBe(0);
    expect(await metric('octopus_reconcile_errors_total', { controller: 'jobs' })).toBe(1);
    await controller.stop();
  });

  it('reconciles again after requeueAfterMs', async () => {
    const attempts: number[] = [];
    const { clock, controller, metric } = makeController(async () => {
      attempts.push(clock.now());
      return attempts.length === 1 ? { requeueAfterMs: 30_000 } : {};
    });
    await controller.start();
    controller.enqueue('a/j1');
    await until(() => attempts.length === 1);
    clock.advance(29_999);
    expect(attempts.length).toBe(1);
    clock.advance(1);
    await until(() => attempts.length === 2);
    expect(await metric('octopus_reconcile_total', { controller: 'jobs', result: 'requeue' })).toBe(1);
    expect(await metric('octopus_reconcile_total', { controller: 'jobs', result: 'success' })).toBe(1);
    await controller.stop();
  });

  it('runs distinct keys in parallel but never one key twice at once', async () => {
    const running = new Set<string>();
    const releases: (() => void)[] = [];
    let overlapped = false;
    const { controller } = makeController(
      (key) => {
        if (running.has(key)) overlapped = true;
        running.add(key);
        return new Promise<void>((resolve) =>
          releases.push(() => {
            running.delete(key);
            resolve();
          }),
        );
      },
      { concurrency: 3 },
    );
    await controller.start();
    controller.enqueue('a/j1');
    controller.enqueue('a/j2');
    await until(() => running.size === 2);
    controller.enqueue('a/j1');
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(running.size).toBe(2);
    releases.splice(0).forEach((release) => release());
    await until(() => running.size === 1);
    expect([...running]).toEqual(['a/j1']);
    releases.splice(0).forEach((release) => release());
    await controller.stop();
    expect(overlapped).toBe(false);
  });

  it('on stop unsubscribes, waits for the reconcile in flight and takes no new keys', async () => {
    const source = new FakeSource<KubernetesObject>();
    let release: (() => void) | undefined;
    const seen: string[] = [];
    const { controller } = makeController((key) => {
      seen.push(key);
      return new Promise<void>((resolve) => (release = resolve));
    });
    controller.watches(source);
    source.markSynced();
    await controller.start();
    controller.enqueue('a/j1');
    await until(() => release !== undefined);
    let stopped = false;
    const stopping = controller.stop().then(() => (stopped = true));
    expect(source.handlerCount).toBe(0);
    controller.enqueue('a/j2');
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    release?.();
    await stopping;
    expect(seen).toEqual(['a/j1']);
  });

  it('stops waiting after the shutdown timeout and aborts the reconcile signal', async () => {
    let signal: AbortSignal | undefined;
    const { clock, controller } = makeController(
      (_key, ctx) => {
        signal = ctx.signal;
        return new Promise<void>(() => {});
      },
      { shutdownTimeoutMs: 5000 },
    );
    await controller.start();
    controller.enqueue('a/j1');
    await until(() => signal !== undefined);
    const stopping = controller.stop();
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(signal?.aborted).toBe(false);
    clock.advance(5000);
    await stopping;
    expect(signal?.aborted).toBe(true);
  });
});
