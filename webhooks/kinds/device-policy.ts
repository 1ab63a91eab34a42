/**
 * DevicePolicy at the door: a Job or Notebook may not use a device its workspace is not allowed, more of
 * it per pod or per job than the policy's maximum, or use it outside the pools the policy names. The same
 * evaluation keeps a job queued when a policy tightens after it was created.
 */
import { display, isDeviceResource } from '../../apis/quantity.js';
import { deviceViolations } from '../../controllers/admission/device-policy.js';
import type { Check } from './check.js';
import { changedGang, workloadGang, type GangWorkload, type Gangs } from './workload.js';

/** Audit annotation key; the apiserver records it as `<webhook name>/device-policy`. */
export const devicePolicyAnnotation = 'device-policy';

/** The rule, resolving gangs through `gangs` (shared with the quota rule of the same request). */
export function validateDevicePolicy(gangs: Gangs = workloadGang): Check<GangWorkload> {
  return (ctx, lookups) => {
    const gang = changedGang(ctx, lookups, gangs);
    if (gang === undefined) return { errors: [] };
    const devices = [...gang.total].filter(([resource, amount]) => isDeviceResource(resource) && amount > 0n);
    const policies = lookups.devicePolicies();
    const errors = deviceViolations(policies, { namespace: ctx.namespace ?? '', pool: gang.pool, podSets: gang.podSets });
    if (errors.length > 0) return { errors, auditAnnotations: { [devicePolicyAnnotation]: `denied: ${errors.map((e) => e.message).join('; ')}` } };
    // No device requested, nothing a policy granted: no annotation.
    if (devices.length === 0) return { errors: [] };
    const decided = devices.map(([resource, amount]) => {
      const by = policies.filter((p) => p.spec.rules.some((r) => r.resource === resource)).map((p) => `DevicePolicy ${p.metadata.name}`);
      return `${display(resource, amount)} ${resource} in pool ${gang.pool} (${by.length > 0 ? by.join(', ') : 'no DevicePolicy rule'})`;
    });
    return { errors: [], auditAnnotations: { [devicePolicyAnnotation]: `allowed: ${decided.join(', ')}` } };
  };
}
