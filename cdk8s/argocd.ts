/**
 * Argo CD health checks (Lua) for every Octopus kind, read off its conditions and phase, as
 * a values snippet for argocd-cm (resource.customizations.health.<group>_<Kind>).
 */
import { stringify } from 'yaml';
import type { KindDefinition } from '../apis/octopus.openi.pcl.cn/v1alpha1/index.js';

/** How each kind's status reads as Healthy / Progressing / Degraded / Suspended. */
const phaseHealth: Record<string, Record<string, string>> = {
  Job: { Succeeded: 'Healthy', Running: 'Healthy', Admitted: 'Progressing', Queued: 'Progressing', Restarting: 'Progressing', Stopped: 'Suspended', Failed: 'Degraded' },
  Notebook: { Running: 'Healthy', Pending: 'Progressing', Stopped: 'Suspended', Failed: 'Degraded' },
  ModelService: { Available: 'Healthy', Preparing: 'Progressing', Stopped: 'Suspended', Failed: 'Degraded' },
  Image: { Ready: 'Healthy', Pending: 'Progressing', Building: 'Progressing', Failed: 'Degraded' },
};

function byPhase(kind: string): string {
  const table = phaseHealth[kind]!;
  const cases = Object.entries(table)
    .map(([phase, health]) => `  if obj.status.phase == "${phase}" then\n    hs.status = "${health}"\n    hs.message = msg\n    return hs\n  end`)
    .join('\n');
  return `local hs = { status = "Progressing", message = "waiting for the controller" }
if obj.status == nil or obj.status.phase == nil then
  return hs
end
local msg = obj.status.phase
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.status == "False" and c.message ~= nil and c.message ~= "" then
      msg = msg .. ": " .. c.message
    end
  end
end
${cases}
return hs
`;
}

/** Kinds without a phase: Healthy when their Ready (or BudgetAvailable) condition is True. */
function byCondition(type: string): string {
  return `local hs = { status = "Progressing", message = "waiting for the controller" }
if obj.status ~= nil and obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "${type}" then
      hs.message = c.message
      if c.status == "True" then
        hs.status = "Healthy"
      else
        hs.status = "Degraded"
      end
    end
  end
end
return hs
`;
}

const conditionOf: Record<string, string> = { Quota: 'BudgetAvailable' };

export function healthCheck(def: KindDefinition): string {
  return def.kind in phaseHealth ? byPhase(def.kind) : byCondition(conditionOf[def.kind] ?? 'Ready');
}

export function argoCdHealthChecks(kinds: readonly KindDefinition[]): string {
  const data = Object.fromEntries(kinds.map((k) => [`resource.customizations.health.${k.group}_${k.kind}`, healthCheck(k)]));
  return (
    '# Merge into argocd-cm (e.g. the argo-cd chart\'s configs.cm) so Argo CD reads Octopus health from conditions.\n' +
    stringify({ configs: { cm: data } }, { lineWidth: 0 })
  );
}
