import { describe, expect, it } from '@jest/globals';
import { image, testOptions } from '../assets/testing/fixtures.js';
import { buildDestination, builderArgs, desiredBuildJob, desiredDockerfileConfigMap, gitContext, type ImageBuild } from './build.js';

const dockerfile = 'FROM busybox\n';

describe('buildDestination', () => {
  it.each([
    { name: "the spec's destination", build: { dockerfile, destination: 'registry.example.com/x/y:1' }, registry: 'r.test', want: 'registry.example.com/x/y:1' },
    { name: 'the registry, namespace, name and generation', build: { dockerfile }, registry: 'r.test/octopus/', want: 'r.test/octopus/team-a/trainer:7' },
    { name: 'nothing without a registry', build: { dockerfile }, registry: '', want: undefined },
  ])('$name', ({ build, registry, want }) => {
    expect(buildDestination(image('trainer', { build }, 7), registry)).toBe(want);
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
  it.each<{ name: string; build: ImageBuild; want: string[] }>([
    {
      name: 'an inline Dockerfile is the whole context; build args sorted',
      build: { dockerfile, buildArgs: { TORCH: '2.4', CUDA: '12.4' } },
      want: ['--dockerfile=/workspace/Dockerfile', '--context=dir:///workspace', '--destination=r.test/x:1', '--build-arg=CUDA=12.4', '--build-arg=TORCH=2.4', '--digest-file=/dev/termination-log'],
    },
    {
      name: 'a git context with its Dockerfile path and sub-path',
      build: { context: { git: { url: 'https://git.test/app.git', revision: 'main', subPath: 'docker' } }, dockerfilePath: 'build/Dockerfile' },
      want: ['--dockerfile=build/Dockerfile', '--context=git://git.test/app.git#refs/heads/main', '--context-sub-path=docker', '--destination=r.test/x:1', '--digest-file=/dev/termination-log'],
    },
    {
      name: 'a git context with an inline Dockerfile',
      build: { dockerfile, context: { git: { url: 'https://git.test/app.git' } } },
      want: ['--dockerfile=/workspace/Dockerfile', '--context=git://git.test/app.git', '--destination=r.test/x:1', '--digest-file=/dev/termination-log'],
    },
  ])('$name', ({ build, want }) => {
    expect(builderArgs(build, 'r.test/x:1')).toEqual(want);
  });
});

describe('desiredBuildJob', () => {
  const trainer = image('trainer', { build: { dockerfile, timeoutSeconds: 900, pushSecretRef: { name: 'my-push' }, podMetadata: { annotations: { a: 'b' } } } }, 3);
  const job = desiredBuildJob(trainer, 'r.test/team-a/trainer:3', testOptions);
  const pod = job.spec!.template.spec!;
  const container = pod.containers[0]!;

  it('is one Job per generation, owned by the Image, never retried, bounded by the timeout', () => {
    expect(job.metadata?.name).toBe('trainer-build-3');
    expect(job.metadata?.labels).toMatchObject({ 'octopus.openi.pcl.cn/asset-kind': 'Image', 'octopus.openi.pcl.cn/generation': '3' });
    expect(job.metadata?.ownerReferences).toEqual([{ apiVersion: 'octopus.openi.pcl.cn/v1alpha1', kind: 'Image', name: 'trainer', uid: 'uid-trainer', controller: true, blockOwnerDeletion: true }]);
    expect(job.spec?.backoffLimit).toBe(0);
    expect(job.spec?.activeDeadlineSeconds).toBe(900);
    expect(job.spec?.template.metadata?.annotations).toEqual({ a: 'b', 'octopus.openi.pcl.cn/owner': 'team-a/trainer' });
  });

  it('mounts the Dockerfile and the push secret as Kaniko expects them, in a restricted pod', () => {
    expect(container.image).toBe('registry.test/builder:1');
    expect(pod.volumes).toEqual([
      { name: 'dockerfile', configMap: { name: 'trainer-build-3' } },
      { name: 'push-secret', secret: { secretName: 'my-push', items: [{ key: '.dockerconfigjson', path: 'config.json' }] } },
    ]);
    expect(container.volumeMounts).toEqual([
      { name: 'dockerfile', mountPath: '/workspace', readOnly: true },
      { name: 'push-secret', mountPath: '/kaniko/.docker', readOnly: true },
    ]);
    expect(pod.securityContext?.runAsNonRoot).toBe(true);
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true });
    expect(container.terminationMessagePolicy).toBe('FallbackToLogsOnError');
  });

  it("uses the controller's push secret by default, none when there is none, and git credentials from the context's Secret", () => {
    const git = image('app', { build: { context: { git: { url: 'https://git.test/app.git', secretRef: { name: 'git-creds' } } } } });
    const withDefault = desiredBuildJob(git, 'r.test/x:1', testOptions).spec!.template.spec!;
    expect(withDefault.volumes).toEqual([{ name: 'push-secret', secret: { secretName: 'push-secret', items: [{ key: '.dockerconfigjson', path: 'config.json' }] } }]);
    expect(withDefault.containers[0]!.env).toEqual([
      { name: 'GIT_USERNAME', valueFrom: { secretKeyRef: { name: 'git-creds', key: 'username', optional: true } } },
      { name: 'GIT_PASSWORD', valueFrom: { secretKeyRef: { name: 'git-creds', key: 'password', optional: true } } },
    ]);
    expect(desiredBuildJob(git, 'r.test/x:1', { ...testOptions, buildPushSecret: '' }).spec!.template.spec!.volumes).toEqual([]);
  });

  it('keeps the inline Dockerfile in a ConfigMap of the same generation', () => {
    const cm = desiredDockerfileConfigMap(trainer, dockerfile);
    expect(cm.metadata?.name).toBe('trainer-build-3');
    expect(cm.data).toEqual({ Dockerfile: dockerfile });
  });
});
