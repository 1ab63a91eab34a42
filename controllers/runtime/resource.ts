import type { KubernetesObject } from '@kubernetes/client-node';

/** Names one REST resource of the apiserver; `group` is '' for the core group. */
export interface ResourceRef {
  readonly group: string;
  readonly version: string;
  /** The URL segment, e.g. `configmaps`. */
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

/** `v1` for the core group, `group/version` otherwise. */
export function apiVersionOf(resource: ResourceRef): string {
  return resource.group === '' ? resource.version : `${resource.group}/${resource.version}`;
}

/** A short stable name for logs, metric labels and cache keys, e.g. `configmaps.v1` or `leases.v1.coordination.k8s.io`. */
export function resourceId(resource: ResourceRef): string {
  return [resource.plural, resource.version, resource.group].filter((part) => part !== '').join('.');
}

export interface PathOptions {
  /** Omitted for a namespaced resource: the path spans every namespace (list and watch only). */
  readonly namespace?: string;
  readonly name?: string;
  readonly subresource?: string;
}

/** The URL path of a collection, an object, or an object's subresource. */
export function resourcePath(resource: ResourceRef, options: PathOptions = {}): string {
  const parts = [resource.group === '' ? '/api' : `/apis/${resource.group}`, resource.version];
  if (resource.namespaced && options.namespace) parts.push('namespaces', encodeURIComponent(options.namespace));
  parts.push(resource.plural);
  if (options.name !== undefined) parts.push(encodeURIComponent(options.name));
  if (options.subresource !== undefined) parts.push(options.subresource);
  return parts.join('/');
}

/** The cache and work-queue key of an object: `namespace/name`, or `name` when cluster-scoped. */
export function objectKey(obj: KubernetesObject): string {
  const name = obj.metadata?.name ?? '';
  const namespace = obj.metadata?.namespace;
  return namespace ? `${namespace}/${name}` : name;
}

/** The inverse of `objectKey`. */
export function splitObjectKey(key: string): { namespace: string | undefined; name: string } {
  const slash = key.indexOf('/');
  return slash < 0 ? { namespace: undefined, name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** The API group of an `apiVersion` string ('' for the core group). */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}
