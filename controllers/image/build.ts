/**
 * An Image build as pure functions: where it may push, why it may not run, and the Job (with the
 * ConfigMap of an inline Dockerfile) that runs it in the platform's builds namespace.
 *
 * A build runs in the builds namespace (--build-namespace), never in the workspace's: building
 * needs root, which the workspace's restricted Pod Security forbids, and pushing needs the
 * platform's registry credential, which no workspace may hold. The pod runs in two steps so the
 * user's Dockerfile never runs beside that credential:
 *
 * - `build` (init container, --builder-image, Kaniko's flags): runs the Dockerfile as root with
 *   the default capabilities, no service-account token and no credential at all, and writes the
 *   image as a tarball to an emptyDir (`--no-push --tar-path`);
 * - `push` (--pusher-image, crane's flags): starts only after `build` has exited, so no process of
 *   the Dockerfile is left; it alone mounts the push secret, pushes the tarball to the destination
 *   the controller chose, and writes the pushed reference (`…@sha256:…`) to /dev/termination-log.
 *
 * The destination is always under `<registry>/<namespace>/`; the pod carries the workspace's
 * labels (octopus.openi.pcl.cn/workspace, .../charged-to) so its requests count against the
 * workspace's Quota while it runs.
 */
import { createHash } from 'node:crypto';
import type { V1ConfigMap, V1Job, V1Namespace, V1ObjectMeta, V1ResourceRequirements, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { workspaceLabel, type Image } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { assetAnnotations, assetLabels, maxJobNameLength } from '../assets/names.js';
import { childLabels } from '../assets/owned.js';
import type { ControllerOptions } from '../options.js';

export type BuildOptions = Pick<ControllerOptions, 'builderImage' | 'pusherImage' | 'buildRegistry' | 'buildPushSecret' | 'buildNamespace' | 'buildCpu' | 'buildMemory'>;
export type ImageBuild = NonNullable<Image['spec']['build']>;

/** Where an inline Dockerfile is mounted in the build container; also the build context when there is no git context. */
const dockerfileDir = '/workspace';
/** The emptyDir the build writes the image to and the push reads it from. */
const imageDir = '/image';
const imageTar = `${imageDir}/image.tar`;
/** Where the push container finds registry credentials (DOCKER_CONFIG). */
const pushConfigDir = '/push';
/** The schema's default build time limit, for objects that bypassed defaulting. */
const defaultTimeoutSeconds = 3600;

/**
 * The builds namespace, as the chart and the local platform create it. Pod Security enforces
 * `privileged`, so an admin may swap in a builder that needs more; audit and warn stay at
 * `baseline`, which the pods Octopus creates (root, default capabilities) meet, so anything beyond
 * shows. No workspace member is bound to any role here.
 */
export function buildsNamespace(name: string): V1Namespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name,
      labels: {
        'app.kubernetes.io/part-of': 'octopus',
        'pod-security.kubernetes.io/enforce': 'privileged',
        'pod-security.kubernetes.io/audit': 'baseline',
        'pod-security.kubernetes.io/warn': 'baseline',
      },
    },
  };
}

/**
 * The build Job's name (and its ConfigMap's): readable namespace and name, then the generation
 * and a hash of namespace, name, UID and generation. Builds of every workspace share one
 * namespace, so the hash keeps `a-b`/`c` and `a`/`b-c`, and an Image recreated under the same
 * name, apart; the whole stays within a Job name's 63 characters.
 */
export function buildJobName(image: Image): string {
  const { namespace, name, uid } = image.metadata as { namespace: string; name: string; uid: string };
  const generation = String(image.metadata.generation ?? 0);
  const hash = createHash('sha256').update(`${namespace}/${name}/${uid}/${generation}`).digest('hex').slice(0, 10);
  const suffix = `-${generation}-${hash}`;
  // A name must start and end alphanumeric; the cut may land on a separator.
  const readable = `${namespace}-${name}`.slice(0, maxJobNameLength - suffix.length).replace(/[-.]+$/, '');
  return `${readable}${suffix}`;
}

/** The repository prefix a workspace's builds push under: `<registry>/<namespace>/`. */
export function workspacePrefix(registry: string, namespace: string): string {
  return `${registry.replace(/\/+$/, '')}/${namespace}/`;
}

