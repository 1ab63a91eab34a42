/** Quota controller: reservations held now, queued jobs, consumption and budget. */
import type { Job, Notebook } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { schedulingCaches } from '../cluster/caches.js';
import type { ControllerSetup } from '../context.js';
import { octopus } from '../resources.js';
import { objectKey } from '../runtime/index.js';
import { onlyAccountingMoved, quotaStatus } from './status.js';

/** While reservations run, consumption is brought up to date this often (and on every change). */
const accountingIntervalMs = 300_000;
/** Bursts of job changes fold into one write per quota at most this often. */
const minWriteIntervalMs = 2_000;

export const setupQuotaController: ControllerSetup = ({ manager, options }) => {
  const { quotas, jobs, notebooks } = schedulingCaches(manager);
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
        const status = quotaStatus(quota, jobs.list(quota.metadata.namespace), notebooks.list(quota.metadata.namespace), now);
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
    .watches(jobs, (job: Job) => quotas.list(job.metadata.namespace).map(objectKey))
    .watches(notebooks, (nb: Notebook) => quotas.list(nb.metadata.namespace).map(objectKey));
};
