/**
 * Attack 11: Image builds. A member's build used to run in their own namespace with the
 * platform's push secret mounted beside their Dockerfile, free to push anywhere. Now it runs in the
 * platform's builds namespace, charged to the workspace, with the credential only in a push step
 * the Dockerfile never runs in, and only to the workspace's repository prefix.
 */
import { describe, expect, it } from '@jest/globals';
import { BatchV1Api, CoreV1Api, CustomObjectsApi, type V1Job } from '@kubernetes/client-node';
import { apiVersion, group, version, type Image } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { parseOptions } from '../../controllers/options.js';
import { localBuildRegistry } from '../../hack/platform.js';
import { eventually } from '../harness/kube.js';
import type { AttackWorld } from './tenants.js';

const defaults = parseOptions([], {});
const buildsNs = defaults.buildNamespace;
const owner = 'octopus.openi.pcl.cn/owner';

function buildImage(ns: string, name: string, build: NonNullable<Image['spec']['build']>): Image {
  return { apiVersion, kind: 'Image', metadata: { name, namespace: ns }, spec: { build } };
}

async function imageStatus(w: AttackWorld, name: string, what: string, check: (i: Image) => boolean): Promise<Image> {
  return eventually(`Image ${w.ns}/${name}: ${what}`, async () => {
    const img = await w.read<Image>({ apiVersion, kind: 'Image', metadata: { name, namespace: w.ns } });
    return img && check(img) ? img : undefined;
  }, 60_000);
}

/** The build Jobs of `ns/name` in the builds namespace, read as the admin. */
async function buildJobs(w: AttackWorld, name: string): Promise<V1Job[]> {
  const jobs = await w.admin.makeApiClient(BatchV1Api).listNamespacedJob({ namespace: buildsNs, labelSelector: 'octopus.openi.pcl.cn/asset-kind=Image' });
  return jobs.items.filter((j) => j.metadata?.annotations?.[owner] === `${w.ns}/${name}`);
}

async function deleteImage(w: AttackWorld, name: string): Promise<void> {
  await w.admin
    .makeApiClient(CustomObjectsApi)
    .deleteNamespacedCustomObject({ group, version, plural: 'images', namespace: w.ns, name })
    .catch((err: { code?: number }) => {
      if (err.code !== 404) throw err;
    });
  await eventually(`the builds of ${w.ns}/${name} removed`, async () => ((await buildJobs(w, name)).length === 0 ? true : undefined), 60_000);
}