/** The reference a build pushes to: the spec's, else `<registry>/<namespace>/<name>:<generation>`; undefined when no registry is configured (builds are off). */
export function buildDestination(image: Image, registry: string): string | undefined {
  if (!registry) return undefined;
  return image.spec.build?.destination ?? `${workspacePrefix(registry, image.metadata.namespace!)}${image.metadata.name}:${image.metadata.generation ?? 0}`;
}

export interface BuildRefusal {
  field: string;
  message: string;
}

/**
 * The Secrets of its workspace a build names, refused: pushes use the platform's credential, and
 * a private git context's Secret would have to be copied into the builds namespace.
 */
function secretRefusals(build: ImageBuild): BuildRefusal[] {
  const out: BuildRefusal[] = [];
  if (build.pushSecretRef) {
    out.push({ field: 'spec.build.pushSecretRef', message: "builds push with the platform's credential; a workspace's push Secret is never used: remove the field" });
  }
  if (build.context?.git.secretRef) {
    out.push({ field: 'spec.build.context.git.secretRef', message: "private git contexts are not supported: builds never receive a workspace's Secrets; use a public repository or an inline Dockerfile" });
  }
  return out;
}

/**
 * Why a build cannot run as its spec says, field by field; empty when it can. Each refusal keeps
 * the builds namespace free of anything a workspace owns: pushes go only under the workspace's
 * prefix with the platform's credential, and no workspace Secret is ever read or copied. The
 * webhook refuses these at apply time; the controller again, for objects that bypassed it.
 */
export function buildRefusals(build: ImageBuild | undefined, namespace: string, registry: string): BuildRefusal[] {
  if (!build) return [];
  const prefix = workspacePrefix(registry, namespace);
  const destination = build.destination;
  // Without a registry there is no prefix to judge: builds are off (NoRegistry) in the controller.
  const outside = registry !== '' && destination !== undefined && (!destination.startsWith(prefix) || destination.length === prefix.length);
  return [
    ...(outside ? [{ field: 'spec.build.destination', message: `${destination} is outside this workspace's repositories: builds push only under ${prefix}` }] : []),
    ...secretRefusals(build),
  ];
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

/** The build step's arguments: build into a tarball tagged with `destination`, never push. */
export function builderArgs(build: ImageBuild, destination: string): string[] {
  const git = build.context?.git;
  const dockerfile = build.dockerfile !== undefined ? `${dockerfileDir}/Dockerfile` : (build.dockerfilePath ?? 'Dockerfile');
  const context = git ? [`--context=${gitContext(git)}`, ...(git.subPath ? [`--context-sub-path=${git.subPath}`] : [])] : [`--context=dir://${dockerfileDir}`];
  // Sorted, so the same spec always yields the same Job.
  const buildArgs = Object.entries(build.buildArgs ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => `--build-arg=${name}=${value}`);
  return [`--dockerfile=${dockerfile}`, ...context, `--destination=${destination}`, ...buildArgs, '--no-push', `--tar-path=${imageTar}`];
}

/** The push step's arguments: the tarball to `destination`, the pushed reference as the termination message. */
export function pusherArgs(destination: string): string[] {
  return ['push', imageTar, destination, '--image-refs=/dev/termination-log'];
}

/**
 * Keys of the user's podMetadata a build pod never takes: the namespace is privileged, so
 * Kubernetes' own annotations (AppArmor, seccomp) could loosen the pod, and Octopus' labels say
 * whom the pod is charged to. The simulation keys of the local plane (sim.octopus…) pass.
 */
function reservedKey(key: string): boolean {
  const prefix = key.includes('/') ? key.slice(0, key.indexOf('/')) : '';
  return /(^|\.)(kubernetes\.io|k8s\.io)$/.test(prefix) || prefix === 'octopus.openi.pcl.cn';
}

function userKeys(entries: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(entries ?? {}).filter(([key]) => !reservedKey(key)));
}

