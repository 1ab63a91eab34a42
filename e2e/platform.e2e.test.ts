/**
 * Octopus as a user meets it: the webhook server and the controller run as their own
 * processes (as `npm run up` starts them), the examples are applied as `kubectl apply` would,
 * and everything is checked through the API only.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApiextensionsV1Api, CustomObjectsApi, KubernetesObjectApi, PatchStrategy, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { allKinds, group, version, type Job, type Model, type ModelService, type Quota } from '../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { applyExamples, deleteExamples, deleteUserRoles, startOctopus, stopOctopus } from '../hack/platform.js';
import { apiErrorMessage, eventually, testKubeConfig } from './harness/kube.js';

let kc: KubeConfig;
const ns = 'team-a';
const custom = () => kc.makeApiClient(CustomObjectsApi);
const get = async <T>(plural: string, name: string): Promise<T> => (await custom().getNamespacedCustomObject({ group, version, plural, namespace: ns, name })) as T;

beforeAll(async () => {
  kc = testKubeConfig();
  await startOctopus(kc, () => {});
  await applyExamples(kc, () => {});
}, 300_000);

afterAll(async () => {
  // Pools, specs and the device policy are cluster-wide: leave nothing for other suites to trip on.
  // Deleted while the controller still runs, since only it lifts the Workspace's finalizer.
  await deleteExamples(kc);
  await eventually(
    'Workspace team-a deleted',
    () => custom().getClusterCustomObject({ group, version, plural: 'workspaces', name: ns }).then(() => undefined, (err: { code?: number }) => (err.code === 404 ? true : undefined)),
    60_000,
  );
  await stopOctopus(kc, () => {});
  await deleteUserRoles(kc);
});

describe('the examples on a running Octopus', () => {
  it('runs the PyTorch example to success and registers its model with lineage', async () => {
    const job = await eventually(
      'resnet50-run1 Succeeded',
      async () => {
        const j = await get<Job>('jobs', 'resnet50-run1');
        if (j.status?.phase === 'Failed') throw new Error(JSON.stringify(j.status.conditions));
        return j.status?.phase === 'Succeeded' ? j : undefined;
      },
      240_000,
    );
    expect(job.status?.output).toEqual({ model: 'resnet50', version: 'resnet50-run1' });
    const model = await get<Model>('models', 'resnet50');
    const v = model.status?.versions?.find((x) => x.name === 'resnet50-run1');
    expect(v?.phase).toBe('Ready');
    expect(v?.lineage).toMatchObject({
      job: { name: 'resnet50-run1', namespace: ns, uid: job.metadata.uid },
      image: 'docker.io/pytorch/pytorch:2.4.0-cuda12.4-cudnn9-runtime',
      algorithm: { name: 'resnet', namespace: ns, version: 'v2' },
      datasets: [{ name: 'imagenet', namespace: ns, version: 'v1' }],
    });
  });

  it('serves that model version', async () => {
    const service = await eventually(
      'resnet50 ModelService Available',
      async () => {
        const s = await get<ModelService>('modelservices', 'resnet50');
        return s.status?.phase === 'Available' ? s : undefined;
      },
      180_000,
    );
    expect(service.status?.modelVersion).toBe('resnet50-run1');
  });

  it('accounts the workspace quota', async () => {
    const quota = await eventually('default quota reports use', async () => {
      const q = await get<Quota>('quotas', 'default');
      return q.status?.accountedAt ? q : undefined;
    });
    expect(quota.spec.hard['nvidia.com/gpu']).toBe(16);
    expect(quota.status?.summary?.accelerators).toMatch(/^\d+\/\d+$/);
  });

  it('denies through the webhook a job over the workspace quota, naming resource, request and limit', async () => {
    const api = KubernetesObjectApi.makeApiClient(kc);
    const tooBig: Job = {
      apiVersion: `${group}/${version}`,
      kind: 'Job',
      metadata: { name: 'too-big', namespace: ns },
      spec: { image: { reference: 'docker.io/library/python:3.12' }, pool: 'gpu-a100', tasks: [{ name: 'w', replicas: 4, resourceSpec: 'gpu-8x' }] },
    };
    let message = '';
    try {
      await api.patch(tooBig as KubernetesObject, undefined, undefined, 'e2e', true, PatchStrategy.ServerSideApply);
    } catch (err) {
      message = apiErrorMessage(err);
    }
    expect(message).toContain('denied the request');
    expect(message).toMatch(/32 nvidia\.com\/gpu.*16/);
  });

  it('lists every kind under `kubectl get octopus`', async () => {
    const crds = await kc.makeApiClient(ApiextensionsV1Api).listCustomResourceDefinition();
    const inCategory = crds.items.filter((c) => c.status?.acceptedNames?.categories?.includes('octopus')).map((c) => c.spec.names.kind);
    expect(inCategory.sort()).toEqual(allKinds.map((k) => k.kind).sort());
  });
});
