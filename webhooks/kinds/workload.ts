/**
 * A workload as quota and device policy judge it: its pool and its pod sets, each with the spec path it
 * comes from. A Notebook is a one-pod gang; a ModelService a gang of its replicas (all it may ever hold at
 * once). Pods get the pool's default cpu and memory and its prices, as admission gives them. A task whose ResourceSpec is not in the cache (yet) is left
 * out — GitOps may apply it later — so the gang is a lower bound: whatever it already exceeds, the whole
 * gang exceeds too.
 */
import type { Job, ModelService, Notebook, ResourceSpec } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { Resources } from '../../apis/quantity.js';
import { gangTotal, resolveTask, singleRoleTask, type PodSet, type TaskSpec } from '../../controllers/admission/gang.js';
import { servingTask } from '../../controllers/admission/workloads.js';
import type { WriteContext } from './check.js';
import type { Lookups } from './lookups.js';

export interface WorkloadGang {
  pool: string;
  /** Where the gang's requests are written: `spec.tasks`, or a Notebook's resources or resourceSpec. */
  path: string;
  podSets: (PodSet & { path: string })[];
  total: Resources;
  /** ResourceSpecs named but not cached, or not parseable: their pods are not counted. */
  unresolved: string[];
}

export type GangWorkload = Job | Notebook | ModelService;

/** `kind` is the request's: the object's own kind field is not what routed it here. */
export function workloadGang(kind: string, obj: GangWorkload, lookups: Lookups): WorkloadGang {
  const { tasks, jobShmSize, path } =
    kind === 'Notebook'
      ? singleTask('notebook', 1, obj as Notebook)
      : kind === 'ModelService'
        ? singleTask(servingTask, (obj as ModelService).spec.replicas ?? 1, obj as ModelService)
        : { tasks: (obj as Job).spec.tasks.map((task, i) => ({ task, path: `spec.tasks[${i}]` })), jobShmSize: (obj as Job).spec.shmSize, path: 'spec.tasks' };
  const pool = lookups.pool(obj.spec.pool)?.spec ?? {};
  const specs = new Map<string, ResourceSpec>();
  for (const { task } of tasks) {
    const spec = task.resourceSpec === undefined ? undefined : lookups.resourceSpec(task.resourceSpec);
    if (spec !== undefined) specs.set(task.resourceSpec!, spec);
  }
  const podSets: WorkloadGang['podSets'] = [];
  const unresolved: string[] = [];
  for (const { task, path: taskPath } of tasks) {
    let resolved: ReturnType<typeof resolveTask>;
    try {
      resolved = resolveTask(task, specs, jobShmSize, pool);
    } catch {
      // Only a cached ResourceSpec can hold a quantity that does not parse: the workload's own were checked.
      resolved = { ok: false, missing: task.resourceSpec ?? task.name };
    }
    if (resolved.ok) podSets.push({ ...resolved.podSet, path: taskPath });
    else unresolved.push(resolved.missing);
  }
  return { pool: obj.spec.pool, path, podSets, total: gangTotal({ podSets }), unresolved };
}

function singleTask(name: string, replicas: number, w: Notebook | ModelService): { tasks: { task: TaskSpec; path: string }[]; jobShmSize: undefined; path: string } {
  const task = singleRoleTask(name, replicas, w.spec);
  const path = w.spec.resourceSpec !== undefined ? 'spec.resourceSpec' : 'spec.resources';
  return { tasks: [{ task, path }], jobShmSize: undefined, path };
}

export type Gangs = typeof workloadGang;

/**
 * workloadGang, remembered per object, so the quota and device-policy rules of one request resolve its
 * gang once. Every request brings objects of its own, so nothing remembered outlives it.
 */
export function rememberedGangs(): Gangs {
  const seen = new WeakMap<GangWorkload, WorkloadGang>();
  return (kind, obj, lookups) => {
    let gang = seen.get(obj);
    if (gang === undefined) {
      gang = workloadGang(kind, obj, lookups);
      seen.set(obj, gang);
    }
    return gang;
  };
}

/**
 * The gang of the object under review, or undefined for an UPDATE that leaves pool and pod sets as they
 * were: quota and device policy judge what an update asks for anew, not edits of labels or suspend.
 */
export function changedGang(ctx: WriteContext<GangWorkload>, lookups: Lookups, gangs: Gangs): WorkloadGang | undefined {
  const gang = gangs(ctx.kind.kind, ctx.object, lookups);
  if (ctx.operation === 'CREATE') return gang;
  const old = gangs(ctx.kind.kind, ctx.oldObject, lookups);
  const same =
    gang.pool === old.pool &&
    gang.podSets.length === old.podSets.length &&
    gang.podSets.every((p, i) => {
      const o = old.podSets[i]!;
      return p.task === o.task && p.count === o.count && p.requests.size === o.requests.size && [...p.requests].every(([k, v]) => o.requests.get(k) === v);
    });
  return same ? undefined : gang;
}
