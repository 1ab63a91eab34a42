/**
 * Visibility: a workload may use an asset of another namespace only when that asset is Public. An asset
 * that does not exist (yet) is not denied — GitOps applies in any order, and the controller reports a
 * reference it cannot resolve — so only a reference to an existing Private asset is refused.
 */
import type { Job, ModelService, Notebook } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { FieldError } from '../admission.js';
import type { Check } from './check.js';
import type { AssetKind } from './lookups.js';

export interface Reference {
  /** The field holding the reference, e.g. `spec.datasets[1]`. */
  path: string;
  kind: AssetKind;
  name: string;
  /** Absent: the referring object's namespace. */
  namespace?: string;
}

export type ReferringWorkload = Job | Notebook | ModelService;

interface Named {
  name?: string;
  namespace?: string;
}

/** Every asset `obj` names; `kind` is the request's. */
export function references(kind: string, obj: ReferringWorkload): Reference[] {
  const refs: Reference[] = [];
  const add = (path: string, refKind: AssetKind, ref: Named | undefined) => {
    // An image given as a registry reference names no Image object.
    if (ref?.name === undefined) return;
    refs.push(ref.namespace === undefined ? { path, kind: refKind, name: ref.name } : { path, kind: refKind, name: ref.name, namespace: ref.namespace });
  };
  add('spec.image', 'Image', obj.spec.image);
  if (kind === 'ModelService') {
    add('spec.model', 'Model', (obj as ModelService).spec.model);
    return refs;
  }
  const spec = (obj as Job | Notebook).spec;
  add('spec.algorithm', 'Algorithm', spec.algorithm);
  (spec.datasets ?? []).forEach((d, i) => add(`spec.datasets[${i}]`, 'Dataset', d));
  add('spec.pretrainedModel', 'Model', spec.pretrainedModel);
  return refs;
}

export const validateVisibility: Check<ReferringWorkload> = (ctx, lookups) => {
  const errors: FieldError[] = [];
  for (const ref of references(ctx.kind.kind, ctx.object)) {
    if (ref.namespace === undefined || ref.namespace === ctx.namespace) continue;
    const visibility = lookups.visibility(ref.kind, ref.namespace, ref.name);
    if (visibility !== undefined && visibility !== 'Public') {
      errors.push({ path: ref.path, message: `${ref.kind} ${ref.namespace}/${ref.name} is ${visibility}: only Public assets can be used from another namespace` });
    }
  }
  return { errors };
};
