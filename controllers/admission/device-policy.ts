/**
 * DevicePolicy evaluation, shared by the webhook (deny at the door) and the admission loop
 * (a policy tightened after a job was created keeps it queued with the reason). Every rule
 * of every policy naming a device applies; a device no rule names is unrestricted.
 */
import type { DevicePolicy } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { display, scaleResources, type Resources } from '../../apis/quantity.js';
import type { PodSet } from './gang.js';

export interface DeviceViolation {
  /** Field the violation is about, relative to the workload: `spec.pool`, `spec.tasks[1]`, `spec.tasks`. */
  path: string;
  message: string;
}

export interface DeviceRequest {
  namespace: string;
  pool: string;
  /** Each pod set with the path of its source in the workload's spec. */
  podSets: (PodSet & { path: string })[];
}

type Rule = DevicePolicy['spec']['rules'][number];

function rulesFor(policies: readonly DevicePolicy[], resource: string): { policy: string; rule: Rule }[] {
  return policies.flatMap((p) => p.spec.rules.filter((r) => r.resource === resource).map((rule) => ({ policy: p.metadata.name!, rule })));
}

function devicesUsed(podSets: DeviceRequest['podSets']): Set<string> {
  const out = new Set<string>();
  for (const ps of podSets) for (const [k, v] of ps.requests) if (v > 0n) out.add(k);
  return out;
}

export function deviceViolations(policies: readonly DevicePolicy[], req: DeviceRequest): DeviceViolation[] {
  const violations: DeviceViolation[] = [];
  for (const resource of devicesUsed(req.podSets)) {
    for (const { policy, rule } of rulesFor(policies, resource)) {
      const by = `DevicePolicy ${policy}`;
      const denied = rule.deniedWorkspaces?.includes(req.namespace) ?? false;
      const allowed = rule.allowedWorkspaces === undefined || rule.allowedWorkspaces.length === 0 || rule.allowedWorkspaces.includes(req.namespace);
      if (denied || !allowed) {
        violations.push({ path: 'spec', message: `workspace ${req.namespace} may not use ${resource} (${by})` });
        continue;
      }
      if (rule.pools && rule.pools.length > 0 && !rule.pools.includes(req.pool)) {
        violations.push({ path: 'spec.pool', message: `${resource} may only be used in pool ${rule.pools.join(', ')}, not ${req.pool} (${by})` });
      }
      if (rule.maxPerPod !== undefined) {
        const max = BigInt(rule.maxPerPod) * 1000n;
        for (const ps of req.podSets) {
          const perPod = ps.requests.get(resource) ?? 0n;
          if (perPod > max) {
            violations.push({
              path: ps.path,
              message: `requests ${display(resource, perPod)} ${resource} per pod, more than the ${rule.maxPerPod} per pod that ${by} allows`,
            });
          }
        }
      }
      if (rule.maxPerJob !== undefined) {
        const total = req.podSets.reduce((sum, ps) => sum + (scaleResources(ps.requests, ps.count).get(resource) ?? 0n), 0n);
        if (total > BigInt(rule.maxPerJob) * 1000n) {
          violations.push({
            path: 'spec',
            message: `requests ${display(resource, total)} ${resource} in total, more than the ${rule.maxPerJob} per job that ${by} allows`,
          });
        }
      }
    }
  }
  return violations;
}

/** Node labels the policies add to pods that use a device, merged in policy-name order. */
export function deviceNodeSelector(policies: readonly DevicePolicy[], requests: Resources): Record<string, string> {
  const selector: Record<string, string> = {};
  const sorted = [...policies].sort((a, b) => a.metadata.name!.localeCompare(b.metadata.name!));
  for (const [resource, v] of requests) {
    if (v <= 0n) continue;
    for (const { rule } of rulesFor(sorted, resource)) Object.assign(selector, rule.nodeLabels ?? {});
  }
  return selector;
}
