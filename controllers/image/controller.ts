/**
 * The Image controller. A `reference` is recorded as it is (schema-validated, pinned when it names
 * a digest). A `build` runs a Job per generation — any spec change builds again — and the
 * pushed reference, pinned to the digest the builder reports, becomes the one workloads use.
 */
import type { KubernetesObject, V1Job } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { group, type Image } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { enqueueAnnotatedOwner, indexJobChildren, indexNames, jobCaches, namespaced, type JobCaches, type Scope } from '../assets/caches.js';
import { createChild } from '../assets/create.js';
import { assetLabels } from '../assets/names.js';
import { holderOf } from '../assets/owned.js';
import type { ControllerSetup } from '../context.js';
import { octopus } from '../resources.js';
import { enqueueController, type Clock, type EventRecorder, type Informer, type ObjectClient } from '../runtime/index.js';
import { buildDestination, buildJobName, desiredBuildJob, desiredDockerfileConfigMap, dockerfileConfigMapName, type BuildOptions } from './build.js';
import { imageEvent, imageStatus, type BuildState } from './status.js';

export interface ImageReconcilerOptions {
  readonly images: Informer<Image>;
  readonly caches: JobCaches;
  readonly client: ObjectClient;
  readonly events: EventRecorder;
  readonly clock: Clock;
  readonly options: BuildOptions;
}

export class ImageReconciler {
  private readonly o: ImageReconcilerOptions;
  private readonly index = indexNames('Image');

  constructor(options: ImageReconcilerOptions) {
    this.o = options;
  }

  async reconcile(key: string, logger: Logger): Promise<void> {
    const image = this.o.images.get(key);
    if (!image || image.metadata.deletionTimestamp) return; // owner references remove the build Jobs
    const build = image.spec.build ? await this.build(image) : undefined;
    await this.removeStaleBuilds(image);
    const status = imageStatus(image, build, this.o.clock.now());
    const { changed, object } = await this.o.client.updateStatusIfChanged(octopus.Image, image, status);
    if (!changed) return;
    const event = imageEvent(image.status, status);
    if (event) this.o.events.record({ regarding: object, ...event });
    logger.debug({ phase: status.phase }, 'status updated');
  }

  /** Starts the build of the current generation unless it ran or runs; returns what it shows. */
  private async build(image: Image): Promise<BuildState> {
    const { name, namespace } = image.metadata as { name: string; namespace: string };
    const generation = image.metadata.generation ?? 0;
    const destination = buildDestination(image, this.o.options.buildRegistry);
    const jobName = buildJobName(name, generation);
    const cached = this.o.caches.jobs.get(`${namespace}/${jobName}`);
    const taken = holderOf(cached, image);
    if (taken && !taken.earlier) return { destination, jobName, job: undefined, pods: [], conflict: `Job ${jobName} already exists and belongs to ${taken.holder}` };
    // A Job of an earlier Image of this name, still being deleted, is not this build's.
    let job = taken ? undefined : cached;
    const built = image.status?.builtGeneration === generation && image.status.phase === 'Ready';
    if (destination && !cached && !built) {
      const dockerfile = image.spec.build!.dockerfile;
      if (dockerfile !== undefined && !this.o.caches.configMaps.get(`${namespace}/${dockerfileConfigMapName(name, generation)}`)) {
        await createChild(this.o.client, desiredDockerfileConfigMap(image, dockerfile));
      }
      job = await createChild<V1Job>(this.o.client, desiredBuildJob(image, destination, this.o.options));
    }
    return { destination, jobName, job, pods: job ? this.o.caches.pods.byIndex(this.index.podsOfJob, job.metadata!.uid!) : [] };
  }

  /** Deletes build Jobs and Dockerfiles of other generations (all of them once the Image is a plain reference): a superseded build must not push. */
  private async removeStaleBuilds(image: Image): Promise<void> {
    const current = image.spec.build ? String(image.metadata.generation ?? 0) : undefined;
    const uid = image.metadata.uid!;
    const owned: KubernetesObject[] = [...this.o.caches.jobs.byIndex(this.index.owned, uid), ...this.o.caches.configMaps.byIndex(this.index.owned, uid)];
    for (const obj of owned) {
      if (obj.metadata?.labels?.[assetLabels.generation] !== current && !obj.metadata?.deletionTimestamp) {
        await this.o.client.deleteIgnoreNotFound(obj, { propagationPolicy: 'Background' });
      }
    }
  }

}

/** The Image controller over `scope` (all namespaces by default). */
export function imageController(scope: Scope = {}): ControllerSetup {
  return ({ manager, options }) => {
    const images = manager.informer<Image>(octopus.Image, namespaced(scope));
    const caches = jobCaches(manager, scope);
    indexJobChildren(caches, 'Image');
    const reconciler = new ImageReconciler({ images, caches, client: manager.client, events: manager.events, clock: manager.clock, options });
    const owned = enqueueController({ group, kind: 'Image', namespaced: true });
    manager
      .addController({ name: 'image', concurrency: options.workers, reconcile: (key, { logger }) => reconciler.reconcile(key, logger) })
      .watches(images)
      .watches(caches.jobs, owned)
      .watches(caches.configMaps, owned)
      .watches(caches.pods, enqueueAnnotatedOwner('Image'));
  };
}

/** The Image controller over every namespace, as the octopus-controller process runs it. */
export const setupImageController: ControllerSetup = imageController();
