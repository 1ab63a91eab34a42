import { describe, expect, it } from '@jest/globals';
import type { Image } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { image, testOptions } from '../assets/testing/fixtures.js';
import { buildDestination, builderArgs, buildJobName, buildRefusals, desiredBuildJob, desiredDockerfileConfigMap, gitContext, pusherArgs, type BuildOptions, type ImageBuild } from './build.js';

const dockerfile = 'FROM busybox\n';
const options: BuildOptions = { ...testOptions, pusherImage: 'registry.test/pusher:1', buildNamespace: 'octopus-builds', buildCpu: '2', buildMemory: '4Gi' };
const withUid = (img: Image, uid: string): Image => ({ ...img, metadata: { ...img.metadata, uid } });

describe('buildDestination', () => {
  it.each([
    { name: "the spec's destination", build: { dockerfile, destination: 'r.test/team-a/y:1' }, registry: 'r.test', want: 'r.test/team-a/y:1' },
    { name: 'the registry, namespace, name and generation', build: { dockerfile }, registry: 'r.test/octopus/', want: 'r.test/octopus/team-a/trainer:7' },
    { name: 'nothing without a registry, whatever the spec says', build: { dockerfile, destination: 'r.test/team-a/y:1' }, registry: '', want: undefined },
  ])('$name', ({ build, registry, want }) => {
    expect(buildDestination(image('trainer', { build }, 7), registry)).toBe(want);
  });
});

describe('buildRefusals', () => {
  const registry = 'registry.test/octopus';
  it.each<{ name: string; build: ImageBuild; registry?: string; want: string[] }>([
    { name: 'the default destination', build: { dockerfile }, want: [] },
    { name: "a destination under the workspace's prefix", build: { dockerfile, destination: 'registry.test/octopus/team-a/tools/x:1' }, want: [] },
    { name: 'another registry', build: { dockerfile, destination: 'evil.test/team-a/x:1' }, want: ['spec.build.destination'] },
    { name: "another workspace's repositories", build: { dockerfile, destination: 'registry.test/octopus/team-b/x:1' }, want: ['spec.build.destination'] },
    { name: 'a workspace whose name extends this one', build: { dockerfile, destination: 'registry.test/octopus/team-a-evil/x:1' }, want: ['spec.build.destination'] },
    { name: 'the registry root', build: { dockerfile, destination: 'registry.test/octopus/x:1' }, want: ['spec.build.destination'] },
    { name: 'the bare prefix', build: { dockerfile, destination: 'registry.test/octopus/team-a/' }, want: ['spec.build.destination'] },
    { name: "a workspace's push Secret", build: { dockerfile, pushSecretRef: { name: 'mine' } }, want: ['spec.build.pushSecretRef'] },
    { name: 'a private git context', build: { context: { git: { url: 'https://git.test/app.git', secretRef: { name: 'git-creds' } } } }, want: ['spec.build.context.git.secretRef'] },
    { name: 'every refused field at once', build: { dockerfile, destination: 'evil.test/x:1', pushSecretRef: { name: 'mine' } }, want: ['spec.build.destination', 'spec.build.pushSecretRef'] },
    { name: 'no destination judged when builds are off (NoRegistry says so)', build: { dockerfile, destination: 'evil.test/x:1' }, registry: '', want: [] },
    { name: 'Secrets refused even then', build: { dockerfile, destination: 'evil.test/x:1', pushSecretRef: { name: 'mine' } }, registry: '', want: ['spec.build.pushSecretRef'] },
  ])('$name', ({ build, registry: r, want }) => {
    expect(buildRefusals(build, 'team-a', r ?? registry).map((x) => x.field)).toEqual(want);
  });

  it('names the prefix a destination must stay under', () => {
    const [refusal] = buildRefusals({ dockerfile, destination: 'evil.test/x:1' }, 'team-a', registry);
    expect(refusal?.message).toBe("evil.test/x:1 is outside this workspace's repositories: builds push only under registry.test/octopus/team-a/");
  });
});

