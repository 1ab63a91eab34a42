import type { KubernetesObject } from '@kubernetes/client-node';
import { Informer, type InformerSelector, type SharedInformerOptions } from './informer.js';
import { resourceId, type ResourceRef } from './resource.js';

/**
 * One informer per resource and selector, shared by every controller that asks for it, so a
 * resource is listed and watched once per process however many controllers read it.
 */
export class InformerFactory {
  private readonly options: SharedInformerOptions;
  private readonly informers = new Map<string, Informer<KubernetesObject>>();
  private readonly transforms = new Map<string, ((obj: KubernetesObject) => KubernetesObject) | undefined>();
  private started = false;

  constructor(options: SharedInformerOptions) {
    this.options = options;
  }

  /**
   * The shared informer of `resource` under `selector`; created on first use, and started at once
   * if the factory already runs. `T` is the caller's claim about the objects' shape.
   */
  informer<T extends KubernetesObject>(resource: ResourceRef, selector: InformerSelector = {}, transform?: (obj: KubernetesObject) => KubernetesObject): Informer<T> {
    const key = JSON.stringify([resourceId(resource), selector.namespace ?? '', selector.labelSelector ?? '', selector.fieldSelector ?? '']);
    let informer = this.informers.get(key);
    if (!informer) {
      informer = new Informer<KubernetesObject>({ ...this.options, ...selector, resource, ...(transform ? { transform } : {}) });
      this.informers.set(key, informer);
      this.transforms.set(key, transform);
      if (this.started) informer.start();
    } else if (this.transforms.get(key) !== transform) {
      // Sharers would each see objects slimmed for someone else.
      throw new Error(`informer ${key} is already shared with a different transform`);
    }
    // The cache holds whatever the apiserver sends; T is the caller's claim about it.
    return informer as unknown as Informer<T>;
  }

  start(): void {
    this.started = true;
    for (const informer of this.informers.values()) informer.start();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.informers.values()].map((informer) => informer.stop()));
  }

  /** True when every informer has listed once. */
  hasSynced(): boolean {
    return [...this.informers.values()].every((informer) => informer.hasSynced());
  }
}
