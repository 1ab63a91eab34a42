import { describe, expect, it } from '@jest/globals';
import type { Notebook } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { rfc3339 } from '../runtime/index.js';
import { decideNotebook, markFailed, type NotebookObservation, type NotebookStatus } from './lifecycle.js';
import type { ObservedNotebookPod } from './pod.js';

const now = Date.parse('2026-01-01T12:00:00Z');
const ago = (seconds: number) => rfc3339(now - seconds * 1000);
const url = 'http://dev.team-a.svc/';
const admission = { pool: 'gpu', admittedAt: ago(30), resources: { cpu: '2' } };

function makeNotebook(spec: Partial<Notebook['spec']> = {}, status?: NotebookStatus, generation = 1): Notebook {
  return {
    apiVersion: 'octopus.openi.pcl.cn/v1alpha1',
    kind: 'Notebook',
    metadata: { name: 'dev', namespace: 'team-a', uid: 'uid-1', generation },
    spec: { image: { reference: 'jupyter:1' }, pool: 'gpu', resources: { requests: { cpu: 2 } }, ...spec },
    ...(status ? { status } : {}),
  };
}

const cond = (type: string, status: 'True' | 'False', reason: string, observedGeneration = 1) => ({ type, status, reason, message: '', lastTransitionTime: ago(600), observedGeneration });
const running: NotebookStatus = { phase: 'Running', admission, startTime: ago(300), url, observedGeneration: 1, conditions: [cond('Ready', 'True', 'PodRunning')] };
const pod = (extra: Partial<ObservedNotebookPod> = {}): ObservedNotebookPod => ({ phase: 'Running', ready: true, terminating: false, node: 'n1', ...extra });
const ok: NotebookObservation['refs'] = { ok: true };

function decide(nb: Notebook, observed: Partial<NotebookObservation> = {}) {
  return decideNotebook(nb, { refs: ok, url, ...observed }, now);
}
const condition = (s: NotebookStatus, type: string) => s.conditions?.find((c) => c.type === type);

