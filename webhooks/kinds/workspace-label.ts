/**
 * Every namespaced Octopus object carries `octopus.openi.pcl.cn/workspace: <namespace>`, so one label
 * selector finds a workspace's objects across kinds (`kubectl get octopus -A -l …`). A schema default
 * cannot set a label (metadata is the apiserver's), hence a mutation. The mutation only adds a missing
 * label, never rewrites one; a label naming another workspace is refused instead, since it would mislead.
 */
import { workspaceLabel } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { jsonPointer, type AdmissionContext, type JsonPatchOp } from '../admission.js';
import type { Check } from './check.js';

interface WithLabels {
  metadata?: { labels?: Record<string, string> };
}

export const validateWorkspaceLabel: Check<WithLabels> = (ctx) => {
  const value = ctx.object.metadata?.labels?.[workspaceLabel];
  if (value === undefined || ctx.namespace === undefined || value === ctx.namespace) return { errors: [] };
  return {
    errors: [
      {
        path: `metadata.labels[${workspaceLabel}]`,
        message: `Invalid value: ${JSON.stringify(value)}: must be the object's namespace, ${ctx.namespace} (or be left out: it is added on admission)`,
      },
    ],
  };
};

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The patch adding the label. Mutation runs before the schema is checked, so `metadata` may be anything:
 * what is not an object is left for validation to refuse.
 */
export function addWorkspaceLabel(ctx: AdmissionContext): JsonPatchOp[] {
  if (ctx.operation === 'DELETE' || ctx.namespace === undefined || !isPlainObject(ctx.object)) return [];
  const metadata = ctx.object.metadata;
  // An object on its way out only loses finalizers; leave it alone.
  if (!isPlainObject(metadata) || metadata.deletionTimestamp !== undefined) return [];
  const labels = metadata.labels;
  if (labels === undefined || labels === null) return [{ op: 'add', path: jsonPointer(['metadata', 'labels']), value: { [workspaceLabel]: ctx.namespace } }];
  if (!isPlainObject(labels) || labels[workspaceLabel] !== undefined) return [];
  return [{ op: 'add', path: jsonPointer(['metadata', 'labels', workspaceLabel]), value: ctx.namespace }];
}
