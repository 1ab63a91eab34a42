import { describe, expect, it } from '@jest/globals';
import type { V1ConfigMap, V1Job } from '@kubernetes/client-node';
import { apiVersion, type Image } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { controllerOptions } from '../assets/testing/controllers.js';
import { create, eventsAbout, get, list, simulated, startManager, useAssetPlane, waitFor, waitGone } from '../assets/testing/plane.js';
import { core, octopus } from '../resources.js';
import type { Manager } from '../runtime/index.js';
import { stopAfterEach } from '../runtime/testing/suite.js';
import { imageController } from './controller.js';

const digest = `sha256:${'d'.repeat(64)}`;
const image = (name: string, spec: Image['spec']): Image => ({ apiVersion, kind: 'Image', metadata: { name }, spec });
const phase = (p: string) => (i: Image) => i.status?.phase === p;

describe('Image controller on the real plane', () => {
  const plane = useAssetPlane('img');
  const managers = stopAfterEach<Manager>();
  // No registry: builds must name their destination (what every test here does, bar the one that checks this).
  const start = async () => managers.push(await startManager(plane.kc, [imageController({ namespace: plane.namespace })], controllerOptions({ buildRegistry: '' })));

  it('records a registry reference as Ready', async () => {
    await start();
    await create(plane, octopus.Image, image('pytorch', { reference: `docker.io/pytorch/pytorch:2.4.0@${digest}` }));
    const ready = await waitFor<Image>(plane, octopus.Image, 'pytorch', 'Ready', phase('Ready'));
    expect(ready.status).toMatchObject({ resolvedReference: `docker.io/pytorch/pytorch:2.4.0@${digest}`, digest, observedGeneration: 1 });
    expect(ready.status?.conditions?.[0]).toMatchObject({ type: 'Ready', status: 'True', reason: 'Referenced' });
  });

  it('builds each generation once, pins the pushed image to its digest, and drops superseded builds', async () => {
    await start();
    const destination = 'registry.test/team/trainer:latest';
    await create(plane, octopus.Image, image('trainer', { build: { dockerfile: 'FROM busybox\n', destination, podMetadata: simulated('Succeed', digest) } }));
    const built = await waitFor<Image>(plane, octopus.Image, 'trainer', 'Ready', phase('Ready'));
    expect(built.status).toMatchObject({ resolvedReference: `${destination}@${digest}`, digest, builtGeneration: 1, buildJob: 'trainer-build-1' });
    const job = (await get<V1Job>(plane, core.BatchJob, 'trainer-build-1'))!;
    expect(job.spec?.template.spec?.containers[0]?.args).toEqual(['--dockerfile=/workspace/Dockerfile', '--context=dir:///workspace', `--destination=${destination}`, '--digest-file=/dev/termination-log']);
    expect((await get<V1ConfigMap>(plane, core.ConfigMap, 'trainer-build-1'))?.data).toEqual({ Dockerfile: 'FROM busybox\n' });

    await plane.client.patch({ ...built, metadata: { name: 'trainer', namespace: plane.namespace } }, { spec: { build: { buildArgs: { VERSION: '2' } } } });
    const rebuilt = await waitFor<Image>(plane, octopus.Image, 'trainer', 'generation 2 built', (i) => i.status?.builtGeneration === 2 && i.status.phase === 'Ready');
    expect(rebuilt.status).toMatchObject({ buildJob: 'trainer-build-2', observedGeneration: 2 });
    await waitGone(plane, core.BatchJob, 'trainer-build-1');
    await waitGone(plane, core.ConfigMap, 'trainer-build-1');

    const told = (await eventsAbout(plane, 'Image', 'trainer')).map((e) => `${e.type} ${e.reason}`);
    expect(told.filter((t) => t === 'Normal Built')).toHaveLength(2);
    expect(told).toContain('Normal BuildStarted');

    // Back to a plain reference: no build Job remains.
    await plane.client.patch({ ...built, metadata: { name: 'trainer', namespace: plane.namespace } }, { spec: { build: null, reference: 'docker.io/library/busybox:1.36' } });
    const referenced = await waitFor<Image>(plane, octopus.Image, 'trainer', 'a reference again', (i) => i.status?.resolvedReference === 'docker.io/library/busybox:1.36');
    expect(referenced.status?.buildJob).toBeUndefined();
    await waitGone(plane, core.BatchJob, 'trainer-build-2');
  });

  it('fails a build with the reason its pod gives, and one with nowhere to push', async () => {
    await start();
    await create(plane, octopus.Image, image('broken', { build: { dockerfile: 'FROM nothing', destination: 'registry.test/x/broken:1', podMetadata: simulated('Fail', 'error building image: nothing: not found') } }));
    await create(plane, octopus.Image, image('homeless', { build: { dockerfile: 'FROM busybox' } }));

    const broken = await waitFor<Image>(plane, octopus.Image, 'broken', 'Failed', phase('Failed'));
    expect(broken.status?.conditions?.[0]).toMatchObject({ status: 'False', reason: 'BuildFailed', message: 'error building image: nothing: not found' });
    expect(broken.status?.builtGeneration).toBe(1);
    const homeless = await waitFor<Image>(plane, octopus.Image, 'homeless', 'Failed', phase('Failed'));
    expect(homeless.status?.conditions?.[0]).toMatchObject({ reason: 'NoRegistry', message: expect.stringContaining('--build-registry') });
    const jobs = (await list<V1Job>(plane, core.BatchJob)).map((j) => j.metadata!.name!);
    expect(jobs.filter((name) => name.startsWith('broken') || name.startsWith('homeless'))).toEqual(['broken-build-1']);

    const told = await eventsAbout(plane, 'Image', 'broken');
    expect(told).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'Warning', reason: 'BuildFailed', note: 'error building image: nothing: not found' })]));
  });
});
