/**
 * What admission decided on is frozen while the reservation stands. A Job's reservation
 * (status.admission) and its running pods were made from its pool, tasks (replicas, resources,
 * ResourceSpecs, shm), priority, image and datasets as they were; a Notebook's from its pool, resources
 * and priority. Changing them would leave a reservation that no longer matches the spec — and, were
 * pods built from the spec, pods in a pool or at a size nobody admitted — so it waits until the workload
 * gives the reservation up (a Job Stopped or finished, a Notebook stopped). The controllers build pods
 * from status.admission all the same; this rule tells the user at once. Published versions of Dataset,
 * Algorithm and Model need nothing here: their CEL transition rules run in the structure tier.
 */
import type { Job, JobPhase, Notebook } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { semanticEqual } from '../../controllers/runtime/semantic-equal.js';
import type { FieldError } from '../admission.js';
import type { Check } from './check.js';

/** Phases in which a job holds no admission, whatever status.admission still records. */
const unadmitted: ReadonlySet<JobPhase> = new Set<JobPhase>(['Queued', 'Stopped', 'Succeeded', 'Failed']);

export const frozenWhileAdmitted = ['pool', 'tasks', 'priorityClassName', 'preemptible', 'shmSize', 'image', 'datasets'] as const;
export const notebookFrozenWhileAdmitted = ['pool', 'resourceSpec', 'resources', 'priorityClassName'] as const;

export function isAdmitted(job: Job): boolean {
  const status = job.status;
  return status?.admission !== undefined && !(status.phase !== undefined && unadmitted.has(status.phase));
}

/** The fields of `frozen` whose values differ between the old and the new spec, each refused with `why`. */
function changed<S extends object>(old: S, now: S, frozen: readonly (keyof S & string)[], why: string): FieldError[] {
  return frozen.filter((field) => !semanticEqual(now[field], old[field])).map((field) => ({ path: `spec.${field}`, message: why }));
}

export const validateAdmittedJob: Check<Job> = (ctx) => {
  if (ctx.operation !== 'UPDATE' || !isAdmitted(ctx.oldObject)) return { errors: [] };
  const phase = ctx.oldObject.status?.phase ?? 'Admitted';
  const why = `may not change while the job is admitted (phase ${phase}): suspend it (spec.suspend: true) and change it once Stopped, or create a new Job`;
  return { errors: changed(ctx.oldObject.spec, ctx.object.spec, frozenWhileAdmitted, why) };
};

export const validateAdmittedNotebook: Check<Notebook> = (ctx) => {
  if (ctx.operation !== 'UPDATE' || ctx.oldObject.status?.admission === undefined) return { errors: [] };
  const why = `may not change while the notebook holds its reservation in pool ${ctx.oldObject.status.admission.pool}: stop it (spec.suspend: true) and change it once Stopped`;
  return { errors: changed(ctx.oldObject.spec, ctx.object.spec, notebookFrozenWhileAdmitted, why) };
};
