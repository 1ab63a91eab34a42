import type { KubernetesObject } from '@kubernetes/client-node';
import { isAlreadyExists, type ObjectClient } from '../runtime/index.js';

/**
 * Creates `desired` by server-side apply and returns the object as stored. Names are
 * deterministic, so an object that already exists is the one wanted: applying the same intent to
 * it changes nothing, and AlreadyExists (two creators racing) is success.
 */
export async function createChild<T extends KubernetesObject>(client: ObjectClient, desired: T): Promise<T> {
  try {
    return await client.applyObject(desired);
  } catch (err) {
    if (isAlreadyExists(err)) return desired;
    throw err;
  }
}