describe('buildJobName', () => {
  const named = (ns: string, name: string, uid = 'u1', generation = 1) => buildJobName(withUid(image(name, { build: { dockerfile } }, generation, ns), uid));

  it.each([
    { name: 'namespace, name, generation and a hash', got: named('team-a', 'trainer', 'u1', 3), want: /^team-a-trainer-3-[0-9a-f]{10}$/ },
    { name: 'a long name cut to a Job name, ending alphanumeric', got: named('team-a', `x-${'y'.repeat(80)}`), want: /^team-a-x-y+-1-[0-9a-f]{10}$/ },
    { name: 'a cut landing on a separator', got: named('n'.repeat(49), 'a-b'), want: /^n{49}-1-[0-9a-f]{10}$/ },
  ])('$name', ({ got, want }) => {
    expect(got).toMatch(want);
    expect(got.length).toBeLessThanOrEqual(63);
  });

  it.each([
    { name: 'namespaces and names that join alike', a: named('a-b', 'c'), b: named('a', 'b-c') },
    { name: 'an Image recreated under the same name', a: named('team-a', 'trainer', 'u1'), b: named('team-a', 'trainer', 'u2') },
    { name: 'generations', a: named('team-a', 'trainer', 'u1', 1), b: named('team-a', 'trainer', 'u1', 2) },
    { name: 'long names sharing their first 63 characters', a: named('team-a', `${'z'.repeat(70)}-1`), b: named('team-a', `${'z'.repeat(70)}-2`) },
  ])('keeps apart $name', ({ a, b }) => {
    expect(a).not.toBe(b);
  });

  it('is the same for the same Image', () => {
    expect(named('team-a', 'trainer')).toBe(named('team-a', 'trainer'));
  });
});

describe('gitContext', () => {
  it.each([
    { name: 'https, default branch', git: { url: 'https://git.test/vision/app.git' }, want: 'git://git.test/vision/app.git' },
    { name: 'a branch', git: { url: 'https://git.test/vision/app.git', revision: 'main' }, want: 'git://git.test/vision/app.git#refs/heads/main' },
    { name: 'a full ref', git: { url: 'https://git.test/app.git', revision: 'refs/tags/v1' }, want: 'git://git.test/app.git#refs/tags/v1' },
    { name: 'a commit', git: { url: 'ssh://git.test/app.git', revision: 'a'.repeat(40) }, want: `git://git.test/app.git#${'a'.repeat(40)}` },
    { name: 'scp-style ssh', git: { url: 'git@git.test:vision/app.git' }, want: 'git://git.test/vision/app.git' },
  ])('$name', ({ git, want }) => {
    expect(gitContext(git)).toBe(want);
  });
});

describe('builderArgs', () => {
  const tail = ['--no-push', '--tar-path=/image/image.tar'];
  it.each<{ name: string; build: ImageBuild; want: string[] }>([
    {
      name: 'an inline Dockerfile is the whole context; build args sorted',
      build: { dockerfile, buildArgs: { TORCH: '2.4', CUDA: '12.4' } },
      want: ['--dockerfile=/workspace/Dockerfile', '--context=dir:///workspace', '--destination=r.test/x:1', '--build-arg=CUDA=12.4', '--build-arg=TORCH=2.4', ...tail],
    },
    {
      name: 'a git context with its Dockerfile path and sub-path',
      build: { context: { git: { url: 'https://git.test/app.git', revision: 'main', subPath: 'docker' } }, dockerfilePath: 'build/Dockerfile' },
      want: ['--dockerfile=build/Dockerfile', '--context=git://git.test/app.git#refs/heads/main', '--context-sub-path=docker', '--destination=r.test/x:1', ...tail],
    },
    {
      name: 'a git context with an inline Dockerfile',
      build: { dockerfile, context: { git: { url: 'https://git.test/app.git' } } },
      want: ['--dockerfile=/workspace/Dockerfile', '--context=git://git.test/app.git', '--destination=r.test/x:1', ...tail],
    },
  ])('$name; the build never pushes', ({ build, want }) => {
    expect(builderArgs(build, 'r.test/x:1')).toEqual(want);
  });

  it('leaves the push to the push step, which reports the pushed reference', () => {
    expect(pusherArgs('r.test/x:1')).toEqual(['push', '/image/image.tar', 'r.test/x:1', '--image-refs=/dev/termination-log']);
  });
});

