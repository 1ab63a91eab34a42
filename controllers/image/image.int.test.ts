import { describe, expect, it } from '@jest/globals';
import type { V1ConfigMap, V1Job, V1Pod } from '@kubernetes/client-node';
import { apiVersion, type Image } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { eventually } from '../../e2e/harness/kube.js';
import { controllerOptions } from '../assets/testing/controllers.js';
import { create, eventsAbout, get, list, simulated, startManager, useAssetPlane, waitFor, waitGone, type AssetPlane } from '../assets/testing/plane.js';
import type { ControllerOptions } from '../options.js';
import { core, octopus } from '../resources.js';
import type { Manager } from '../runtime/index.js';
import { stopAfterEach, useTestNamespace } from '../runtime/testing/suite.js';
import { imageController } from './controller.js';

const digest = `sha256:${'d'.repeat(64)}`;
const registry = 'registry.test';
const image = (name: string, spec: Image['spec']): Image => ({ apiVersion, kind: 'Image', metadata: { name }, spec });
const phase = (p: string) => (i: Image) => i.status?.phase === p;

describe('Image controller on the real plane', () => {
  const plane = useAssetPlane('img');
  // This file's builds namespace, so parallel test files never see each other's builds.
  const builds = useTestNamespace('img-builds');
  const managers = stopAfterEach<Manager>();
  const inBuilds = (): AssetPlane => ({ ...plane, namespace: builds.namespace });
  const options = (overrides: Partial<ControllerOptions> = {}) => controllerOptions({ buildRegistry: registry, buildNamespace: builds.namespace, buildCpu: '100m', buildMemory: '128Mi', ...overrides });
  const start = async (overrides: Partial<ControllerOptions> = {}) => managers.push(await startManager(plane.kc, [imageController({ namespace: plane.namespace })], options(overrides)));
  const buildsOf = async (name: string) => (await list<V1Job>(inBuilds(), core.BatchJob)).filter((j) => j.metadata?.annotations?.['octopus.openi.pcl.cn/owner'] === `${plane.namespace}/${name}`);
  const dockerfilesOf = async (name: string) => (await list<V1ConfigMap>(inBuilds(), core.ConfigMap)).filter((c) => c.metadata?.annotations?.['octopus.openi.pcl.cn/owner'] === `${plane.namespace}/${name}`);

  it('records a registry reference as Ready', async () => {
    await start();
    await create(plane, octopus.Image, image('pytorch', { reference: `docker.io/pytorch/pytorch:2.4.0@${digest}` }));
    const ready = await waitFor<Image>(plane, octopus.Image, 'pytorch', 'Ready', phase('Ready'));
    expect(ready.status).toMatchObject({ resolvedReference: `docker.io/pytorch/pytorch:2.4.0@${digest}`, digest, observedGeneration: 1 });
    expect(ready.status?.conditions?.[0]).toMatchObject({ type: 'Ready', status: 'True', reason: 'Referenced' });
  });

  it('builds each generation once in the builds namespace, charged to the workspace, and drops superseded builds', async () => {
    await start();
    const destination = `${registry}/${plane.namespace}/trainer:latest`;
    await create(plane, octopus.Image, image('trainer', { build: { dockerfile: 'FROM busybox\n', destination, podMetadata: simulated('Succeed', `${destination}@${digest}`) } }));
    const built = await waitFor<Image>(plane, octopus.Image, 'trainer', 'Ready', phase('Ready'));
    expect(built.status).toMatchObject({ resolvedReference: `${destination}@${digest}`, digest, builtGeneration: 1 });

    const [job, ...more] = await buildsOf('trainer');
    expect(more).toEqual([]);
    expect(built.status?.buildJob).toBe(job?.metadata?.name);
    expect(job?.metadata?.labels).toMatchObject({ 'octopus.openi.pcl.cn/workspace': plane.namespace, 'octopus.openi.pcl.cn/charged-to': plane.namespace, 'octopus.openi.pcl.cn/owner-uid': built.metadata!.uid });
    expect(job?.metadata?.ownerReferences).toBeUndefined();
    const pod = job!.spec!.template.spec!;
    expect(pod.initContainers?.[0]?.args).toEqual(['--dockerfile=/workspace/Dockerfile', '--context=dir:///workspace', `--destination=${destination}`, '--no-push', '--tar-path=/image/image.tar']);
    expect(pod.containers[0]?.resources).toEqual({ requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '100m', memory: '128Mi' } });
    const pods = await list<V1Pod>(inBuilds(), core.Pod, `octopus.openi.pcl.cn/owner-uid=${built.metadata!.uid}`);
    expect(pods.map((p) => p.metadata?.labels?.['octopus.openi.pcl.cn/charged-to'])).toEqual([plane.namespace]);
    expect((await dockerfilesOf('trainer')).map((c) => c.data)).toEqual([{ Dockerfile: 'FROM busybox\n' }]);
    // Nothing of the build is in the workspace.
    expect(await list(plane, core.BatchJob)).toEqual([]);
    expect(await list(plane, core.Pod)).toEqual([]);
    expect(await list(plane, core.ConfigMap, 'octopus.openi.pcl.cn/asset-kind=Image')).toEqual([]);

    await plane.client.patch({ ...built, metadata: { name: 'trainer', namespace: plane.namespace } }, { spec: { build: { buildArgs: { VERSION: '2' } } } });
    const rebuilt = await waitFor<Image>(plane, octopus.Image, 'trainer', 'generation 2 built', (i) => i.status?.builtGeneration === 2 && i.status.phase === 'Ready');
    expect(rebuilt.status?.buildJob).not.toBe(job?.metadata?.name);
    await waitGone(inBuilds(), core.BatchJob, job!.metadata!.name!);
    expect((await buildsOf('trainer')).map((j) => j.metadata?.labels?.['octopus.openi.pcl.cn/generation'])).toEqual(['2']);
    expect((await dockerfilesOf('trainer')).map((c) => c.metadata?.labels?.['octopus.openi.pcl.cn/generation'])).toEqual(['2']);

    const told = (await eventsAbout(plane, 'Image', 'trainer')).map((e) => `${e.type} ${e.reason}`);
    expect(told.filter((t) => t === 'Normal Built')).toHaveLength(2);
    expect(told).toContain('Normal BuildStarted');

    // Back to a plain reference: no build remains.
    await plane.client.patch({ ...built, metadata: { name: 'trainer', namespace: plane.namespace } }, { spec: { build: null, reference: 'docker.io/library/busybox:1.36' } });
    const referenced = await waitFor<Image>(plane, octopus.Image, 'trainer', 'a reference again', (i) => i.status?.resolvedReference === 'docker.io/library/busybox:1.36');
    expect(referenced.status?.buildJob).toBeUndefined();
    await eventually('no build of trainer left', async () => ((await buildsOf('trainer')).length + (await dockerfilesOf('trainer')).length === 0 ? true : undefined));
  });

  it('fails a build with the reason its pod gives, one with nowhere to push, and refuses one pushing outside the workspace', async () => {
    await start();
    await create(plane, octopus.Image, image('broken', { build: { dockerfile: 'FROM nothing', podMetadata: simulated('Fail', 'error building image: nothing: not found') } }));
    await create(plane, octopus.Image, image('elsewhere', { build: { dockerfile: 'FROM busybox', destination: `${registry}/someone-else/x:1` } }));
    await create(plane, octopus.Image, image('private', { build: { context: { git: { url: 'https://git.test/app.git', secretRef: { name: 'git-creds' } } }, pushSecretRef: { name: 'mine' } } }));

    const broken = await waitFor<Image>(plane, octopus.Image, 'broken', 'Failed', phase('Failed'));
    expect(broken.status?.conditions?.[0]).toMatchObject({ status: 'False', reason: 'BuildFailed', message: 'error building image: nothing: not found' });
    expect(broken.status?.builtGeneration).toBe(1);
    const elsewhere = await waitFor<Image>(plane, octopus.Image, 'elsewhere', 'Failed', phase('Failed'));
    expect(elsewhere.status?.conditions?.[0]).toMatchObject({ reason: 'BuildRefused', message: `spec.build.destination: ${registry}/someone-else/x:1 is outside this workspace's repositories: builds push only under ${registry}/${plane.namespace}/` });
    const secretive = await waitFor<Image>(plane, octopus.Image, 'private', 'Failed', phase('Failed'));
    expect(secretive.status?.conditions?.[0]?.message).toMatch(/^spec\.build\.pushSecretRef: .*; spec\.build\.context\.git\.secretRef: /);
    expect(await buildsOf('broken')).toHaveLength(1);
    expect([...(await buildsOf('elsewhere')), ...(await buildsOf('private'))]).toEqual([]);

    const told = await eventsAbout(plane, 'Image', 'broken');
    expect(told).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'Warning', reason: 'BuildFailed', note: 'error building image: nothing: not found' })]));
  });

  it('turns builds off without a registry', async () => {
    await start({ buildRegistry: '' });
    await create(plane, octopus.Image, image('homeless', { build: { dockerfile: 'FROM busybox', destination: `${registry}/${plane.namespace}/homeless:1` } }));
    const homeless = await waitFor<Image>(plane, octopus.Image, 'homeless', 'Failed', phase('Failed'));
    expect(homeless.status?.conditions?.[0]).toMatchObject({ reason: 'NoRegistry', message: expect.stringContaining('--build-registry') });
    expect(await buildsOf('homeless')).toEqual([]);
  });

  it("removes an Image's builds when it is deleted, also while the controller was down", async () => {
    await start();
    await create(plane, octopus.Image, image('gone', { build: { dockerfile: 'FROM busybox', podMetadata: simulated('Succeed', digest, '1h') } }));
    await create(plane, octopus.Image, image('gone-later', { build: { dockerfile: 'FROM busybox', podMetadata: simulated('Succeed', digest, '1h') } }));
    await eventually('both builds started', async () => ((await buildsOf('gone')).length + (await buildsOf('gone-later')).length === 2 ? true : undefined));
    await plane.client.deleteIgnoreNotFound({ apiVersion, kind: 'Image', metadata: { name: 'gone', namespace: plane.namespace } });
    await eventually('the build of a deleted Image removed', async () => ((await buildsOf('gone')).length + (await dockerfilesOf('gone')).length === 0 ? true : undefined));

    await managers.pop()!.stop();
    await plane.client.deleteIgnoreNotFound({ apiVersion, kind: 'Image', metadata: { name: 'gone-later', namespace: plane.namespace } });
    await waitGone(plane, octopus.Image, 'gone-later');
    expect(await buildsOf('gone-later')).toHaveLength(1);
    await start();
    await eventually('the build of an Image deleted while down removed', async () => ((await buildsOf('gone-later')).length + (await dockerfilesOf('gone-later')).length === 0 ? true : undefined));
    expect(await get(plane, octopus.Image, 'gone')).toBeUndefined();
  });
});
