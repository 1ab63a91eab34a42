/**
 * The Image controller. A `reference` is recorded as it is (schema-validated, pinned when it names
 * a digest). A `build` runs a Job per generation — any spec change builds again — in the
 * platform's builds namespace (see build.ts), and the pushed reference, pinned to the digest the
 * push step reports, becomes the one workloads use.
 *
 * Owner references cannot cross namespaces, so build objects carry the Image's `namespace/name`
 * (annotation) and UID (label) instead, and the controller removes every build object no current
 * build of a live Image claims. That needs no finalizer: each build object enqueues its Image, so
 * after a restart the initial list finds the builds of Images deleted meanwhile; and deleting a
 * workspace never waits on the controller.
 */
import type { KubernetesObject, V1Job } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Image } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { indexJobChildren, indexNames, jobCaches, namespaced, type JobCaches, type Scope } from '../assets/caches.js';
import { createChild } from '../assets/create.js';
import { assetAnnotations, assetLabels } from '../assets/names.js';
import type { ControllerSetup } from '../context.js';
import { octopus } from '../resources.js';
import type { Clock, EventRecorder, Informer, MapFunc, ObjectClient } from '../runtime/index.js';
import { buildDestination, buildJobName, buildRefusals, desiredBuildJob, desiredDockerfileConfigMap, type BuildOptions } from './build.js';
import { imageEvent, imageStatus, type BuildState } from './status.js';

export interface ImageReconcilerOptions {
  readonly images: Informer<Image>;
  /** Jobs, pods and ConfigMaps of the builds namespace. */
  readonly caches: JobCaches;
  readonly client: ObjectClient;
  readonly events: EventRecorder;
  readonly clock: Clock;
  readonly options: BuildOptions;
}

/** Build objects by the `namespace/name` of the Image they are for. */
const byImage = 'Image/build-of';

function imageOf(obj: KubernetesObject): string[] {
  const owner = obj.metadata?.annotations?.[assetAnnotations.owner];
  return obj.metadata?.labels?.[assetLabels.kind] === 'Image' && owner ? [owner] : [];
}

export class ImageReconciler {
  private readonly o: ImageReconcilerOptions;
  private readonly index = indexNames('Image');

  constructor(options: ImageReconcilerOptions) {
    this.o = options;
  }

  async reconcile(key: string, logger: Logger): Promise<void> {
    const found = this.o.images.get(key);
    const image = found && !found.metadata.deletionTimestamp ? found : undefined;
    const build = image?.spec.build ? await this.build(image) : undefined;
    await this.removeStaleBuilds(key, image);
    if (!image) return;
    const status = imageStatus(image, build, this.o.clock.now());
    const { changed, object } = await this.o.client.updateStatusIfChanged(octopus.Image, image, status);
    if (!changed) return;
    const event = imageEvent(image.status, status);
    if (event) this.o.events.record({ regarding: object, ...event });
    logger.debug({ phase: status.phase }, 'status updated');
  }

  /** Starts the build of the current generation unless it ran, runs or may not run; returns what it shows. */
  private async build(image: Image): Promise<BuildState> {
    const { buildNamespace, buildRegistry } = this.o.options;
    const generation = image.metadata.generation ?? 0;
    const destination = buildDestination(image, buildRegistry);
    const jobName = buildJobName(image);
    const refusals = buildRefusals(image.spec.build, image.metadata.namespace!, buildRegistry);
    if (refusals.length > 0) return { destination, jobName, job: undefined, pods: [], refused: refusals.map((r) => `${r.field}: ${r.message}`).join('; ') };
    const cached = this.o.caches.jobs.get(`${buildNamespace}/${jobName}`);
    if (cached && cached.metadata?.labels?.[assetLabels.ownerUid] !== image.metadata.uid) {
      return { destination, jobName, job: undefined, pods: [], conflict: `Job ${buildNamespace}/${jobName} already exists and is not this Image's build` };
    }
    let job = cached;
    const built = image.status?.builtGeneration === generation && image.status.phase === 'Ready';
    if (destination && !cached && !built) {
      const dockerfile = image.spec.build!.dockerfile;
      if (dockerfile !== undefined && !this.o.caches.configMaps.get(`${buildNamespace}/${jobName}`)) {
        await createChild(this.o.client, desiredDockerfileConfigMap(image, dockerfile, this.o.options));
      }
      job = await createChild<V1Job>(this.o.client, desiredBuildJob(image, destination, this.o.options));
    }
    return { destination, jobName, job, pods: job ? this.o.caches.pods.byIndex(this.index.podsOfJob, job.metadata!.uid!) : [] };
  }

  /**
   * Deletes the build Jobs and Dockerfiles of `key` that are not its current build: other
   * generations (a superseded build must not push), an earlier Image of the same name, and all of
   * them once the Image is a plain reference or gone.
   */
  private async removeStaleBuilds(key: string, image: Image | undefined): Promise<void> {
    const current = image?.spec.build ? { uid: image.metadata.uid, generation: String(image.metadata.generation ?? 0) } : undefined;
    const objects: KubernetesObject[] = [...this.o.caches.jobs.byIndex(byImage, key), ...this.o.caches.configMaps.byIndex(byImage, key)];
    for (const obj of objects) {
      const labels = obj.metadata?.labels ?? {};
      const stale = labels[assetLabels.ownerUid] !== current?.uid || labels[assetLabels.generation] !== current?.generation;
      if (stale && !obj.metadata?.deletionTimestamp) await this.o.client.deleteIgnoreNotFound(obj, { propagationPolicy: 'Background' });
    }
  }
}

/** The Image of a build object, when it is in scope: a scoped controller leaves other namespaces' builds alone. */
function enqueueImage(scope: Scope): MapFunc<KubernetesObject> {
  return (obj) => imageOf(obj).filter((key) => !scope.namespace || key.startsWith(`${scope.namespace}/`));
}

/** The Image controller over `scope` (all namespaces by default); builds run in the builds namespace either way. */
export function imageController(scope: Scope = {}): ControllerSetup {
  return ({ manager, options }) => {
    const images = manager.informer<Image>(octopus.Image, namespaced(scope));
    const caches = jobCaches(manager, { namespace: options.buildNamespace });
    indexJobChildren(caches, 'Image');
    caches.jobs.addIndex(byImage, imageOf);
    caches.configMaps.addIndex(byImage, imageOf);
    const reconciler = new ImageReconciler({ images, caches, client: manager.client, events: manager.events, clock: manager.clock, options });
    const toImage = enqueueImage(scope);
    manager
      .addController({ name: 'image', concurrency: options.workers, reconcile: (key, { logger }) => reconciler.reconcile(key, logger) })
      .watches(images)
      .watches(caches.jobs, toImage)
      .watches(caches.configMaps, toImage)
      .watches(caches.pods, toImage);
  };
}

/** The Image controller over every namespace, as the octopus-controller process runs it. */
export const setupImageController: ControllerSetup = imageController();
