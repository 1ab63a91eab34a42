/** Quota controller: reservations held now, queued jobs, consumption and budget. */
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { podIndexes, schedulingCaches } from '../cluster/caches.js';
import type { ControllerSetup } from '../context.js';
import { octopus } from '../resources.js';
import { objectKey } from '../runtime/index.js';
import { chargedToLabel } from '../admission/workloads.js';
import { onlyAccountingMoved, quotaStatus } from './status.js';

/** While reservations run, consumption is brought up to date this often (and on every change). */
const accountingIntervalMs = 300_000;
/** Bursts of job changes fold into one write per quota at most this often. */
const minWriteIntervalMs = 2_000;

export const setupQuotaController: ControllerSetup = ({ manager, options }) => {
  const { quotas, jobs, notebooks, modelServices, pods } = schedulingCaches(manager);
  const inNamespace = (obj: KubernetesObject) => quotas.list(obj.metadata!.namespace).map(objectKey);
  const lastWrite = new Map<string, number>();
  manager
    .addController({
      name: 'quota',
      concurrency: options.workers,
      reconcile: async (key) => {
        const quota = quotas.get(key);
        if (!quota) {
          lastWrite.delete(key);
          return;
        }
        const now = manager.clock.now();
        const since = now - (lastWrite.get(key) ?? 0);
        if (since < minWriteIntervalMs) return { requeueAfterMs: minWriteIntervalMs - since };
        const ns = quota.metadata.namespace!;
        const holders = { jobs: jobs.list(ns), notebooks: notebooks.list(ns), modelServices: modelServices.list(ns), chargedPods: pods.byIndex(podIndexes.chargedTo, ns), buildNamespace: options.buildNamespace };
        const status = quotaStatus(quota, holders, now);
        const accountingDue = now - Date.parse(quota.status?.accountedAt ?? '1970-01-01T00:00:00Z') >= accountingIntervalMs;
        const reserving = Object.keys(status.used ?? {}).length > 0;
        // A steady quota costs no writes: time passing alone is written only every accounting
        // interval, and never while nothing is reserved (nothing accrues).
        if (onlyAccountingMoved(quota.status, status) && (!accountingDue || !reserving)) {
          return reserving ? { requeueAfterMs: accountingIntervalMs } : undefined;
        }
        const { changed } = await manager.client.updateStatusIfChanged(octopus.Quota, quota, status);
        if (changed) lastWrite.set(key, now);
        return reserving ? { requeueAfterMs: accountingIntervalMs } : undefined;
      },
    })
    .watches(quotas)
    .watches(jobs, inNamespace)
    .watches(notebooks, inNamespace)
    .watches(modelServices, inNamespace)
    .watches(pods, (pod: V1Pod) => {
      const chargedTo = pod.metadata?.labels?.[chargedToLabel];
      return chargedTo ? quotas.list(chargedTo).map(objectKey) : [];
    });
};