describe('desiredBuildJob', () => {
  const destination = 'registry.test/octopus/team-a/trainer:3';
  const spec: ImageBuild = {
    dockerfile,
    timeoutSeconds: 900,
    // Refused before a Job is built; even so it must never reach the pod.
    pushSecretRef: { name: 'tenant-push' },
    podMetadata: {
      labels: { team: 'vision', 'octopus.openi.pcl.cn/charged-to': 'team-b' },
      annotations: { a: 'b', 'sim.octopus.openi.pcl.cn/outcome': 'Succeed', 'container.apparmor.security.beta.kubernetes.io/build': 'unconfined' },
    },
  };
  const trainer = image('trainer', { build: spec }, 3);
  const job = desiredBuildJob(trainer, destination, options);
  const pod = job.spec!.template.spec!;
  const build = pod.initContainers![0]!;
  const push = pod.containers[0]!;
  const name = buildJobName(trainer);
  const wantLabels = {
    'app.kubernetes.io/managed-by': 'octopus',
    'octopus.openi.pcl.cn/asset-kind': 'Image',
    'octopus.openi.pcl.cn/generation': '3',
    'octopus.openi.pcl.cn/owner-uid': 'uid-trainer',
    'octopus.openi.pcl.cn/workspace': 'team-a',
    'octopus.openi.pcl.cn/charged-to': 'team-a',
  };

  it('runs in the builds namespace, named and labelled for its workspace, with no owner reference across namespaces', () => {
    expect(job.metadata).toEqual({ name, namespace: 'octopus-builds', labels: wantLabels, annotations: { 'octopus.openi.pcl.cn/owner': 'team-a/trainer' } });
    expect(job.spec?.backoffLimit).toBe(0);
    expect(job.spec?.activeDeadlineSeconds).toBe(900);
  });

  it("charges the pod to its workspace whatever the user's podMetadata says, and drops Kubernetes' own keys", () => {
    expect(job.spec?.template.metadata?.labels).toEqual({ team: 'vision', ...wantLabels });
    expect(job.spec?.template.metadata?.annotations).toEqual({ a: 'b', 'sim.octopus.openi.pcl.cn/outcome': 'Succeed', 'octopus.openi.pcl.cn/owner': 'team-a/trainer' });
  });

  it('requests and limits the configured cpu and memory in both steps', () => {
    const want = { requests: { cpu: '2', memory: '4Gi' }, limits: { cpu: '2', memory: '4Gi' } };
    expect(build.resources).toEqual(want);
    expect(push.resources).toEqual(want);
  });

  it('builds without any credential and pushes with the platform secret only in the push step', () => {
    expect(build.image).toBe('registry.test/builder:1');
    expect(build.args).toEqual(builderArgs(spec, destination));
    expect(build.env).toBeUndefined();
    expect(build.volumeMounts).toEqual([
      { name: 'image', mountPath: '/image' },
      { name: 'dockerfile', mountPath: '/workspace', readOnly: true },
    ]);
    expect(push.image).toBe('registry.test/pusher:1');
    expect(push.args).toEqual(pusherArgs(destination));
    expect(push.env).toEqual([{ name: 'DOCKER_CONFIG', value: '/push' }]);
    expect(push.volumeMounts).toEqual([
      { name: 'image', mountPath: '/image', readOnly: true },
      { name: 'push-secret', mountPath: '/push', readOnly: true },
    ]);
    expect(pod.volumes).toEqual([
      { name: 'image', emptyDir: {} },
      { name: 'dockerfile', configMap: { name } },
      { name: 'push-secret', secret: { secretName: 'push-secret', items: [{ key: '.dockerconfigjson', path: 'config.json' }] } },
    ]);
    expect(JSON.stringify(job)).not.toContain('tenant-push');
  });

  it('mounts no secret when the platform has none', () => {
    const bare = desiredBuildJob(trainer, destination, { ...options, buildPushSecret: '' }).spec!.template.spec!;
    expect(bare.volumes?.map((v) => v.name)).toEqual(['image', 'dockerfile']);
    expect(bare.containers[0]!.env).toBeUndefined();
  });

  it('runs as root without privilege, gaining nothing, with no service-account token', () => {
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext).toEqual({ seccompProfile: { type: 'RuntimeDefault' } });
    expect(build.securityContext).toEqual({ runAsUser: 0, runAsGroup: 0, runAsNonRoot: false, allowPrivilegeEscalation: false });
    expect(push.securityContext).toEqual({ runAsUser: 0, runAsGroup: 0, runAsNonRoot: false, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(JSON.stringify(pod)).not.toContain('privileged');
    expect(pod.hostNetwork ?? pod.hostPID ?? pod.hostIPC).toBeUndefined();
  });

  it('keeps the inline Dockerfile in a ConfigMap of the same name and labels, in the builds namespace', () => {
    const cm = desiredDockerfileConfigMap(trainer, dockerfile, options);
    expect(cm.metadata).toEqual({ name, namespace: 'octopus-builds', labels: wantLabels, annotations: { 'octopus.openi.pcl.cn/owner': 'team-a/trainer' } });
    expect(cm.data).toEqual({ Dockerfile: dockerfile });
  });
});
