/**
 * Jobs and Notebooks seen as admission sees them: what reserves quota now. The reservation
 * lives in each workload's status (written by the admission controller), so quota use is
 * always recomputed from the workloads — nothing else to keep in sync.
 */
import type { Job, Notebook } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { parseResources, type Resources } from '../../apis/quantity.js';

export type WorkloadKind = 'Job' | 'Notebook';

/** Label on a notebook's pod naming its Notebook (the Job's pods carry octopus.openi.pcl.cn/job). */
export const notebookLabel = 'octopus.openi.pcl.cn/notebook';

export const reservingJobPhases = ['Admitted', 'Running', 'Restarting'] as const;

export function jobHoldsReservation(job: Job): boolean {
  return job.status?.admission !== undefined && (reservingJobPhases as readonly string[]).includes(job.status.phase ?? '');
}

/** A notebook reserves from admission until it stops or fails (its controller then drops the admission). */
export function notebookHoldsReservation(nb: Notebook): boolean {
  return nb.status?.admission !== undefined && nb.status.phase !== 'Stopped' && nb.status.phase !== 'Failed';
}

export interface Reservation {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  pool: string;
  total: Resources;
  /** Cost rate in milli-units per hour. */
  costPerHour: bigint;
}

function price(p: string | undefined, count: number): bigint {
  return p ? parseResources({ p }).get('p')! * BigInt(count) : 0n;
}

export function reservations(jobs: readonly Job[], notebooks: readonly Notebook[]): Reservation[] {
  const out: Reservation[] = [];
  for (const j of jobs) {
    if (!jobHoldsReservation(j)) continue;
    const a = j.status!.admission!;
    out.push({
      kind: 'Job',
      namespace: j.metadata.namespace!,
      name: j.metadata.name!,
      pool: a.pool,
      total: parseResources(a.total),
      costPerHour: a.podSets.reduce((sum, ps) => sum + price(ps.pricePerHour, ps.count), 0n),
    });
  }
  for (const nb of notebooks) {
    if (!notebookHoldsReservation(nb)) continue;
    const a = nb.status!.admission!;
    out.push({ kind: 'Notebook', namespace: nb.metadata.namespace!, name: nb.metadata.name!, pool: a.pool, total: parseResources(a.resources), costPerHour: price(a.pricePerHour, 1) });
  }
  return out;
}

/** Workloads waiting for admission: queued jobs, and notebooks that may run but hold nothing. */
export function waitingCount(jobs: readonly Job[], notebooks: readonly Notebook[]): number {
  return jobs.filter((j) => j.status?.phase === 'Queued').length + notebooks.filter((n) => !n.spec.suspend && !n.status?.admission && n.status?.phase === 'Pending').length;
}
