/**
 * A Notebook's lifecycle as a pure decision: from the notebook (its spec and last status), its
 * references and its pod, the status it should have and what to do to the pod.
 *
 * Pending → (admission writes status.admission) → pod created → Running when JupyterLab is ready.
 * Stopping — spec.suspend, autoStopSeconds, idle culling — deletes the pod and drops
 * status.admission, which releases the quota; /userhome stays. A notebook suspended by the user
 * starts again when spec.suspend is false; one the platform stopped (AutoStopped, Idle) or whose
 * pod failed stays so until its spec changes (e.g. suspend set to true and back to false), so it
 * never restarts on its own behind the user's back.
 */
import type { Notebook } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { NotebookConditions as C, NotebookReasons } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { findCondition, rfc3339, setCondition, type Condition } from '../runtime/index.js';
import { notebookPodName, type ObservedNotebookPod } from './pod.js';

export const NotebookLifecycleReasons = {
  ...NotebookReasons,
  Pending: 'Pending',
  Resumed: 'Resumed',
  Restarted: 'Restarted',
  PodStarting: 'PodStarting',
  PodNotReady: 'PodNotReady',
} as const;
const R = NotebookLifecycleReasons;

export type NotebookStatus = NonNullable<Notebook['status']>;

export interface NotebookEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  note: string;
}

export interface NotebookDecision {
  status: NotebookStatus;
  /** Create the pod (and its home claim) from status.admission. */
  createPod: boolean;
  deletePod: boolean;
  events: NotebookEvent[];
  /** When the next time limit (autoStopSeconds, idleTimeoutSeconds) falls due. */
  requeueAfterMs?: number;
}

export interface NotebookObservation {
  refs: { ok: true } | { ok: false; reason: string; message: string };
  /** The pod named `<notebook>-0`, if any. */
  pod?: ObservedNotebookPod;
  url: string;
}

/**
 * Failed: no pod, no reservation, until the spec changes (the Ready condition keeps the generation
 * it failed at). Also for what only the controller learns when it acts, e.g. a pod the apiserver refuses.
 */
export function markFailed(d: NotebookDecision, nb: Notebook, reason: string, message: string, now: number): void {
  const set = (type: string, why: string) => {
    d.status.conditions = setCondition(d.status.conditions as Condition[] | undefined, { type, status: 'False', reason, message: why }, nb.metadata.generation, now);
  };
  d.status.phase = 'Failed';
  delete d.status.admission;
  set(C.Ready, message);
  set(C.Admitted, 'failed: reservation released');
  d.events.push({ type: 'Warning', reason: 'Failed', note: message });
  d.createPod = false;
  d.deletePod = true;
}

function ms(time: string | undefined): number | undefined {
  const t = time === undefined ? NaN : Date.parse(time);
  return Number.isNaN(t) ? undefined : t;
}

