/**
 * A ModelService's reservation (status.admission) was made for its pool and per-pod requests; its serving
 * pods are built from it. Changing those while the service holds replicas would leave a reservation that
 * no longer matches the spec, so it waits until the service gives it up (suspended or scaled to zero).
 * Replicas stay free to change: a scale-up is admitted again, a scale-down releases at once.
 */
import type { ModelService } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { semanticEqual } from '../../controllers/runtime/semantic-equal.js';
import type { Check } from './check.js';

export const serviceFrozenWhileAdmitted = ['pool', 'resourceSpec', 'resources', 'priorityClassName'] as const;

export const validateAdmittedService: Check<ModelService> = (ctx) => {
  if (ctx.operation !== 'UPDATE') return { errors: [] };
  const held = ctx.oldObject.status?.admission;
  if (held === undefined || held.replicas === 0) return { errors: [] };
  const why = `may not change while the service holds ${held.replicas} admitted replicas in pool ${held.pool}: suspend it (spec.suspend: true) or scale it to 0, change it, then start it again`;
  const { spec: old } = ctx.oldObject;
  const { spec: now } = ctx.object;
  return { errors: serviceFrozenWhileAdmitted.filter((field) => !semanticEqual(now[field], old[field])).map((field) => ({ path: `spec.${field}`, message: why })) };
};
