import type { KubernetesObject } from '@kubernetes/client-node';
import type { ObjectClient } from './client.js';

export function hasFinalizer(obj: KubernetesObject, finalizer: string): boolean {
  return obj.metadata?.finalizers?.includes(finalizer) ?? false;
}

/**
 * Adds `finalizer` to the object, returning the updated object (or `obj` unchanged, without a
 * write, when it is already there). The patch carries `obj`'s resourceVersion: a merge patch
 * replaces the whole finalizers list, so a concurrent edit must fail with a conflict rather than be
 * lost.
 */
export async function addFinalizer<T extends KubernetesObject>(client: ObjectClient, obj: T, finalizer: string): Promise<T> {
  if (hasFinalizer(obj, finalizer)) return obj;
  return writeFinalizers(client, obj, [...(obj.metadata?.finalizers ?? []), finalizer]);
}

/** Removes `finalizer` the same way; once the last finalizer of a deleted object goes, the object goes. */
export async function removeFinalizer<T extends KubernetesObject>(client: ObjectClient, obj: T, finalizer: string): Promise<T> {
  if (!hasFinalizer(obj, finalizer)) return obj;
  return writeFinalizers(client, obj, (obj.metadata?.finalizers ?? []).filter((f) => f !== finalizer));
}

function writeFinalizers<T extends KubernetesObject>(client: ObjectClient, obj: T, finalizers: string[]): Promise<T> {
  const resourceVersion = obj.metadata?.resourceVersion;
  if (!resourceVersion) throw new Error(`${obj.kind} ${obj.metadata?.name}: finalizers are changed on objects read from the apiserver (no resourceVersion)`);
  return client.patch<T>(obj, { metadata: { resourceVersion, finalizers } });
}
