/**
 * The benchmarks' one view of a system under test: list+watch of the API server, from outside
 * the system (never its own metrics). Per job, keyed by UID and kept after the job is deleted:
 * when the watch first saw it, its creationTimestamp, when it was admitted, when its first pod
 * appeared, when every pod of the gang was bound to a node, when every one was running, and
 * when the job finished. Every time is this process's clock, in milliseconds.
 */
import { CoreV1Api, makeInformer, type KubeConfig, type KubernetesListObject, type KubernetesObject, type V1Pod } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Watched {
  stop(): Promise<void>;
  /** How many times the watch failed and was resumed. */
  resumes(): number;
}

/**
 * Calls `onChange` for every object under `path` as the list and then the watch see it. A watch
 * the server ends is resumed by the informer; one that fails is resumed here, from the last
 * version seen (a fresh list only when that version expired), so no change is lost.
 */
export async function watch<T extends KubernetesObject>(
  kc: KubeConfig,
  path: string,
  list: () => Promise<KubernetesListObject<T>>,
  onChange: (o: T, deleted: boolean) => void,
  labelSelector?: string,
): Promise<Watched> {
  const informer = makeInformer<T>(kc, path, list, labelSelector);
  let stopped = false;
  let resumes = 0;
  informer.on('add', (o) => onChange(o, false));
  informer.on('update', (o) => onChange(o, false));
  informer.on('delete', (o) => onChange(o, true));
  informer.on('error', (err: unknown) => {
    if (stopped) return;
    resumes++;
    console.error(`  watch ${path} failed (${(err as Error).message ?? String(err)}); resuming`);
    void sleep(1000).then(() => (stopped ? undefined : informer.start()));
  });
  await informer.start();
  return {
    stop: async () => {
      stopped = true;
      await informer.stop();
    },
    resumes: () => resumes,
  };
}

export interface PodTimes {
  namespace: string;
  /** The value of the pod's owner label: its job's name, or the pod's own name for a bare pod. */
  owner: string;
  seen: number;
  bound?: number;
  /** Running or already beyond it (a short pod may be first seen Succeeded). */
  running?: number;
}

/** Pods carrying `ownerLabel`, cluster-wide, by UID; a pod is kept after it is deleted. */
export async function watchPods(kc: KubeConfig, ownerLabel: string, onChange: (pod: PodTimes) => void = () => {}) {
  const core = kc.makeApiClient(CoreV1Api);
  const pods = new Map<string, PodTimes>();
  const watched = await watch<V1Pod>(
    kc,
    '/api/v1/pods',
    () => core.listPodForAllNamespaces({ labelSelector: ownerLabel }),
    (pod) => {
      const now = Date.now();
      const uid = pod.metadata!.uid!;
      let t = pods.get(uid);
      if (!t) {
        t = { namespace: pod.metadata!.namespace!, owner: pod.metadata!.labels![ownerLabel]!, seen: now };
        pods.set(uid, t);
      }
      if (t.bound === undefined && pod.spec?.nodeName) t.bound = now;
      if (t.running === undefined && (pod.status?.phase === 'Running' || pod.status?.phase === 'Succeeded')) t.running = now;
      onChange(t);
    },
    ownerLabel,
  );
  return { ...watched, pods: () => [...pods.values()] };
}

export interface JobTimes {
  uid: string;
  namespace: string;
  name: string;
  pods: number;
  seen: number;
  /** metadata.creationTimestamp: the apiserver's clock, whole seconds. */
  created: number;
  admitted?: number;
  firstPod?: number;
  allBound?: number;
  allRunning?: number;
  finished?: number;
}

/** An API path and its list call. */
export interface Source<T extends KubernetesObject> {
  path: string;
  list(): Promise<KubernetesListObject<T>>;
}

