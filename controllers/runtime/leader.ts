import type { Logger } from 'pino';
import { sleep, type Clock } from './clock.js';
import { isConflict, isNotFound } from './errors.js';
import { resourcePath, type ResourceRef } from './resource.js';
import type { Requester } from './rest.js';
import { microTime } from './time.js';

const leasesResource: ResourceRef = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true };

/** client-go's factor: candidates wait between 1 and 2.2 retry periods, so they do not retry in lockstep. */
const retryJitter = 1.2;

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

export interface LeaderElectionConfig {
  readonly namespace: string;
  /** The Lease's name, shared by every replica. */
  readonly name: string;
  /** Unique per process (two processes with one identity would both lead). */
  readonly identity: string;
  /** How long a lease is honoured after its last renewal, as observed by the others. @default 15_000 */
  readonly leaseDurationMs?: number;
  /** The leader steps down if it cannot renew within this long. @default 10_000 */
  readonly renewDeadlineMs?: number;
  /** Pause between attempts to acquire, and between retries of a failed renewal. @default 2_000 */
  readonly retryPeriodMs?: number;
  /**
   * Pause after a successful renewal. Longer than client-go's (which renews every retry
   * period) to keep an idle leader near one write per renewal, within DESIGN's budget of
   * ≤ 10 requests a minute, while leaving room for a retry before the renew deadline.
   * @default renewDeadlineMs − 1.5 × retryPeriodMs (7 s with the other defaults)
   */
  readonly renewIntervalMs?: number;
}

export interface LeaderElectorOptions extends LeaderElectionConfig {
  readonly rest: Requester;
  readonly clock: Clock;
  readonly logger: Logger;
  /** @default Math.random */
  readonly random?: () => number;
}

export interface LeaderCallbacks {
  onStartedLeading(): void;
  /** Leadership was lost (not renewed within the deadline, or taken over); not called on `stop()`. */
  onStoppedLeading(): void;
}

type Attempt = 'acquired' | 'held-by-other' | 'failed';

/**
 * Leader election on a `coordination.k8s.io/v1` Lease, after client-go's: a candidate takes the
 * lease when it is absent, released, or not renewed for a lease duration as observed on the
 * candidate's own clock (holders' clocks may disagree); the leader renews every retry period and
 * steps down when it cannot renew within the renew deadline, which is shorter than the lease
 * duration so it stops acting before anyone else may start. Every write carries the resourceVersion
 * read, so of two racing candidates one wins and one gets a conflict. `stop()` releases the lease
 * so a successor need not wait for it to expire.
 */
export class LeaderElector {
  private readonly options: LeaderElectorOptions;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly renewIntervalMs: number;
  /** The lease as last written by us: renewals update it directly instead of reading it first. */
  private held: Lease | undefined;
  private readonly logger: Logger;
  private readonly stopController = new AbortController();
  private running: Promise<void> | undefined;
  private leading = false;
  /** The lease as last read or written, and when (on our clock) it last changed. */
  private observed: { spec: string; at: number } | undefined;
  private renewedAt = 0;