/** Labels of every object of a build: the workspace it builds for, the Image (by UID) and generation. */
export function buildLabels(image: Image): Record<string, string> {
  const namespace = image.metadata.namespace!;
  return {
    ...childLabels('Image'),
    [assetLabels.generation]: String(image.metadata.generation ?? 0),
    [assetLabels.ownerUid]: image.metadata.uid!,
    [workspaceLabel]: namespace,
    [assetLabels.chargedTo]: namespace,
  };
}

/**
 * Metadata of a build object: an owner reference cannot cross namespaces, so the labels name the
 * Image's UID and the owner annotation its `namespace/name`; the controller deletes what no
 * current Image build claims.
 */
function buildMetadata(image: Image, options: BuildOptions): V1ObjectMeta {
  return {
    name: buildJobName(image),
    namespace: options.buildNamespace,
    labels: buildLabels(image),
    annotations: { [assetAnnotations.owner]: `${image.metadata.namespace}/${image.metadata.name}` },
  };
}

export function desiredDockerfileConfigMap(image: Image, dockerfile: string, options: BuildOptions): V1ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: buildMetadata(image, options), data: { Dockerfile: dockerfile } };
}

/** The batch/v1 Job building `image`'s current generation in the builds namespace and pushing it to `destination`. */
export function desiredBuildJob(image: Image, destination: string, options: BuildOptions): V1Job {
  const build = image.spec.build!;
  const metadata = buildMetadata(image, options);
  const quantities = { cpu: options.buildCpu, memory: options.buildMemory };
  // Requests equal limits in both steps: the pod's requests are exactly the options (the larger of
  // the init container's and the sum of the others'), and it is never BestEffort.
  const resources: V1ResourceRequirements = { requests: quantities, limits: quantities };
  const volumes: V1Volume[] = [{ name: 'image', emptyDir: {} }];
  const buildMounts: V1VolumeMount[] = [{ name: 'image', mountPath: imageDir }];
  const pushMounts: V1VolumeMount[] = [{ name: 'image', mountPath: imageDir, readOnly: true }];
  if (build.dockerfile !== undefined) {
    volumes.push({ name: 'dockerfile', configMap: { name: metadata.name! } });
    buildMounts.push({ name: 'dockerfile', mountPath: dockerfileDir, readOnly: true });
  }
  const pushSecret = options.buildPushSecret;
  if (pushSecret) {
    volumes.push({ name: 'push-secret', secret: { secretName: pushSecret, items: [{ key: '.dockerconfigjson', path: 'config.json' }] } });
    pushMounts.push({ name: 'push-secret', mountPath: pushConfigDir, readOnly: true });
  }
  const podMetadata = build.podMetadata;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata,
    spec: {
      // A failed push or build is a fact about this spec; a new generation builds again.
      backoffLimit: 0,
      activeDeadlineSeconds: build.timeoutSeconds ?? defaultTimeoutSeconds,
      template: {
        metadata: {
          labels: { ...userKeys(podMetadata?.labels), ...metadata.labels },
          annotations: { ...userKeys(podMetadata?.annotations), ...metadata.annotations },
        },
        spec: {
          restartPolicy: 'Never',
          // Nothing in the pod may talk to the API as anyone.
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
          initContainers: [
            {
              name: 'build',
              image: options.builderImage,
              args: builderArgs(build, destination),
              volumeMounts: buildMounts,
              resources,
              // Root with the runtime's default capabilities is what Kaniko needs to unpack and run
              // the Dockerfile; nothing privileged, and no way to gain more.
              securityContext: { runAsUser: 0, runAsGroup: 0, runAsNonRoot: false, allowPrivilegeEscalation: false },
              terminationMessagePolicy: 'FallbackToLogsOnError',
            },
          ],
          containers: [
            {
              name: 'push',
              image: options.pusherImage,
              args: pusherArgs(destination),
              ...(pushSecret && { env: [{ name: 'DOCKER_CONFIG', value: pushConfigDir }] }),
              volumeMounts: pushMounts,
              resources,
              // Root only to read the tarball the build wrote as root; no capabilities.
              securityContext: { runAsUser: 0, runAsGroup: 0, runAsNonRoot: false, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              terminationMessagePolicy: 'FallbackToLogsOnError',
            },
          ],
          volumes,
        },
      },
    },
  };
}
