import { CoreV1Api, type KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, it } from '@jest/globals';
import { EventRecorder } from './events.js';
import { RestClient } from './rest.js';
import { CountingRequester } from './testing/counting-requester.js';
import { FakeClock } from './testing/fake-clock.js';
import { testLogger } from './testing/fixtures.js';
import { useTestNamespace } from './testing/suite.js';

interface RecordedEvent {
  reason: string;
  note: string;
  type: string;
  action: string;
  reportingController: string;
  reportingInstance: string;
  regarding: { kind: string; name: string; uid: string };
  series?: { count: number; lastObservedTime: string };
}

describe('EventRecorder against the real apiserver', () => {
  const plane = useTestNamespace('rt-events');

  async function subjectAndRecorder(name: string) {
    const { kc, namespace } = plane;
    const rest = new RestClient(kc);
    const created = await kc.makeApiClient(CoreV1Api).createNamespacedConfigMap({ namespace, body: { metadata: { name } } });
    const subject: KubernetesObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: created.metadata };
    const clock = new FakeClock();
    const writes = new CountingRequester(rest);
    const recorder = new EventRecorder({ rest: writes, clock, logger: testLogger(), reportingInstance: 'test-pod-0', seriesWindowMs: 60_000, seriesFlushMs: 5_000 });
    const events = async () => {
      const list = await rest.request<{ items: RecordedEvent[] }>({ method: 'GET', path: `/apis/events.k8s.io/v1/namespaces/${namespace}/events` });
      return list.items.filter((e) => e.regarding.name === name);
    };
    return { subject, clock, recorder, events, writes: writes.counts };
  }

  it('records an Event about an object, naming this controller and instance', async () => {
    const { subject, recorder, events } = await subjectAndRecorder('first');
    recorder.record({ regarding: subject, type: 'Normal', reason: 'Provisioned', note: 'volume bound' });
    await recorder.flush();
    expect(await events()).toEqual([
      expect.objectContaining({
        type: 'Normal',
        reason: 'Provisioned',
        action: 'Provisioned',
        note: 'volume bound',
        reportingController: 'octopus-controller',
        reportingInstance: 'test-pod-0',
        regarding: expect.objectContaining({ kind: 'ConfigMap', name: 'first', uid: subject.metadata?.uid }),
      }),
    ]);
  });

  it('folds repeats into one Event with a series count, written once per flush interval', async () => {
    const { subject, clock, recorder, events, writes } = await subjectAndRecorder('repeated');
    const warn = () => recorder.record({ regarding: subject, type: 'Warning', reason: 'PullFailed', note: 'image not found', action: 'Pull' });
    warn();
    await recorder.flush();
    warn();
    warn();
    clock.advance(1000);
    warn();
    clock.advance(5000);
    await recorder.flush();
    const [event, ...others] = await events();
    expect(others).toEqual([]);
    expect(event?.series?.count).toBe(4);
    expect(writes).toMatchObject({ POST: 1, PATCH: 1 });

    recorder.record({ regarding: subject, type: 'Warning', reason: 'PullFailed', note: 'registry unreachable', action: 'Pull' });
    await recorder.flush();
    expect((await events()).length).toBe(2);
  });

  it('starts a new Event once the series window has passed', async () => {
    const { subject, clock, recorder, events } = await subjectAndRecorder('spaced');
    const note = () => recorder.record({ regarding: subject, type: 'Normal', reason: 'Scaled', note: 'to 2' });
    note();
    note();
    await recorder.flush();
    clock.advance(60_000);
    note();
    await recorder.flush();
    const recorded = await events();
    expect(recorded.map((e) => e.series?.count ?? 1).sort()).toEqual([1, 2]);
  });
});