export function describeBuildAttacks(world: () => AttackWorld): void {
  describe('11. Image builds', () => {
    it("runs a member's build in the builds namespace, charged to the workspace, with no push credential near the Dockerfile or in the workspace", async () => {
      const w = world();
      const core = w.admin.makeApiClient(CoreV1Api);
      const name = 'atk-build-steal';
      // The Dockerfile looks for the push credential where Kaniko kept it; the simulated pod runs long enough to be seen.
      const dockerfile = 'FROM busybox\nRUN cat /kaniko/.docker/config.json /push/config.json\n';
      const annotations = { 'sim.octopus.openi.pcl.cn/outcome': 'Succeed', 'sim.octopus.openi.pcl.cn/duration': '10m' };
      expect(await w.tryApply(buildImage(w.ns, name, { dockerfile, podMetadata: { annotations } }))).toBeUndefined();
      try {
        const building = await imageStatus(w, name, 'building', (i) => i.status?.buildJob !== undefined);
        const [job, ...others] = await eventually('the build Job', async () => {
          const jobs = await buildJobs(w, name);
          return jobs.length > 0 ? jobs : undefined;
        });
        expect(others).toEqual([]);
        expect(job?.metadata?.name).toBe(building.status?.buildJob);
        expect(job?.metadata?.labels).toMatchObject({ 'octopus.openi.pcl.cn/workspace': w.ns, 'octopus.openi.pcl.cn/charged-to': w.ns });
        const pod = job!.spec!.template.spec!;
        const want = { requests: { cpu: defaults.buildCpu, memory: defaults.buildMemory }, limits: { cpu: defaults.buildCpu, memory: defaults.buildMemory } };
        expect(pod.initContainers?.map((c) => [c.name, c.resources])).toEqual([['build', want]]);
        expect(pod.containers.map((c) => [c.name, c.resources])).toEqual([['push', want]]);
        // The Dockerfile runs in `build`, which mounts no Secret and gets no token; only `push` has the platform's secret.
        const secretVolumes = (pod.volumes ?? []).filter((v) => v.secret).map((v) => v.name);
        expect(secretVolumes).toEqual(['push-secret']);
        expect(pod.volumes?.find((v) => v.name === 'push-secret')?.secret?.secretName).toBe(defaults.buildPushSecret);
        expect(pod.initContainers?.[0]?.volumeMounts?.map((m) => m.name)).not.toContain('push-secret');
        expect(pod.initContainers?.[0]?.env).toBeUndefined();
        expect(pod.automountServiceAccountToken).toBe(false);

        const pods = await eventually('the build pod', async () => {
          const list = await core.listNamespacedPod({ namespace: buildsNs, labelSelector: `job-name=${job!.metadata!.name}` });
          return list.items.length > 0 ? list.items : undefined;
        });
        expect(pods.map((p) => p.metadata?.labels?.['octopus.openi.pcl.cn/charged-to'])).toEqual([w.ns]);

        // Nothing of the build in the workspace: no Job, no pod, no Dockerfile, no push credential.
        const batch = w.admin.makeApiClient(BatchV1Api);
        expect((await batch.listNamespacedJob({ namespace: w.ns, labelSelector: 'octopus.openi.pcl.cn/asset-kind=Image' })).items).toEqual([]);
        expect((await core.listNamespacedPod({ namespace: w.ns, labelSelector: 'octopus.openi.pcl.cn/asset-kind=Image' })).items).toEqual([]);
        expect((await core.listNamespacedConfigMap({ namespace: w.ns, labelSelector: 'octopus.openi.pcl.cn/asset-kind=Image' })).items).toEqual([]);
        const secrets = (await core.listNamespacedSecret({ namespace: w.ns })).items;
        expect(secrets.filter((s) => s.type === 'kubernetes.io/dockerconfigjson' || s.metadata?.name === defaults.buildPushSecret)).toEqual([]);

        // The builds namespace is privileged, and the member has no access to it at all.
        const ns = await core.readNamespace({ name: buildsNs });
        expect(ns.metadata?.labels?.['pod-security.kubernetes.io/enforce']).toBe('privileged');
        for (const args of [
          ['get', 'secrets', '-n', buildsNs],
          ['get', 'secret', defaults.buildPushSecret, '-n', buildsNs],
          ['get', 'pods,jobs,configmaps', '-n', buildsNs],
          ['logs', `job/${job!.metadata!.name}`, '-c', 'push', '-n', buildsNs],
          ['run', 'atk-shell', '--image=busybox', '--restart=Never', '-n', buildsNs, '--', 'cat', '/push/config.json'],
        ]) {
          const { status, output } = w.kubectl(args);
          expect({ args, status, forbidden: /forbidden/i.test(output) }).toEqual({ args, status: 1, forbidden: true });
        }
        expect((await core.listNamespacedPod({ namespace: buildsNs, labelSelector: 'run=atk-shell' })).items).toEqual([]);
      } finally {
        // Deleting the Image removes its build from the other namespace (no owner reference can).
        await deleteImage(w, name);
      }
    }, 120_000);

    it("refuses a build pushing outside the workspace's repositories, or naming a workspace Secret, naming the field; nothing is created", async () => {
      const w = world();
      const dockerfile = 'FROM busybox\n';
      const cases = [
        { name: 'atk-build-victim', build: { dockerfile, destination: `${localBuildRegistry}/${w.victimNs}/app:latest` }, field: 'spec.build.destination', reason: `builds push only under ${localBuildRegistry}/${w.ns}/` },
        { name: 'atk-build-sibling', build: { dockerfile, destination: `${localBuildRegistry}/${w.ns}-x/app:latest` }, field: 'spec.build.destination', reason: `builds push only under ${localBuildRegistry}/${w.ns}/` },
        { name: 'atk-build-away', build: { dockerfile, destination: 'evil.example.net/atk/app:1' }, field: 'spec.build.destination', reason: "outside this workspace's repositories" },
        { name: 'atk-build-own-push', build: { dockerfile, pushSecretRef: { name: 'registry-push' } }, field: 'spec.build.pushSecretRef', reason: "platform's credential" },
        { name: 'atk-build-private-git', build: { context: { git: { url: 'https://git.example.net/app.git', secretRef: { name: 'git-creds' } } } }, field: 'spec.build.context.git.secretRef', reason: "never receive a workspace's Secrets" },
      ];
      for (const c of cases) {
        const refusal = await w.tryApply(buildImage(w.ns, c.name, c.build));
        expect(refusal).toContain(c.field);
        expect(refusal).toContain(c.reason);
        expect(await w.read({ apiVersion, kind: 'Image', metadata: { name: c.name, namespace: w.ns } })).toBeUndefined();
        expect(await buildJobs(w, c.name)).toEqual([]);
      }
    });
  });
}
