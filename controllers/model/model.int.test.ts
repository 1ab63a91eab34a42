import { describe, expect, it } from '@jest/globals';
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { apiVersion, type Model } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { assetLabels } from '../assets/names.js';
import { controllerOptions } from '../assets/testing/controllers.js';
import { create, get, simulated, startManager, useAssetPlane, waitFor, waitGone } from '../assets/testing/plane.js';
import { core, octopus } from '../resources.js';
import { TerminalError, type Manager } from '../runtime/index.js';
import { stopAfterEach } from '../runtime/testing/suite.js';
import { modelController } from './controller.js';
import { registerJobOutput, type JobOutput } from './output.js';

describe('Model controller on the real plane', () => {
  const plane = useAssetPlane('model');
  const managers = stopAfterEach<Manager>();

  it('imports spec versions, keeps Job-produced ones across spec changes, and hands their claims to garbage collection with the model', async () => {
    const manager = await startManager(plane.kc, [modelController({ namespace: plane.namespace })], controllerOptions());
    managers.push(manager);
    await create(plane, octopus.Model, {
      apiVersion,
      kind: 'Model',
      metadata: { name: 'resnet50' },
      spec: { format: 'PyTorch', import: { podMetadata: simulated('Succeed', '{"size":"98Mi","files":1}') }, versions: [{ name: 'base', source: { http: { url: 'https://models.test/resnet50.pth' } }, metrics: { top1: '0.76' } }] },
    } satisfies Model);
    await waitFor<Model>(plane, octopus.Model, 'resnet50', 'base Ready', (m) => m.status?.latestVersion === 'base');

    // What the Job controller does when a training Job with output.model succeeds.
    await create<V1PersistentVolumeClaim>(plane, core.PersistentVolumeClaim, { metadata: { name: 'train-7-output' }, spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '1Gi' } } } });
    const output: JobOutput = {
      namespace: plane.namespace,
      model: 'resnet50',
      version: 'ft-1',
      claimName: 'train-7-output',
      metrics: { top1: '0.79' },
      lineage: { job: { name: 'train-7', namespace: plane.namespace, uid: 'uid-train-7' }, attempt: 1, image: 'registry.test/pytorch:2.4', datasets: [{ name: 'imagenet', namespace: plane.namespace, version: 'v1' }], finishedAt: '2025-06-01T10:00:00Z' },
    };
    await registerJobOutput(manager, output);
    await registerJobOutput(manager, output); // a retry after a crash changes nothing

    const registered = (await get<Model>(plane, octopus.Model, 'resnet50'))!;
    expect(registered.status).toMatchObject({ versionCount: 2, readyVersions: 2, latestVersion: 'ft-1' });
    expect(registered.status?.versions?.map((v) => [v.name, v.origin, v.phase])).toEqual([['base', 'Import', 'Ready'], ['ft-1', 'Job', 'Ready']]);
    expect(registered.status?.versions?.[0]).toMatchObject({ metrics: { top1: '0.76' }, size: '98Mi' });
    expect(registered.status?.versions?.[1]).toMatchObject({ claimName: 'train-7-output', metrics: { top1: '0.79' }, lineage: output.lineage, readyTime: '2025-06-01T10:00:00Z' });
    const claim = (await get<V1PersistentVolumeClaim>(plane, core.PersistentVolumeClaim, 'train-7-output'))!;
    expect(claim.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'Model', name: 'resnet50', uid: registered.metadata.uid, controller: true })]);
    expect(claim.metadata?.labels).toMatchObject({ [assetLabels.origin]: 'Job', [assetLabels.version]: 'ft-1' });

    await expect(registerJobOutput(manager, { ...output, version: 'base' })).rejects.toThrow(TerminalError);
    await expect(registerJobOutput(manager, { ...output, lineage: { ...output.lineage, job: { ...output.lineage.job, uid: 'uid-other' } } })).rejects.toThrow(/already published by Job/);

    // A spec change reconciles the model again: the Job's version stays, and its claim is not retired.
    await plane.client.patch({ ...registered, metadata: { name: 'resnet50', namespace: plane.namespace } }, { spec: { versions: [{ name: 'base', source: { http: { url: 'https://models.test/resnet50.pth' } }, metrics: { top1: '0.76' } }, { name: 'onnx', source: { pvc: { claimName: 'train-7-output', subPath: 'onnx' } } }] } });
    // The new version is Ready once its claim is bound (the provisioner binds it in its own time).
    const changed = await waitFor<Model>(plane, octopus.Model, 'resnet50', 'generation 2 observed, onnx Ready', (m) => m.status?.observedGeneration === 2 && m.status.versionCount === 3 && m.status.versions?.[2]?.phase === 'Ready');
    expect(changed.status?.versions?.map((v) => v.name)).toEqual(['base', 'ft-1', 'onnx']);
    expect(changed.status?.latestVersion).toBe('onnx');
    expect(await get(plane, core.PersistentVolumeClaim, 'train-7-output')).toBeDefined();

    await plane.client.deleteIgnoreNotFound({ ...registered, metadata: { name: 'resnet50', namespace: plane.namespace } });
    await waitGone(plane, core.PersistentVolumeClaim, 'train-7-output', 60_000);
    await waitGone(plane, core.PersistentVolumeClaim, 'resnet50-model-base', 60_000);
  });
});
