import { PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { isNotFound } from './errors.js';
import { apiVersionOf, resourcePath, type ResourceRef } from './resource.js';
import type { Requester } from './rest.js';
import { RestMapper } from './rest-mapper.js';
import { semanticEqual } from './semantic-equal.js';

/** The field manager of every server-side apply the controllers make. */
export const defaultFieldManager = 'octopus-controller';

export interface ObjectClientOptions {
  readonly rest: Requester;
  /** @default a RestMapper over `rest` */
  readonly mapper?: RestMapper;
  /** @default 'octopus-controller' */
  readonly fieldManager?: string;
}

export interface DeleteOptions {
  /** @default the resource's own default (Background for most) */
  readonly propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
}

/** An object with a status of type `S`. */
export type WithStatus<S> = KubernetesObject & { status?: S };

/**
 * Writes objects of any kind, core or custom. Objects are plain JSON as the apiserver sends it;
 * writes to an object address it by its `apiVersion`, `kind`, `metadata.namespace` and `metadata.name`.
 */
export class ObjectClient {
  private readonly rest: Requester;
  private readonly mapper: RestMapper;
  private readonly fieldManager: string;

  constructor(options: ObjectClientOptions) {
    this.rest = options.rest;
    this.mapper = options.mapper ?? new RestMapper(options.rest);
    this.fieldManager = options.fieldManager ?? defaultFieldManager;
  }

  /** The REST resource of an object, from its apiVersion and kind. */
  async resourceFor(obj: KubernetesObject): Promise<ResourceRef> {
    if (!obj.apiVersion || !obj.kind) throw new Error(`object ${obj.metadata?.name ?? '?'} has no apiVersion or kind`);
    return this.mapper.resourceFor(obj.apiVersion, obj.kind);
  }

  async get<T extends KubernetesObject>(resource: ResourceRef, name: string, namespace?: string): Promise<T> {
    return this.rest.request<T>({ method: 'GET', path: resourcePath(resource, { namespace, name }) });
  }

  /**
   * Server-side apply, forcing ownership of the fields `obj` sets: `obj` is the whole intent of the
   * controller for this object, and fields it no longer sets are removed. Applying the same intent
   * again changes nothing (same resourceVersion), so a steady cluster costs no writes.
   */
  async applyObject<T extends KubernetesObject>(obj: T): Promise<T> {
    const { path, name } = await this.objectPath(obj);
    // The apiserver refuses an apply that carries managedFields.
    const { managedFields: _managedFields, ...metadata } = obj.metadata ?? {};
    try {
      return await this.rest.request<T>({
        method: 'PATCH',
        path,
        query: { fieldManager: this.fieldManager, force: true },
        contentType: PatchStrategy.ServerSideApply,
        body: { ...obj, metadata },
      });
    } catch (err) {
      throw new Error(`apply ${obj.kind} ${name}`, { cause: err });
    }
  }

  /** Patches the object `obj` names; a JSON merge patch unless another strategy is given. */
  async patch<T extends KubernetesObject>(obj: KubernetesObject, patch: unknown, strategy: PatchStrategy = PatchStrategy.MergePatch): Promise<T> {
    const { path, name } = await this.objectPath(obj);
    try {
      return await this.rest.request<T>({ method: 'PATCH', path, contentType: strategy, body: patch });
    } catch (err) {
      throw new Error(`patch ${obj.kind} ${name}`, { cause: err });
    }
  }

  /**
   * Writes `status` through the `/status` subresource, only when it differs from `obj.status`
   * (compared as JSON, ignoring key order). The write replaces the whole status and carries
   * `obj`'s resourceVersion, so a stale `obj` fails with a conflict instead of overwriting newer
   * state. Returns the written object, or `obj` itself when nothing changed.
   */
  async updateStatusIfChanged<T extends WithStatus<unknown>>(resource: ResourceRef, obj: T, status: NonNullable<T['status']>): Promise<{ changed: boolean; object: T }> {
    if (semanticEqual(obj.status, status)) return { changed: false, object: obj };
    const name = obj.metadata?.name ?? '';
    const namespace = obj.metadata?.namespace;
    try {
      const object = await this.rest.request<T>({
        method: 'PUT',
        path: resourcePath(resource, { namespace, name, subresource: 'status' }),
        body: { ...obj, apiVersion: apiVersionOf(resource), kind: resource.kind, status },
      });
      return { changed: true, object };
    } catch (err) {
      throw new Error(`update status of ${resource.kind} ${name}`, { cause: err });
    }
  }

  /** Deletes the object `obj` names; true if it was deleted now, false if it was already gone. */
  async deleteIgnoreNotFound(obj: KubernetesObject, options: DeleteOptions = {}): Promise<boolean> {
    const { path, name } = await this.objectPath(obj);
    try {
      await this.rest.request({ method: 'DELETE', path, body: { kind: 'DeleteOptions', apiVersion: 'v1', ...options } });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw new Error(`delete ${obj.kind} ${name}`, { cause: err });
    }
  }

  private async objectPath(obj: KubernetesObject): Promise<{ path: string; name: string }> {
    const name = obj.metadata?.name;
    if (!name) throw new Error(`a ${obj.kind ?? 'object'} without metadata.name cannot be addressed`);
    const resource = await this.resourceFor(obj);
    return { path: resourcePath(resource, { namespace: obj.metadata?.namespace, name }), name };
  }
}