export function decideNotebook(nb: Notebook, o: NotebookObservation, now: number): NotebookDecision {
  const gen = nb.metadata.generation;
  const status: NotebookStatus = { ...structuredClone(nb.status ?? {}), observedGeneration: gen ?? 0, url: o.url };
  const events: NotebookEvent[] = [];
  const cond = (type: string, s: Condition['status'], reason: string, message: string) => {
    status.conditions = setCondition(status.conditions as Condition[] | undefined, { type, status: s, reason, message }, gen, now);
  };
  const pod = o.pod;
  const live = pod && !pod.terminating ? pod : undefined;
  const result = (extra: Partial<Omit<NotebookDecision, 'status' | 'events'>> = {}): NotebookDecision => ({ status, createPod: false, deletePod: false, events, ...extra });
  if (live?.lastActivity !== undefined && ms(live.lastActivity) !== undefined) status.lastActivityTime = live.lastActivity;
  if (o.refs.ok) cond(C.ReferencesResolved, 'True', R.Resolved, 'every reference resolved');
  else cond(C.ReferencesResolved, 'False', o.refs.reason, o.refs.message);

  const stop = (reason: string, message: string): NotebookDecision => {
    status.phase = 'Stopped';
    delete status.admission;
    cond(C.Stopped, 'True', reason, message);
    cond(C.Ready, 'False', reason, message);
    cond(C.Admitted, 'False', reason, 'stopped: reservation released');
    events.push({ type: 'Normal', reason, note: `stopped: ${message}` });
    return result({ deletePod: live !== undefined });
  };
  /** Back to Pending: the admission controller queues it. */
  const pend = (reason: string, note: string) => {
    status.phase = 'Pending';
    delete status.startTime;
    cond(C.Admitted, 'False', R.Pending, 'waiting for admission');
    cond(C.Ready, 'False', R.Pending, 'waiting for admission');
    events.push({ type: 'Normal', reason, note });
  };

  if (nb.spec.suspend) return status.phase === 'Stopped' ? result({ deletePod: live !== undefined }) : stop(R.Suspended, 'spec.suspend is true');
  if (status.phase === undefined) {
    pend(R.Pending, 'waiting for admission');
  } else if (status.phase === 'Stopped') {
    // The Stopped condition keeps the generation it was set at while the notebook stays stopped.
    const stopped = findCondition(status.conditions as Condition[] | undefined, C.Stopped);
    if (stopped?.reason !== R.Suspended && (stopped?.observedGeneration ?? 0) >= (gen ?? 0)) return result({ deletePod: live !== undefined });
    cond(C.Stopped, 'False', R.Resumed, 'spec.suspend is false');
    pend(R.Resumed, 'starting again: waiting for admission');
  } else if (status.phase === 'Failed') {
    const failed = findCondition(status.conditions as Condition[] | undefined, C.Ready);
    if ((failed?.observedGeneration ?? 0) >= (gen ?? 0)) return result({ deletePod: live !== undefined });
    pend(R.Restarted, 'the spec changed: starting again, waiting for admission');
  }

  if (!status.admission) {
    // Waiting: the admission controller (quota, capacity, device policy) says why in Admitted.
    if (status.phase === 'Running') delete status.startTime;
    status.phase = 'Pending';
    if (o.refs.ok) cond(C.Ready, 'False', R.Pending, 'waiting for admission');
    else cond(C.Ready, 'False', o.refs.reason, o.refs.message);
    return result({ deletePod: live !== undefined });
  }
  if (!o.refs.ok && !live) {
    // Admitted, then a reference broke: nothing to start from. The reservation goes back until it resolves.
    status.phase = 'Pending';
    delete status.admission;
    cond(C.Admitted, 'False', o.refs.reason, o.refs.message);
    cond(C.Ready, 'False', o.refs.reason, o.refs.message);
    return result();
  }
  const podName = notebookPodName(nb.metadata.name!);
  if (!pod) {
    if (status.phase === 'Running') delete status.startTime;
    status.phase = 'Pending';
    cond(C.Ready, 'False', R.PodStarting, `creating pod ${podName}`);
    return result({ createPod: true });
  }
  if (!live) {
    cond(C.Ready, 'False', R.PodStarting, `waiting for an earlier pod ${podName} to go away`);
    return result();
  }
  if (live.phase === 'Failed' || live.phase === 'Succeeded') {
    const decision = result();
    markFailed(decision, nb, R.PodFailed, `pod ${podName} ${live.phase === 'Failed' ? 'failed' : 'exited'}${live.message ? `: ${live.message}` : ''}`, now);
    return decision;
  }
  if (live.phase === 'Running' && live.ready) {
    if (status.phase !== 'Running') {
      status.phase = 'Running';
      status.startTime = rfc3339(now);
      events.push({ type: 'Normal', reason: 'Started', note: `JupyterLab is running on node ${live.node ?? '?'} since ${status.startTime}` });
    }
    cond(C.Ready, 'True', R.PodRunning, `JupyterLab is running on node ${live.node ?? '?'}`);
  } else if (status.phase === 'Running') {
    cond(C.Ready, 'False', R.PodNotReady, `pod ${podName} is not ready`);
  } else {
    cond(C.Ready, 'False', R.PodStarting, `pod ${podName} is ${live.phase}`);
  }
  if (status.phase !== 'Running') return result();

  // Time limits run while it runs.
  const due: number[] = [];
  const auto = nb.spec.autoStopSeconds;
  const started = ms(status.startTime);
  if (auto !== undefined && started !== undefined) {
    if (started + auto * 1000 <= now) return stop(R.AutoStopped, `ran for ${auto}s (autoStopSeconds)`);
    due.push(started + auto * 1000 - now);
  }
  // Idle culling needs the pod's own report: without one, nothing says the user is away.
  const idle = nb.spec.idleTimeoutSeconds;
  const last = ms(live.lastActivity);
  if (idle !== undefined && last !== undefined) {
    if (last + idle * 1000 <= now) return stop(R.Idle, `no activity since ${live.lastActivity} (idleTimeoutSeconds ${idle}s)`);
    due.push(last + idle * 1000 - now);
  }
  return result(due.length ? { requeueAfterMs: Math.min(...due) } : {});
}
