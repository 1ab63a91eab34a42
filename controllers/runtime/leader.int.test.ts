import { CoordinationV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from '@jest/globals';
import { eventually } from '../../e2e/harness/kube.js';
import { SystemClock } from './clock.js';
import { LeaderElector } from './leader.js';
import { RestClient, type Requester, type RestRequest } from './rest.js';
import { CountingRequester } from './testing/counting-requester.js';
import { testLogger } from './testing/fixtures.js';
import { stopAfterEach, useTestNamespace } from './testing/suite.js';

// Short enough for a test, in the same proportions as the defaults (15 s / 10 s / 2 s).
const timings = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 400 };

/** The real client, until the test cuts it off (a partitioned or frozen leader). */
class CuttableRequester implements Requester {
  cut = false;
  constructor(private readonly inner: Requester) {}
  request<T>(req: RestRequest): Promise<T> {
    if (this.cut) return Promise.reject(new Error('connection cut by the test'));
    return this.inner.request<T>(req);
  }
}

describe('LeaderElector against the real apiserver', () => {
  const plane = useTestNamespace('rt-leader');
  const electors = stopAfterEach<LeaderElector>();
  const leases = () => plane.kc.makeApiClient(CoordinationV1Api);

  /** Candidates on one lease, with a shared log of who started and stopped leading and how many led at once. */
  function candidates(lease: string) {
    const log: string[] = [];
    const all: LeaderElector[] = [];
    let mostAtOnce = 0;
    const start = (identity: string, rest: Requester = new RestClient(plane.kc)) => {
      const elector = new LeaderElector({ ...timings, namespace: plane.namespace, name: lease, identity, rest, clock: new SystemClock(), logger: testLogger() });
      electors.push(elector);
      all.push(elector);
      void elector.run({
        onStartedLeading: () => {
          mostAtOnce = Math.max(mostAtOnce, all.filter((e) => e.isLeader()).length);
          log.push(`${identity} leads`);
        },
        onStoppedLeading: () => log.push(`${identity} stepped down`),
      });
      return elector;
    };
    const holder = async () => (await leases().readNamespacedLease({ namespace: plane.namespace, name: lease })).spec;
    return { start, log, holder, mostAtOnce: () => mostAtOnce };
  }

  it('renews with one write per renew interval and no reads while it holds the lease', async () => {
    const { start } = candidates('frugal');
    const counting = new CountingRequester(new RestClient(plane.kc));
    const elector = start('solo', counting);
    await eventually('leading', async () => (elector.isLeader() ? true : undefined));
    const before = { ...counting.counts };
    const windowMs = 5000;
    await new Promise((r) => setTimeout(r, windowMs));
    const gets = counting.counts.GET - before.GET;
    const puts = counting.counts.PUT - before.PUT;
    // renewInterval = renewDeadline − 1.5 × retryPeriod = 1.4 s: about 3–4 renewals in 5 s.
    expect(gets).toBe(0);
    expect(puts).toBeGreaterThanOrEqual(2);
    expect(puts).toBeLessThanOrEqual(Math.ceil(windowMs / 1400) + 1);
    expect(elector.isLeader()).toBe(true);
  });

  it('elects exactly one of two candidates and hands over at once when the leader stops', async () => {
    const { start, log, holder, mostAtOnce } = candidates('graceful');
    const electorsById = { a: start('a'), b: start('b') };
    await eventually('a leader', async () => (electorsById.a.isLeader() || electorsById.b.isLeader() ? true : undefined));
    const first = electorsById.a.isLeader() ? 'a' : 'b';
    const second = first === 'a' ? 'b' : 'a';
    expect((await holder())?.holderIdentity).toBe(first);

    // Several renewals later the same one still leads, and the other still waits.
    const renewals = new Set<string>();
    await eventually('three renewals', async () => {
      const lease = await leases().readNamespacedLease({ namespace: plane.namespace, name: 'graceful' });
      if (lease.spec?.holderIdentity === first) renewals.add(lease.metadata?.resourceVersion ?? '');
      return renewals.size >= 3 ? true : undefined;
    });
    expect(electorsById[first].isLeader()).toBe(true);
    expect(electorsById[second].isLeader()).toBe(false);

    await electorsById[first].stop();
    expect(electorsById[first].isLeader()).toBe(false);
    await eventually(`${second} leads`, async () => (electorsById[second].isLeader() ? true : undefined));
    const spec = await holder();
    expect(spec?.holderIdentity).toBe(second);
    expect(spec?.leaseTransitions).toBe(1);
    expect(mostAtOnce()).toBe(1);
    // A graceful stop is not a loss: onStoppedLeading is for leadership taken away.
    expect(log).toEqual([`${first} leads`, `${second} leads`]);
  });

  it('releases the lease on stop: no holder, and a one-second duration', async () => {
    const { start, holder } = candidates('release');
    const elector = start('solo');
    await eventually('solo leads', async () => (elector.isLeader() ? true : undefined));
    await elector.stop();
    expect(await holder()).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
  });

  it('steps a cut-off leader down at its renew deadline, before the other takes over the expired lease', async () => {
    const { start, log, holder, mostAtOnce } = candidates('abandoned');
    const link = new CuttableRequester(new RestClient(plane.kc));
    const a = start('a', link);
    await eventually('a leads', async () => (a.isLeader() ? true : undefined));
    const b = start('b');
    await eventually('b has seen the lease', async () => ((await holder())?.holderIdentity === 'a' ? true : undefined));

    link.cut = true;
    await eventually('b leads', async () => (b.isLeader() ? true : undefined));
    expect(a.isLeader()).toBe(false);
    expect(log).toEqual(['a leads', 'a stepped down', 'b leads']);
    expect(mostAtOnce()).toBe(1);
    expect((await holder())?.holderIdentity).toBe('b');
  });

  it('refuses timings where the leader could act after its lease expired', () => {
    const make = (t: typeof timings) => new LeaderElector({ ...t, namespace: plane.namespace, name: 'x', identity: 'x', rest: new RestClient(plane.kc), clock: new SystemClock(), logger: testLogger() });
    expect(() => make({ leaseDurationMs: 10_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 })).toThrow(/leaseDurationMs/);
    expect(() => make({ leaseDurationMs: 15_000, renewDeadlineMs: 2000, retryPeriodMs: 2000 })).toThrow(/renewDeadlineMs/);
  });
});
