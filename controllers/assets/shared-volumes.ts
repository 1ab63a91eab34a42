/**
 * Deletes the volumes of shared pairs (share.ts) once their claim is gone: garbage collection
 * removes the consumer claim with the last workload that mounted it, which leaves its Retain
 * volume Released. Deleting the object never touches the data: the source asset still owns it.
 */
import type { V1PersistentVolume } from '@kubernetes/client-node';
import type { ControllerSetup } from '../context.js';
import { core } from '../resources.js';
import { sharedLabel } from './share.js';

export const setupSharedVolumeController: ControllerSetup = ({ manager }) => {
  const volumes = manager.informer<V1PersistentVolume>(core.PersistentVolume, { labelSelector: `${sharedLabel}=true` });
  manager
    .addController({
      name: 'shared-volume',
      concurrency: 1,
      reconcile: async (key) => {
        const volume = volumes.get(key);
        if (volume?.status?.phase !== 'Released' || volume.metadata?.deletionTimestamp) return;
        await manager.client.deleteIgnoreNotFound(volume);
      },
    })
    .watches(volumes);
};
