/**
 * A Quota lends its cohort what it holds and does not use, so spec.lendingLimit caps a resource of
 * spec.hard: lending one spec.hard does not name is meaningless (the Quota has none of it to lend),
 * and most likely a misspelt resource name whose real limit would then lend everything. The same
 * holds for a Workspace's spec.quota, from which the Workspace makes its Quota. That limits need a
 * cohort at all is the CRD's own CEL rule.
 */
import type { Quota, Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { FieldError } from '../admission.js';
import type { Check } from './check.js';

function lendingErrors(spec: Quota['spec'] | undefined, path: string): FieldError[] {
  const hard = new Set(Object.keys(spec?.hard ?? {}));
  return Object.keys(spec?.lendingLimit ?? {})
    .filter((resource) => !hard.has(resource))
    .map((resource) => ({ path: `${path}.lendingLimit[${resource}]`, message: `${path}.hard does not limit ${resource}: a Quota lends only unused hard limits` }));
}

export const validateLendingLimit: Check<Quota | Workspace> = (ctx) => {
  const errors = ctx.kind.kind === 'Workspace' ? lendingErrors((ctx.object as Workspace).spec.quota, 'spec.quota') : lendingErrors((ctx.object as Quota).spec, 'spec');
  return { errors };
};
