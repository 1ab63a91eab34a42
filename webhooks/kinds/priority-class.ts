/**
 * Priority is the admin's to give: a workload names a WorkloadPriorityClass (spec.priorityClassName)
 * that its Workspace lists in spec.priorityClasses, and only a class with allowNonPreemptible lets a
 * Job opt out of preemption (spec.preemptible: false). The admission controller keeps a workload whose
 * class is missing waiting (PriorityClassNotFound); at the door it is refused, so the user hears at
 * `kubectl apply`. A namespace no Workspace owns is the admin's: any existing class goes there.
 *
 * The Workspace's list is judged before existence: members cannot read cluster-scoped classes, and
 * the list is what they may use whatever else exists — so a refusal never tells them which other
 * classes the cluster has. Like every policy rule this ratchets on UPDATE: narrowing the list or
 * deleting a class does not block edits of workloads already there.
 */
import type { Job, ModelService, Notebook, WorkloadPriorityClass } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { FieldError } from '../admission.js';
import type { Check } from './check.js';
import type { Lookups } from './lookups.js';

type Prioritized = Job | Notebook | ModelService;

/** The class the workload names, or why it may not name it. */
function resolveClass(name: string, namespace: string | undefined, lookups: Lookups): { error: FieldError } | { priorityClass: WorkloadPriorityClass } {
  const allowed = namespace === undefined ? undefined : lookups.workspacePriorityClasses(namespace);
  if (allowed !== undefined && !allowed.includes(name)) {
    const may = allowed.length === 0 ? 'allows no priority class (its spec.priorityClasses lists none)' : `may use only priority classes ${allowed.join(', ')} (its spec.priorityClasses)`;
    return { error: { path: 'spec.priorityClassName', message: `Workspace ${namespace} ${may}, not ${name}` } };
  }
  const priorityClass = lookups.priorityClass(name);
  if (priorityClass === undefined) return { error: { path: 'spec.priorityClassName', message: `WorkloadPriorityClass ${name} does not exist` } };
  return { priorityClass };
}

export const validatePriorityClass: Check<Prioritized> = (ctx, lookups) => {
  const { spec } = ctx.object;
  const name = spec.priorityClassName;
  const resolved = name === undefined ? undefined : resolveClass(name, ctx.namespace, lookups);
  if (resolved !== undefined && 'error' in resolved) return { errors: [resolved.error] };
  // Only a Job has spec.preemptible; the schema defaults it to true.
  if (!('preemptible' in spec) || spec.preemptible !== false) return { errors: [] };
  if (resolved === undefined) {
    return { errors: [{ path: 'spec.preemptible', message: 'a Job without spec.priorityClassName may not set preemptible: false; only a priority class with allowNonPreemptible allows it' }] };
  }
  if (resolved.priorityClass.spec.allowNonPreemptible === true) return { errors: [] };
  return { errors: [{ path: 'spec.preemptible', message: `WorkloadPriorityClass ${name} does not allow preemptible: false (its spec.allowNonPreemptible is not true)` }] };
};

/**
 * Changing a class's value is allowed — an admin may reorder the classes — but it moves every waiting
 * workload of the class at once, while admitted Jobs are judged for preemption by the value recorded
 * at their admission: whoever edits the class should hear both.
 */
export const warnPriorityValueChanged: Check<WorkloadPriorityClass> = (ctx) => {
  if (ctx.operation !== 'UPDATE') return { errors: [] };
  const before = ctx.oldObject.spec.value;
  const now = ctx.object.spec.value;
  if (before === now) return { errors: [] };
  const name = ctx.object.metadata?.name ?? ctx.name;
  return {
    errors: [],
    warnings: [
      `spec.value: ${before} → ${now} takes effect at once for every workload of class ${name} waiting for admission (its place in the queue, whom it may preempt); admitted Jobs keep the value they were admitted with (status.admission.priority) until admitted again`,
    ],
  };
};