/** How to read one system's jobs from the API. */
export interface ObservedSystem<J extends KubernetesObject, A extends KubernetesObject = KubernetesObject> {
  jobs: Source<J>;
  pods(job: J): number;
  finished(job: J): boolean;
  /** The pod label whose value is the name of the pod's job. */
  podJobLabel: string;
  /** Admission as the job itself shows it (Octopus)… */
  admitted?(job: J): boolean;
  /** …or as an object it owns shows it (Kueue's Workload), matched by the owner's UID. */
  admissions?: Source<A> & { admitted(o: A): boolean };
}

/** The k-th smallest of `values` (1-based), when there are that many. */
function kth(values: (number | undefined)[], k: number): number | undefined {
  const known = values.filter((v): v is number => v !== undefined).sort((a, b) => a - b);
  return known.length >= k ? known[k - 1] : undefined;
}

export async function observeJobs<J extends KubernetesObject, A extends KubernetesObject>(kc: KubeConfig, system: ObservedSystem<J, A>) {
  const jobs = new Map<string, JobTimes>();
  const uidByKey = new Map<string, string>();
  const admittedByOwner = new Map<string, number>();
  const podsByKey = new Map<string, PodTimes[]>();
  const key = (namespace: string, name: string) => `${namespace}/${name}`;

  // A job's pod milestones follow from its pods' times, whichever watch reported first.
  const refresh = (k: string) => {
    const job = jobs.get(uidByKey.get(k) ?? '');
    const pods = podsByKey.get(k);
    if (!job || !pods) return;
    job.firstPod ??= Math.min(...pods.map((p) => p.seen));
    job.allBound ??= kth(pods.map((p) => p.bound), job.pods);
    job.allRunning ??= kth(pods.map((p) => p.running), job.pods);
  };

  const podWatch = await watchPods(kc, system.podJobLabel, (pod) => {
    const k = key(pod.namespace, pod.owner);
    const list = podsByKey.get(k) ?? [];
    if (!list.includes(pod)) list.push(pod);
    podsByKey.set(k, list);
    refresh(k);
  });
  const jobWatch = await watch<J>(kc, system.jobs.path, () => system.jobs.list(), (job) => {
    const now = Date.now();
    const uid = job.metadata!.uid!;
    let t = jobs.get(uid);
    if (!t) {
      const { namespace, name, creationTimestamp } = job.metadata!;
      t = { uid, namespace: namespace!, name: name!, pods: system.pods(job), seen: now, created: new Date(creationTimestamp!).getTime() };
      jobs.set(uid, t);
      uidByKey.set(key(t.namespace, t.name), uid);
    }
    if (t.admitted === undefined && system.admitted?.(job)) t.admitted = now;
    if (t.finished === undefined && system.finished(job)) t.finished = now;
    refresh(key(t.namespace, t.name));
  });
  const admissions = system.admissions;
  const admissionWatch =
    admissions &&
    (await watch<A>(kc, admissions.path, () => admissions.list(), (o) => {
      const owner = o.metadata?.ownerReferences?.find((r) => r.controller)?.uid;
      if (owner && !admittedByOwner.has(owner) && admissions.admitted(o)) admittedByOwner.set(owner, Date.now());
    }));
  const watches = [podWatch, jobWatch, ...(admissionWatch ? [admissionWatch] : [])];

  const snapshot = (): JobTimes[] => [...jobs.values()].map((j) => (j.admitted === undefined && admittedByOwner.has(j.uid) ? { ...j, admitted: admittedByOwner.get(j.uid) } : j));
  return {
    /** Every job seen so far, with its times. */
    jobs: snapshot,
    /** Distinct jobs (by UID) that reached each milestone. */
    counts: () => {
      const all = snapshot();
      const count = (f: (j: JobTimes) => number | undefined) => all.filter((j) => f(j) !== undefined).length;
      return { seen: all.length, admitted: count((j) => j.admitted), allRunning: count((j) => j.allRunning), finished: count((j) => j.finished) };
    },
    resumes: () => watches.reduce((sum, w) => sum + w.resumes(), 0),
    stop: async () => {
      for (const w of watches) await w.stop();
    },
  };
}
