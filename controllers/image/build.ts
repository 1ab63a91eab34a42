/**
 * An Image build as pure functions: where it pushes, the Kaniko-style executor's arguments, the
 * Job running it and the ConfigMap carrying an inline Dockerfile.
 *
 * The builder contract (any image given as --builder-image): Kaniko's flags; it writes the pushed
 * image's digest to /dev/termination-log (`--digest-file`), as `sha256:…` or `{"digest":"sha256:…"}`;
 * on failure the termination message (or its last log lines) says why.
 */
import type { V1ConfigMap, V1EnvVar, V1Job, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { Image } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { assetLabels, childName, maxJobNameLength } from '../assets/names.js';
import { childLabels, ownedMetadata } from '../assets/owned.js';
import { runOnceJob } from '../assets/run-once-job.js';
import type { ControllerOptions } from '../options.js';

export type BuildOptions = Pick<ControllerOptions, 'builderImage' | 'buildRegistry' | 'buildPushSecret' | 'runAsUser'>;
export type ImageBuild = NonNullable<Image['spec']['build']>;

/** Where an inline Dockerfile is mounted in the build pod; also the build context when there is no git context. */
const dockerfileDir = '/workspace';
/** Where Kaniko looks for registry credentials. */
const dockerConfigDir = '/kaniko/.docker';
/** The schema's default build time limit, for objects that bypassed defaulting. */
const defaultTimeoutSeconds = 3600;

export function buildJobName(image: string, generation: number): string {
  return childName([image, 'build', String(generation)], maxJobNameLength);
}

/** The ConfigMap of an inline Dockerfile, one per generation like the Job. */
export function dockerfileConfigMapName(image: string, generation: number): string {
  return childName([image, 'build', String(generation)]);
}

/** The reference a build pushes to: the spec's, else `<registry>/<namespace>/<name>:<generation>`; undefined when neither is configured. */
export function buildDestination(image: Image, registry: string): string | undefined {
  const build = image.spec.build;
  if (build?.destination) return build.destination;
  if (!registry) return undefined;
  return `${registry.replace(/\/+$/, '')}/${image.metadata.namespace}/${image.metadata.name}:${image.metadata.generation ?? 0}`;
}

/**
 * Kaniko's git context, `git://host/repo#ref`: a branch name becomes `refs/heads/<name>`, a full
 * ref (`refs/tags/v1`) or a commit hash is passed as written.
 */
export function gitContext(git: NonNullable<ImageBuild['context']>['git']): string {
  const repo = git.url.replace(/^(https?|ssh):\/\//, '').replace(/^git@([^:]+):/, '$1/');
  const revision = git.revision;
  if (!revision) return `git://${repo}`;
  const ref = revision.startsWith('refs/') || /^[0-9a-f]{40}$/.test(revision) ? revision : `refs/heads/${revision}`;
  return `git://${repo}#${ref}`;
}

export function builderArgs(build: ImageBuild, destination: string): string[] {
  const git = build.context?.git;
  const dockerfile = build.dockerfile !== undefined ? `${dockerfileDir}/Dockerfile` : (build.dockerfilePath ?? 'Dockerfile');
  const context = git ? [`--context=${gitContext(git)}`, ...(git.subPath ? [`--context-sub-path=${git.subPath}`] : [])] : [`--context=dir://${dockerfileDir}`];
  // Sorted, so the same spec always yields the same Job.
  const buildArgs = Object.entries(build.buildArgs ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => `--build-arg=${name}=${value}`);
  return [`--dockerfile=${dockerfile}`, ...context, `--destination=${destination}`, ...buildArgs, '--digest-file=/dev/termination-log'];
}

function gitCredentials(build: ImageBuild): V1EnvVar[] {
  const secret = build.context?.git.secretRef?.name;
  if (!secret) return [];
  return (['username', 'password'] as const).map((key) => ({
    name: `GIT_${key.toUpperCase()}`,
    valueFrom: { secretKeyRef: { name: secret, key, optional: true } },
  }));
}

export function desiredDockerfileConfigMap(image: Image, dockerfile: string): V1ConfigMap {
  const generation = image.metadata.generation ?? 0;
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: ownedMetadata(image, dockerfileConfigMapName(image.metadata.name!, generation), buildLabels(generation)),
    data: { Dockerfile: dockerfile },
  };
}

function buildLabels(generation: number): Record<string, string> {
  return { ...childLabels('Image'), [assetLabels.generation]: String(generation) };
}

/** The batch/v1 Job building `image`'s current generation and pushing it to `destination`. */
export function desiredBuildJob(image: Image, destination: string, options: BuildOptions): V1Job {
  const build = image.spec.build!;
  const name = image.metadata.name!;
  const generation = image.metadata.generation ?? 0;
  const labels = buildLabels(generation);
  const pushSecret = build.pushSecretRef?.name ?? options.buildPushSecret;
  const volumes: V1Volume[] = [];
  const mounts: V1VolumeMount[] = [];
  if (build.dockerfile !== undefined) {
    volumes.push({ name: 'dockerfile', configMap: { name: dockerfileConfigMapName(name, generation) } });
    mounts.push({ name: 'dockerfile', mountPath: dockerfileDir, readOnly: true });
  }
  if (pushSecret) {
    volumes.push({ name: 'push-secret', secret: { secretName: pushSecret, items: [{ key: '.dockerconfigjson', path: 'config.json' }] } });
    mounts.push({ name: 'push-secret', mountPath: dockerConfigDir, readOnly: true });
  }
  const env = gitCredentials(build);
  return runOnceJob({
    owner: image,
    name: buildJobName(name, generation),
    labels,
    ...(build.podMetadata && { podMetadata: build.podMetadata }),
    // A failed push or build is a fact about this spec; a new generation builds again.
    backoffLimit: 0,
    activeDeadlineSeconds: build.timeoutSeconds ?? defaultTimeoutSeconds,
    runAsUser: options.runAsUser,
    container: { name: 'build', image: options.builderImage, args: builderArgs(build, destination), ...(env.length > 0 && { env }), volumeMounts: mounts },
    volumes,
  });
}