describe('decideNotebook', () => {
  it('a new notebook waits for admission, ready to be queued', () => {
    const d = decide(makeNotebook());
    expect(d).toMatchObject({ createPod: false, deletePod: false, events: [{ type: 'Normal', reason: 'Pending', note: 'waiting for admission' }] });
    expect(d.status).toMatchObject({ phase: 'Pending', url, observedGeneration: 1 });
    expect(condition(d.status, 'ReferencesResolved')?.status).toBe('True');
    expect(condition(d.status, 'Admitted')).toMatchObject({ status: 'False', reason: 'Pending' });
  });

  it.each([
    { name: 'no admission yet: nothing runs', status: { phase: 'Pending' as const }, observed: {}, wantCreate: false, wantReady: 'Pending' },
    { name: 'references broken: Ready says why', status: { phase: 'Pending' as const }, observed: { refs: { ok: false as const, reason: 'ImageNotFound', message: 'Image team-a/x not found' } }, wantCreate: false, wantReady: 'ImageNotFound' },
    { name: 'admitted, no pod: create it', status: { phase: 'Pending' as const, admission }, observed: {}, wantCreate: true, wantReady: 'PodStarting' },
    { name: 'admitted, pod scheduled: wait for it', status: { phase: 'Pending' as const, admission }, observed: { pod: pod({ phase: 'Pending', ready: false }) }, wantCreate: false, wantReady: 'PodStarting' },
    { name: "admitted, an earlier run's pod still terminating: wait before making the next", status: { phase: 'Pending' as const, admission }, observed: { pod: pod({ terminating: true }) }, wantCreate: false, wantReady: 'PodStarting' },
  ])('Pending: $name', ({ status, observed, wantCreate, wantReady }) => {
    const d = decide(makeNotebook({}, status), observed);
    expect(d.status.phase).toBe('Pending');
    expect(d.createPod).toBe(wantCreate);
    expect(d.deletePod).toBe(false);
    expect(condition(d.status, 'Ready')?.reason).toBe(wantReady);
  });

  it('admitted, then a reference broke: the reservation goes back until it resolves', () => {
    const d = decide(makeNotebook({}, { phase: 'Pending', admission }), { refs: { ok: false, reason: 'DatasetNotFound', message: 'gone' } });
    expect(d.status.admission).toBeUndefined();
    expect(d.createPod).toBe(false);
    expect(condition(d.status, 'Admitted')).toMatchObject({ status: 'False', reason: 'DatasetNotFound' });
  });

  it('Running once JupyterLab is ready: the run starts now, with an Event', () => {
    const d = decide(makeNotebook({}, { phase: 'Pending', admission }), { pod: pod() });
    expect(d.status).toMatchObject({ phase: 'Running', startTime: rfc3339(now) });
    expect(condition(d.status, 'Ready')).toMatchObject({ status: 'True', reason: 'PodRunning' });
    expect(d.events).toEqual([{ type: 'Normal', reason: 'Started', note: `JupyterLab is running on node n1 since ${rfc3339(now)}` }]);
  });

  it('a steady running notebook yields the status it has: no write, no Event', () => {
    const first = decide(makeNotebook({}, running), { pod: pod() });
    const again = decide(makeNotebook({}, first.status), { pod: pod() });
    expect(again.status).toEqual(first.status);
    expect(again.events).toEqual([]);
  });

  it.each([
    { name: 'suspend', spec: { suspend: true }, observed: { pod: pod() }, wantReason: 'Suspended', wantMessage: 'spec.suspend is true' },
    { name: 'autoStopSeconds past', spec: { autoStopSeconds: 300 }, observed: { pod: pod() }, wantReason: 'AutoStopped', wantMessage: 'ran for 300s (autoStopSeconds)' },
    {
      name: 'no activity for idleTimeoutSeconds',
      spec: { idleTimeoutSeconds: 600 },
      observed: { pod: pod({ lastActivity: ago(601) }) },
      wantReason: 'Idle',
      wantMessage: `no activity since ${ago(601)} (idleTimeoutSeconds 600s)`,
    },
  ])('stops on $name: pod deleted, reservation released, home kept', ({ spec, observed, wantReason, wantMessage }) => {
    const d = decide(makeNotebook(spec, running), observed);
    expect(d).toMatchObject({ createPod: false, deletePod: true });
    expect(d.status.phase).toBe('Stopped');
    expect(d.status.admission).toBeUndefined();
    expect(condition(d.status, 'Stopped')).toMatchObject({ status: 'True', reason: wantReason, message: wantMessage, observedGeneration: 1 });
    expect(condition(d.status, 'Admitted')).toMatchObject({ status: 'False', reason: wantReason });
    expect(d.events).toEqual([{ type: 'Normal', reason: wantReason, note: `stopped: ${wantMessage}` }]);
  });

  it.each([
    { name: 'autoStopSeconds', spec: { autoStopSeconds: 600 }, observed: { pod: pod() }, want: 300_000 },
    { name: 'the sooner of both limits', spec: { autoStopSeconds: 600, idleTimeoutSeconds: 120 }, observed: { pod: pod({ lastActivity: ago(60) }) }, want: 60_000 },
    // Without the pod's report nothing says the user is away.
    { name: 'no idle limit without a report', spec: { idleTimeoutSeconds: 120 }, observed: { pod: pod() }, want: undefined },
  ])('runs on until the next limit falls due: $name', ({ spec, observed, want }) => {
    const d = decide(makeNotebook(spec, running), observed);
    expect(d.status.phase).toBe('Running');
    expect(d.requeueAfterMs).toBe(want);
  });

  it('records the activity the pod reports', () => {
    expect(decide(makeNotebook({}, running), { pod: pod({ lastActivity: ago(5) }) }).status.lastActivityTime).toBe(ago(5));
  });

  it('a suspended notebook starts again when suspend is false', () => {
    const stopped: NotebookStatus = { phase: 'Stopped', url, conditions: [cond('Stopped', 'True', 'Suspended')] };
    const d = decide(makeNotebook({}, stopped, 2));
    expect(d.status.phase).toBe('Pending');
    expect(condition(d.status, 'Stopped')).toMatchObject({ status: 'False', reason: 'Resumed' });
    expect(d.events).toEqual([{ type: 'Normal', reason: 'Resumed', note: 'starting again: waiting for admission' }]);
  });

  it.each([
    { name: 'stays stopped while its spec is unchanged', generation: 1, wantPhase: 'Stopped' },
    { name: 'starts again once its spec changed', generation: 2, wantPhase: 'Pending' },
  ])('a notebook the platform stopped $name', ({ generation, wantPhase }) => {
    const stopped: NotebookStatus = { phase: 'Stopped', url, conditions: [cond('Stopped', 'True', 'AutoStopped')] };
    expect(decide(makeNotebook({ autoStopSeconds: 60 }, stopped, generation)).status.phase).toBe(wantPhase);
  });

  it('a failed pod fails the notebook: pod deleted, reservation released, a Warning', () => {
    const d = decide(makeNotebook({}, running), { pod: pod({ phase: 'Failed', ready: false, message: 'OOMKilled' }) });
    expect(d).toMatchObject({ deletePod: true, createPod: false, events: [{ type: 'Warning', reason: 'Failed', note: 'pod dev-0 failed: OOMKilled' }] });
    expect(d.status.phase).toBe('Failed');
    expect(d.status.admission).toBeUndefined();
  });

  it.each([
    { name: 'stays failed while its spec is unchanged', generation: 1, wantPhase: 'Failed' },
    { name: 'starts again once its spec changed', generation: 2, wantPhase: 'Pending' },
  ])('a failed notebook $name', ({ generation, wantPhase }) => {
    const failed: NotebookStatus = { phase: 'Failed', url, conditions: [cond('Ready', 'False', 'PodFailed')] };
    expect(decide(makeNotebook({}, failed, generation)).status.phase).toBe(wantPhase);
  });

  it('markFailed: what the controller learns when it acts (a refused pod) fails the notebook the same way', () => {
    const d = decide(makeNotebook({}, { phase: 'Pending', admission }));
    expect(d.createPod).toBe(true);
    markFailed(d, makeNotebook(), 'Refused', 'Pod dev-0 was refused: violates PodSecurity', now);
    expect(d).toMatchObject({ createPod: false, deletePod: true });
    expect(d.status.phase).toBe('Failed');
    expect(d.status.admission).toBeUndefined();
    expect(condition(d.status, 'Ready')).toMatchObject({ reason: 'Refused', message: 'Pod dev-0 was refused: violates PodSecurity' });
  });
});
