/**
 * A steady cluster costs no writes: with every asset Ready, the asset controllers make no write
 * to the apiserver over a minute — not even when the assets are reconciled again. All of the
 * manager's traffic goes through a counting proxy.
 */
import { describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Counter } from 'prom-client';
import { apiVersion, type Algorithm, type Dataset, type Image, type Model } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { eventually } from '../../e2e/harness/kube.js';
import { registerJobOutput } from '../model/output.js';
import { core, octopus } from '../resources.js';
import type { Manager, ResourceRef } from '../runtime/index.js';
import { stopAfterEach } from '../runtime/testing/suite.js';
import { CountingProxy } from './testing/counting-proxy.js';
import { assetControllers, controllerOptions } from './testing/controllers.js';
import { create, simulated, startManager, useAssetPlane, waitFor } from './testing/plane.js';

const windowMs = 60_000;
const quietMs = 5_000;
const digest = `sha256:${'c'.repeat(64)}`;

const readyCondition = (o: { status?: { conditions?: { type: string; status: string }[] } }) => o.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

async function reconcileCount(manager: Manager): Promise<number> {
  const counter = manager.registry.getSingleMetric('octopus_reconcile_total') as Counter | undefined;
  const { values } = (await counter?.get()) ?? { values: [] };
  return values.reduce((sum, v) => sum + v.value, 0);
}

describe('an idle cluster', () => {
  const plane = useAssetPlane('idle');
  const running = stopAfterEach<Manager | CountingProxy>();

  it('causes no writes from the asset controllers', async () => {
    const proxy = await CountingProxy.start(plane.kc);
    running.push(proxy);
    const manager = await startManager(proxy.kubeConfig(), assetControllers({ namespace: plane.namespace }), controllerOptions({ buildRegistry: 'registry.test', buildNamespace: plane.namespace }));
    running.push(manager);

    const claim = (name: string) => ({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name }, spec: { accessModes: ['ReadOnlyMany'], resources: { requests: { storage: '1Gi' } } } });
    await create(plane, core.PersistentVolumeClaim, claim('shared'));
    await create(plane, core.PersistentVolumeClaim, claim('train-1-output'));
    await create(plane, core.ConfigMap, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'code-src' }, data: { 'train.py': 'print(2)' } });
    const assets: [ResourceRef, KubernetesObject & { metadata: { name: string }; spec: unknown }][] = [
      [octopus.Dataset, { apiVersion, kind: 'Dataset', metadata: { name: 'data' }, spec: { import: { podMetadata: simulated('Succeed', '{"size":"1Gi","files":3}') }, versions: [{ name: 'v1', source: { s3: { bucket: 'datasets' } } }, { name: 'v2', source: { pvc: { claimName: 'shared' } } }] } } satisfies Dataset],
      [octopus.Algorithm, { apiVersion, kind: 'Algorithm', metadata: { name: 'code' }, spec: { versions: [{ name: 'v1', source: { files: { 'train.py': 'print(1)' } } }, { name: 'v2', source: { configMap: { name: 'code-src' } } }] } } satisfies Algorithm],
      [octopus.Image, { apiVersion, kind: 'Image', metadata: { name: 'base' }, spec: { reference: 'docker.io/pytorch/pytorch:2.4.0' } } satisfies Image],
      [octopus.Image, { apiVersion, kind: 'Image', metadata: { name: 'built' }, spec: { build: { dockerfile: 'FROM busybox', destination: `registry.test/${plane.namespace}/built:1`, podMetadata: simulated('Succeed', digest) } } } satisfies Image],
      [octopus.Model, { apiVersion, kind: 'Model', metadata: { name: 'resnet' }, spec: { versions: [{ name: 'base', source: { pvc: { claimName: 'shared' } } }] } } satisfies Model],
    ];
    for (const [resource, obj] of assets) await create(plane, resource, obj);
    await registerJobOutput(manager, {
      namespace: plane.namespace,
      model: 'resnet',
      version: 'trained',
      claimName: 'train-1-output',
      lineage: { job: { name: 'train-1', namespace: plane.namespace, uid: 'job-uid' }, attempt: 0, image: 'docker.io/pytorch/pytorch:2.4.0', finishedAt: '2025-06-01T00:00:00Z' },
    });
    for (const [resource, { metadata }] of assets) {
      await waitFor<KubernetesObject & Parameters<typeof readyCondition>[0] & { status?: { phase?: string } }>(plane, resource, metadata.name, 'Ready', (o) => (resource === octopus.Image ? o.status?.phase === 'Ready' : readyCondition(o)));
    }
    await waitFor<Model>(plane, octopus.Model, 'resnet', 'both versions ready', (m) => m.status?.readyVersions === 2 && m.status.latestVersion === 'trained');

    // Let the last reactions to the imports and the build (Job status, pod finalizers) die down.
    await eventually('the controllers quiet', async () => (proxy.requests.some((r) => !r.watch && r.at > Date.now() - quietMs) ? undefined : true), 60_000, 500);
    const start = proxy.requests.length;
    const reconcilesBefore = await reconcileCount(manager);

    await sleep(windowMs / 3);
    // Edits that change no spec still reach the controllers: every asset is reconciled once more, mid-window.
    for (const [resource, { metadata }] of assets) {
      await plane.client.patch({ apiVersion: `${resource.group}/${resource.version}`, kind: resource.kind, metadata: { name: metadata.name, namespace: plane.namespace } }, { metadata: { annotations: { touched: 'yes' } } });
    }
    await sleep((windowMs * 2) / 3);

    const window = proxy.requests.slice(start);
    const writes = window.filter((r) => r.method !== 'GET');
    const reconciles = (await reconcileCount(manager)) - reconcilesBefore;
    const byKind = window.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.watch ? 'WATCH' : r.method]: (acc[r.watch ? 'WATCH' : r.method] ?? 0) + 1 }), {});
    console.log(`idle ${windowMs / 1000} s: ${window.length} requests ${JSON.stringify(byKind)}, ${writes.length} writes, ${reconciles} reconciles`);
    expect(writes).toEqual([]);
    expect(reconciles).toBeGreaterThanOrEqual(assets.length);
  });
});
