/**
 * Jobs, Notebooks and ModelServices seen as admission sees them: what reserves quota now. The
 * reservation lives in each workload's status (written by the admission controller), so quota use
 * is always recomputed from the workloads — nothing else to keep in sync. Pods Octopus runs for a
 * workspace outside admission (imports, image builds) carry the charged-to label and count with
 * their requests while they run.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { Job, ModelService, Notebook } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { formatResources, parseResources, scaleResources } from '../../apis/quantity.js';
import { isTerminal, podRequests } from '../cluster/nodes.js';

export type WorkloadKind = 'Job' | 'Notebook' | 'ModelService';

/** On pods Octopus starts for a workspace outside admission (imports, builds): the namespace whose Quota they count against. */
export const chargedToLabel = 'octopus.openi.pcl.cn/charged-to';

/** Label on a notebook's pod naming its Notebook (the Job's pods carry octopus.openi.pcl.cn/job). */
export const notebookLabel = 'octopus.openi.pcl.cn/notebook';
/** Label on a ModelService's Deployment, pods, Service and Ingress; it selects the serving pods. */
export const modelServiceLabel = 'octopus.openi.pcl.cn/modelservice';

export const reservingJobPhases = ['Admitted', 'Running', 'Restarting'] as const;

export function jobHoldsReservation(job: Job): boolean {
  return job.status?.admission !== undefined && (reservingJobPhases as readonly string[]).includes(job.status.phase ?? '');
}

/** A notebook reserves from admission until it stops or fails (its controller then drops the admission). */
export function notebookHoldsReservation(nb: Notebook): boolean {
  return nb.status?.admission !== undefined && nb.status.phase !== 'Stopped' && nb.status.phase !== 'Failed';
}

/** The pod-set name of a ModelService's serving pods in admission (one role). */
export const servingTask = 'server';

/** Serving pods a ModelService wants now: none while suspended. */
export function servingReplicas(ms: ModelService): number {
  return ms.spec.suspend ? 0 : (ms.spec.replicas ?? 1);
}

/** What `replicas` serving pods of these per-pod requests reserve, as status.admission.total records it. */
export function servingTotal(resources: Record<string, string | number>, replicas: number): Record<string, string> {
  return formatResources(scaleResources(parseResources(resources), replicas));
}

/** A model service reserves while its admission names replicas; scaling to zero or suspending drops it. */
export function modelServiceHoldsReservation(ms: ModelService): boolean {
  return (ms.status?.admission?.replicas ?? 0) > 0;
}

/**
 * The namespace a pod that has not finished is charged to: its charged-to label, believed only on a pod
 * in that namespace itself or in the platform's builds namespace — a label anyone who may create pods
 * could write must not bill another workspace.
 */
export function chargedNamespace(pod: V1Pod, buildNamespace: string): string | undefined {
  const to = pod.metadata?.labels?.[chargedToLabel];
  if (to === undefined || isTerminal(pod) || pod.metadata?.deletionTimestamp) return undefined;
  return pod.metadata?.namespace === to || pod.metadata?.namespace === buildNamespace ? to : undefined;
}

export interface Reservation {
  kind: WorkloadKind | 'Pod';
  namespace: string;
  name: string;
  pool: string;
  total: ReadonlyMap<string, bigint>;
  /** Cost rate in milli-units per hour. */
  costPerHour: bigint;
}

/** What each holder of quota in a namespace is; any may be empty. */
export interface Holders {
  jobs: readonly Job[];
  notebooks: readonly Notebook[];
  modelServices: readonly ModelService[];
  /** Pods labelled as charged to the namespace (chargedToLabel); see chargedNamespace for which count. */
  chargedPods: readonly V1Pod[];
  buildNamespace: string;
}

function price(p: string | undefined, count: number): bigint {
  return p ? parseResources({ p }).get('p')! * BigInt(count) : 0n;
}

export function reservations({ jobs, notebooks, modelServices, chargedPods, buildNamespace }: Holders): Reservation[] {
  const out: Reservation[] = [];
  for (const j of jobs) {
    if (!jobHoldsReservation(j)) continue;
    const a = j.status!.admission!;
    out.push({
      kind: 'Job',
      namespace: j.metadata.namespace!,
      name: j.metadata.name!,
      pool: a.pool,
      total: parseResources(a.total),
      costPerHour: a.podSets.reduce((sum, ps) => sum + price(ps.pricePerHour, ps.count), 0n),
    });
  }
  for (const nb of notebooks) {
    if (!notebookHoldsReservation(nb)) continue;
    const a = nb.status!.admission!;
    out.push({ kind: 'Notebook', namespace: nb.metadata.namespace!, name: nb.metadata.name!, pool: a.pool, total: parseResources(a.resources), costPerHour: price(a.pricePerHour, 1) });
  }
  for (const ms of modelServices) {
    if (!modelServiceHoldsReservation(ms)) continue;
    const a = ms.status!.admission!;
    out.push({ kind: 'ModelService', namespace: ms.metadata.namespace!, name: ms.metadata.name!, pool: a.pool, total: parseResources(a.total), costPerHour: price(a.pricePerHour, a.replicas) });
  }
  for (const pod of chargedPods) {
    const namespace = chargedNamespace(pod, buildNamespace);
    // Not admitted into a pool: counted against the namespace's overall limits only.
    if (namespace !== undefined) out.push({ kind: 'Pod', namespace, name: pod.metadata!.name!, pool: '', total: podRequests(pod), costPerHour: 0n });
  }
  return out;
}

export interface WaitingWorkload {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  pool: string;
  /** Its place in its pool's queue, as the admission controller last wrote it. */
  position?: number;
  /** Why it waits (the Admitted condition's message). */
  message?: string;
  createdAt: string;
}

function waitingAs(kind: WorkloadKind, obj: Job | Notebook | ModelService, pool: string): WaitingWorkload {
  const admitted = (obj.status?.conditions as { type: string; message?: string }[] | undefined)?.find((c) => c.type === 'Admitted');
  return {
    kind,
    namespace: obj.metadata.namespace!,
    name: obj.metadata.name!,
    pool,
    ...(obj.status?.position !== undefined ? { position: obj.status.position } : {}),
    ...(admitted?.message ? { message: admitted.message } : {}),
    createdAt: String(obj.metadata.creationTimestamp ?? ''),
  };
}

/** Workloads waiting for admission: queued jobs, notebooks that may run but hold nothing, model services short of their replicas. */
export function waitingWorkloads({ jobs, notebooks, modelServices }: Pick<Holders, 'jobs' | 'notebooks' | 'modelServices'>): WaitingWorkload[] {
  return [
    ...jobs.filter((j) => j.status?.phase === 'Queued' && !j.spec.suspend).map((j) => waitingAs('Job', j, j.spec.pool)),
    ...notebooks.filter((n) => !n.spec.suspend && !n.status?.admission && n.status?.phase === 'Pending').map((n) => waitingAs('Notebook', n, n.spec.pool)),
    ...modelServices.filter((ms) => (ms.status?.admission?.replicas ?? 0) < servingReplicas(ms)).map((ms) => waitingAs('ModelService', ms, ms.status?.admission?.pool ?? ms.spec.pool)),
  ];
}

/** The waiting workload considered first: the lowest position, then the oldest. */
export function headOfLine(waiting: readonly WaitingWorkload[]): WaitingWorkload | undefined {
  return [...waiting].sort((a, b) => (a.position ?? Infinity) - (b.position ?? Infinity) || a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name))[0];
}
