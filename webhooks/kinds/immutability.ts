/**
 * An admitted Job's gang is frozen: its reservation (status.admission) and its running pods were made
 * from the tasks, image and datasets as they were. Changing them would leave pods that no longer match
 * the spec, so it waits until the job gives up its admission (Stopped, or finished). Published versions
 * of Dataset, Algorithm and Model need nothing here: their CEL transition rules run in the structure tier.
 */
import type { Job, JobPhase } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { semanticEqual } from '../../controllers/runtime/semantic-equal.js';
import type { FieldError } from '../admission.js';
import type { Check } from './check.js';

/** Phases in which a job holds no admission, whatever status.admission still records. */
const unadmitted: ReadonlySet<JobPhase> = new Set<JobPhase>(['Queued', 'Stopped', 'Succeeded', 'Failed']);

export const frozenWhileAdmitted = ['tasks', 'image', 'datasets'] as const;

export function isAdmitted(job: Job): boolean {
  const status = job.status;
  return status?.admission !== undefined && !(status.phase !== undefined && unadmitted.has(status.phase));
}

export const validateAdmittedJob: Check<Job> = (ctx) => {
  if (ctx.operation !== 'UPDATE' || !isAdmitted(ctx.oldObject)) return { errors: [] };
  const phase = ctx.oldObject.status?.phase ?? 'Admitted';
  const errors: FieldError[] = [];
  for (const field of frozenWhileAdmitted) {
    if (!semanticEqual(ctx.object.spec[field], ctx.oldObject.spec[field])) {
      errors.push({
        path: `spec.${field}`,
        message: `may not change while the job is admitted (phase ${phase}): suspend it (spec.suspend: true) and change it once Stopped, or create a new Job`,
      });
    }
  }
  return { errors };
};