  constructor(options: LeaderElectorOptions) {
    this.options = options;
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    // By default as long as possible while a failed renewal still gets a retry before the deadline.
    this.renewIntervalMs = options.renewIntervalMs ?? Math.max(this.retryPeriodMs, this.renewDeadlineMs - 1.5 * this.retryPeriodMs);
    if (this.leaseDurationMs <= this.renewDeadlineMs) throw new Error('leaseDurationMs must be greater than renewDeadlineMs');
    if (this.renewDeadlineMs <= this.retryPeriodMs * retryJitter) throw new Error(`renewDeadlineMs must be greater than ${retryJitter} × retryPeriodMs`);
    if (this.renewIntervalMs + this.retryPeriodMs >= this.renewDeadlineMs) throw new Error('renewIntervalMs + retryPeriodMs must be less than renewDeadlineMs, so a failed renewal is retried in time');
    this.logger = options.logger.child({ lease: `${options.namespace}/${options.name}`, identity: options.identity });
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** Campaigns until elected, then renews until stopped or leadership is lost. Resolves in either case. */
  run(callbacks: LeaderCallbacks): Promise<void> {
    if (this.running) throw new Error('the elector is already running');
    this.running = this.campaignAndRenew(callbacks);
    return this.running;
  }

  /** Stops campaigning or renewing and, if leading, releases the lease. Stop the work the lease guards first. */
  async stop(): Promise<void> {
    this.stopController.abort();
    await this.running;
    if (this.leading) {
      this.leading = false;
      await this.release();
    }
  }

  private async campaignAndRenew(callbacks: LeaderCallbacks): Promise<void> {
    const signal = this.stopController.signal;
    const { clock } = this.options;
    const random = this.options.random ?? Math.random;
    let attempt: Attempt | undefined;
    while (!signal.aborted && (attempt = await this.tryAcquireOrRenew(signal)) !== 'acquired') {
      await sleep(clock, this.retryPeriodMs * (1 + retryJitter * random()), signal);
    }
    if (attempt !== 'acquired') return;
    // Set even when stopping meanwhile, so stop() releases what was just acquired.
    this.leading = true;
    if (signal.aborted) return;
    this.logger.info('became leader');
    callbacks.onStartedLeading();

    let last: Attempt = 'acquired';
    while (!signal.aborted) {
      await sleep(clock, last === 'acquired' ? this.renewIntervalMs : this.retryPeriodMs, signal);
      if (signal.aborted) return;
      const deadline = this.renewedAt + this.renewDeadlineMs;
      const attempt = await withDeadline(clock, deadline - clock.now(), signal, (s) => this.renew(s));
      last = attempt;
      if (signal.aborted) return;
      if (attempt === 'acquired') continue;
      if (attempt === 'held-by-other' || clock.now() >= deadline) break;
    }
    this.leading = false;
    this.logger.warn('lost leadership: the lease was not renewed within the renew deadline');
    callbacks.onStoppedLeading();
  }

  /** One write while nobody else touched the lease; on a conflict, the full read-then-write. */
  private async renew(signal: AbortSignal): Promise<Attempt> {
    const held = this.held;
    if (held) {
      const now = this.options.clock.now();
      try {
        return this.acquired(await this.request<Lease>({ method: 'PUT', signal, body: { ...this.leaseWith(held.spec, now), metadata: held.metadata } }), now);
      } catch (err) {
        this.held = undefined;
        if (!isConflict(err)) return this.failed(err, 'renew');
      }
    }
    return this.tryAcquireOrRenew(signal);
  }

  private async tryAcquireOrRenew(signal: AbortSignal): Promise<Attempt> {
    const now = this.options.clock.now();
    let lease: Lease;
    try {
      lease = await this.request<Lease>({ method: 'GET', signal });
    } catch (err) {
      if (!isNotFound(err)) return this.failed(err, 'read');
      try {
        return this.acquired(await this.request<Lease>({ method: 'POST', signal, body: this.leaseWith(undefined, now) }), now);
      } catch (createErr) {
        return this.failed(createErr, 'create');
      }
    }
    this.observe(lease.spec, now);
    const holder = lease.spec?.holderIdentity ?? '';
    const durationMs = (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
    if (holder !== '' && holder !== this.options.identity && (this.observed?.at ?? now) + durationMs > now) return 'held-by-other';
    try {
      const updated = await this.request<Lease>({ method: 'PUT', signal, body: { ...this.leaseWith(lease.spec, now), metadata: lease.metadata } });
      return this.acquired(updated, now);
    } catch (err) {
      return this.failed(err, 'update');
    }
  }

  /** The lease held by us at `now`, continuing `previous`. */
  private leaseWith(previous: LeaseSpec | undefined, now: number): Lease {
    const ours = previous?.holderIdentity === this.options.identity;
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.options.name, namespace: this.options.namespace },
      spec: {
        holderIdentity: this.options.identity,
        leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
        acquireTime: ours && previous?.acquireTime ? previous.acquireTime : microTime(now),
        renewTime: microTime(now),
        leaseTransitions: (previous?.leaseTransitions ?? 0) + (previous && !ours ? 1 : 0),
      },
    };
  }

  private acquired(lease: Lease, now: number): Attempt {
    this.observe(lease.spec, now);
    this.renewedAt = now;
    this.held = lease;
    return 'acquired';
  }

  private failed(err: unknown, what: string): Attempt {
    this.logger.debug({ err }, `lease ${what} failed`);
    return 'failed';
  }

  private observe(spec: LeaseSpec | undefined, now: number): void {
    const serialized = JSON.stringify(spec ?? {});
    if (this.observed?.spec !== serialized) this.observed = { spec: serialized, at: now };
  }

  /** Hands the lease over at once: no holder, and a one-second duration for electors that only check expiry. */
  private async release(): Promise<void> {
    this.held = undefined;
    const { clock, identity } = this.options;
    try {
      await withDeadline(clock, this.renewDeadlineMs, undefined, async (signal) => {
        const lease = await this.request<Lease>({ method: 'GET', signal });
        if (lease.spec?.holderIdentity !== identity) return;
        const now = microTime(clock.now());
        const spec: LeaseSpec = { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now };
        await this.request({ method: 'PUT', signal, body: { ...lease, spec } });
      });
      this.logger.info('released the lease');
    } catch (err) {
      this.logger.warn({ err }, 'could not release the lease; a successor waits for it to expire');
    }
  }

  private request<T>(req: { method: 'GET' | 'POST' | 'PUT'; signal: AbortSignal; body?: Lease }): Promise<T> {
    const { namespace, name } = this.options;
    const path = resourcePath(leasesResource, { namespace, name: req.method === 'POST' ? undefined : name });
    return this.options.rest.request<T>({ method: req.method, path, body: req.body, signal: req.signal });
  }
}

/** Runs `fn` with a signal that aborts after `ms` on `clock` or when `outer` aborts. */
async function withDeadline<T>(clock: Clock, ms: number, outer: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const deadline = new AbortController();
  const timer = clock.setTimer(ms, () => deadline.abort());
  try {
    return await fn(outer ? AbortSignal.any([outer, deadline.signal]) : deadline.signal);
  } finally {
    timer.cancel();
  }
}
