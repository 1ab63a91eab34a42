import { rfc3339 } from './time.js';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: ConditionStatus;
  observedGeneration?: number;
  /** RFC 3339; moves only when `status` changes. */
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface ConditionUpdate {
  readonly type: string;
  readonly status: ConditionStatus;
  /** CamelCase, e.g. `PodsReady`. */
  readonly reason: string;
  /** @default '' */
  readonly message?: string;
}

/**
 * The conditions with `update` applied, as a new array (the input is left as it was, so callers
 * can compare old and new status). Reason, message and observedGeneration always take the new
 * values; `lastTransitionTime` moves to `now` only when the status flips or the condition is new.
 * Setting the same condition twice yields an equal array, so a steady object causes no write.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  update: ConditionUpdate,
  observedGeneration: number | undefined,
  now: number | Date,
): Condition[] {
  const current = findCondition(conditions, update.type);
  const transitioned = current === undefined || current.status !== update.status;
  const next: Condition = {
    type: update.type,
    status: update.status,
    ...(observedGeneration !== undefined && { observedGeneration }),
    lastTransitionTime: transitioned ? rfc3339(typeof now === 'number' ? now : now.getTime()) : current.lastTransitionTime,
    reason: update.reason,
    message: update.message ?? '',
  };
  const list = conditions ?? [];
  return current === undefined ? [...list, next] : list.map((c) => (c.type === update.type ? next : c));
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

/** The conditions without `type`, as a new array. */
export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}
