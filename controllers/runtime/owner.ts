import type { KubernetesObject, V1OwnerReference } from '@kubernetes/client-node';

/** The reference that makes `owner` the controller of a child: garbage collection deletes the child with it. */
export function controllerReference(owner: KubernetesObject): V1OwnerReference {
  const { apiVersion, kind } = owner;
  const name = owner.metadata?.name;
  const uid = owner.metadata?.uid;
  if (!apiVersion || !kind || !name || !uid) {
    throw new Error(`an owner needs apiVersion, kind, metadata.name and metadata.uid (got ${kind ?? '?'} ${name ?? '?'}); use an object read from the apiserver`);
  }
  // blockOwnerDeletion: foreground deletion of the owner waits for its children.
  return { apiVersion, kind, name, uid, controller: true, blockOwnerDeletion: true };
}

/** The owner reference marked `controller: true`, if any. */
export function controllerOf(obj: KubernetesObject): V1OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((ref) => ref.controller === true);
}

/** True when `owner` (matched by uid) is the controller of `obj`. */
export function isControlledBy(obj: KubernetesObject, owner: KubernetesObject): boolean {
  const uid = owner.metadata?.uid;
  return uid !== undefined && controllerOf(obj)?.uid === uid;
}

/**
 * `obj` with `owner` as its controller, as a new object. An object has at most one controller, and
 * garbage collection only follows references within a namespace (or from a cluster-scoped owner),
 * so both are checked here rather than left to surprise later.
 */
export function setControllerReference<T extends KubernetesObject>(owner: KubernetesObject, obj: T): T {
  const ownerNamespace = owner.metadata?.namespace;
  const objNamespace = obj.metadata?.namespace;
  if (ownerNamespace && ownerNamespace !== objNamespace) {
    const where = objNamespace ? `namespace ${objNamespace}` : 'a cluster-scoped object';
    throw new Error(`${owner.kind} ${ownerNamespace}/${owner.metadata?.name} cannot own ${where}: owners must be cluster-scoped or in the same namespace`);
  }
  const ref = controllerReference(owner);
  const existing = controllerOf(obj);
  if (existing && existing.uid !== ref.uid) {
    throw new Error(`${obj.kind ?? 'object'} ${obj.metadata?.name} is already controlled by ${existing.kind} ${existing.name}`);
  }
  const others = (obj.metadata?.ownerReferences ?? []).filter((r) => r.uid !== ref.uid);
  return { ...obj, metadata: { ...obj.metadata, ownerReferences: [...others, ref] } };
}
