import { describe, expect, it } from '@jest/globals';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { apiVersion, type Algorithm } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { controllerOptions } from '../assets/testing/controllers.js';
import { create, eventsAbout, get, simulated, startManager, useAssetPlane, waitFor } from '../assets/testing/plane.js';
import type { VersionStatus } from '../assets/types.js';
import { core, octopus } from '../resources.js';
import type { Manager } from '../runtime/index.js';
import { stopAfterEach } from '../runtime/testing/suite.js';
import { algorithmController } from './controller.js';

const versionOf = (a: Algorithm, name: string): VersionStatus | undefined => a.status?.versions?.find((v) => v.name === name);

describe('Algorithm controller on the real plane', () => {
  const plane = useAssetPlane('alg');
  const managers = stopAfterEach<Manager>();

  it('serves inline files from a ConfigMap it owns and keeps, a user ConfigMap once it exists, and imports git', async () => {
    managers.push(await startManager(plane.kc, [algorithmController({ namespace: plane.namespace })], controllerOptions()));
    await create(plane, octopus.Algorithm, {
      apiVersion,
      kind: 'Algorithm',
      metadata: { name: 'resnet' },
      spec: {
        framework: 'PyTorch',
        import: { podMetadata: simulated('Succeed', '{"size":"2Mi","files":17}') },
        versions: [
          { name: 'v1', source: { files: { 'train.py': 'print("v1")' } } },
          { name: 'v2', source: { configMap: { name: 'resnet-code' } } },
          { name: 'v3', source: { git: { url: 'https://git.test/vision.git', revision: 'v3.0.0', subPath: 'resnet' } } },
          { name: 'v4', source: { files: { 'src/train.py': 'print("v4")' } } },
        ],
      },
    } satisfies Algorithm);

    const waiting = await waitFor<Algorithm>(plane, octopus.Algorithm, 'resnet', 'v1 and v3 Ready, v2 waiting, v4 failed', (a) =>
      versionOf(a, 'v1')?.phase === 'Ready' && versionOf(a, 'v3')?.phase === 'Ready' && versionOf(a, 'v2')?.reason === 'ConfigMapNotFound' && versionOf(a, 'v4')?.phase === 'Failed',
    );
    expect(versionOf(waiting, 'v1')).toMatchObject({ configMapName: 'resnet-code-v1', reason: 'ConfigMapCreated' });
    expect(versionOf(waiting, 'v3')).toMatchObject({ claimName: 'resnet-code-v3', importJob: 'resnet-code-v3-import', size: '2Mi', fileCount: 17 });
    expect(versionOf(waiting, 'v4')).toMatchObject({ reason: 'InvalidFiles', message: expect.stringContaining('"src/train.py" is not a valid ConfigMap key') });
    expect(waiting.status?.conditions?.[0]).toMatchObject({ status: 'False', reason: 'VersionFailed' });
    const owned = (await get<V1ConfigMap>(plane, core.ConfigMap, 'resnet-code-v1'))!;
    expect(owned.data).toEqual({ 'train.py': 'print("v1")' });
    expect(owned.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'Algorithm', name: 'resnet', uid: waiting.metadata.uid });

    // A user's edit to the controller's ConfigMap is undone: the version's content is immutable.
    await plane.client.patch({ ...owned, apiVersion: 'v1', kind: 'ConfigMap' }, { data: { 'train.py': 'print("tampered")' } });
    await waitFor<V1ConfigMap>(plane, core.ConfigMap, 'resnet-code-v1', 'restored', (cm) => cm.data?.['train.py'] === 'print("v1")');

    await create(plane, core.ConfigMap, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'resnet-code' }, data: { 'train.py': 'print("v2")' } });
    const found = await waitFor<Algorithm>(plane, octopus.Algorithm, 'resnet', 'v2 Ready', (a) => versionOf(a, 'v2')?.phase === 'Ready');
    expect(versionOf(found, 'v2')).toMatchObject({ configMapName: 'resnet-code', reason: 'ConfigMapFound' });
    expect(found.status).toMatchObject({ readyVersions: 3, latestVersion: 'v3' });

    const told = (await eventsAbout(plane, 'Algorithm', 'resnet')).map((e) => `${e.type} ${e.reason}`);
    expect(told).toEqual(expect.arrayContaining(['Warning ConfigMapNotFound', 'Warning InvalidFiles', 'Normal ImportStarted', 'Normal VersionReady']));
  });
});
