import type { Clock, Timer } from './clock.js';
import { defaultControllerRateLimiter, type RateLimiter } from './rate-limit.js';

/** What a queue reports; `RuntimeMetrics.queue(name)` turns these into Prometheus series. */
export interface WorkQueueMetrics {
  /** A key entered the queue (after de-duplication). */
  added(): void;
  /** Keys waiting to be handed out. */
  depth(keys: number): void;
  /** Seconds a key waited between being added and being handed out. */
  queued(seconds: number): void;
  /** Seconds between handing a key out and its `done()`. */
  worked(seconds: number): void;
  /** A key was put back by `addRateLimited`. */
  retried(): void;
}

export interface WorkQueueOptions {
  readonly clock: Clock;
  /** @default defaultControllerRateLimiter(clock) */
  readonly rateLimiter?: RateLimiter;
  readonly metrics?: WorkQueueMetrics;
}

interface Delayed {
  readyAt: number;
  timer: Timer;
}

/**
 * A de-duplicating work queue of object keys, after client-go's workqueue:
 * - a key waiting in the queue is held once, however often it is added;
 * - a key is handed to one worker at a time: adding it while it is processed marks it dirty, and it
 *   is queued again when that worker calls `done()`;
 * - `addRateLimited` delays by the rate limiter (per-key backoff and a global bucket), `forget`
 *   resets the backoff, `addAfter` delays by a fixed time (one timer per key, earliest wins);
 * - a key added as urgent is handed out before every other waiting key (controller-runtime's
 *   priority queue): work that frees resources or starts admitted workloads does not wait
 *   behind a burst of new objects.
 */
export class WorkQueue {
  private readonly clock: Clock;
  private readonly rateLimiter: RateLimiter;
  private readonly metrics: WorkQueueMetrics | undefined;
  /** Keys ready to be handed out, in order. A Set keeps insertion order and makes removal cheap. */
  private readonly ready = new Set<string>();
  /** Urgent keys ready to be handed out, in order; handed out before `ready`. */
  private readonly urgentReady = new Set<string>();
  /** Dirty keys added as urgent since they were last handed out. */
  private readonly urgent = new Set<string>();
  /** Keys that need processing: ready ones, and processing ones that were added again. */
  private readonly dirty = new Set<string>();
  private readonly processing = new Map<string, number>();
  private readonly addedAt = new Map<string, number>();
  private readonly delayed = new Map<string, Delayed>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private readonly drainWaiters: (() => void)[] = [];
  private stopping = false;

  constructor(options: WorkQueueOptions) {
    this.clock = options.clock;
    this.rateLimiter = options.rateLimiter ?? defaultControllerRateLimiter(options.clock);
    this.metrics = options.metrics;
  }

  add(key: string, urgent = false): void {
    if (this.stopping) return;
    if (this.dirty.has(key)) {
      if (urgent && !this.urgent.has(key)) {
        this.urgent.add(key);
        if (this.ready.delete(key)) this.urgentReady.add(key);
      }
      return;
    }
    this.dirty.add(key);
    if (urgent) this.urgent.add(key);
    this.addedAt.set(key, this.clock.now());
    this.metrics?.added();
    // A key being processed is queued again by done(), never handed to a second worker now.
    if (this.processing.has(key)) return;
    this.readyQueue(key).add(key);
    this.handOut();
  }

  addAfter(key: string, delayMs: number): void {
    if (this.stopping) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const readyAt = this.clock.now() + delayMs;
    const existing = this.delayed.get(key);
    if (existing && existing.readyAt <= readyAt) return;
    existing?.timer.cancel();
    const timer = this.clock.setTimer(delayMs, () => {
      this.delayed.delete(key);
      this.add(key);
    });
    this.delayed.set(key, { readyAt, timer });
  }

  addRateLimited(key: string): void {
    if (this.stopping) return;
    this.metrics?.retried();
    this.addAfter(key, this.rateLimiter.when(key));
  }

  forget(key: string): void {
    this.rateLimiter.forget(key);
  }

  /** How often `key` was put back by `addRateLimited` since it was last forgotten. */
  retries(key: string): number {
    return this.rateLimiter.retries(key);
  }

  /** Keys waiting to be handed out. */
  get length(): number {
    return this.ready.size + this.urgentReady.size;
  }

  /**
   * The next key to process, waiting until there is one. Resolves `undefined` once the queue is
   * shut down. The caller owns the key until it calls `done(key)`.
   */
  get(): Promise<string | undefined> {
    if (this.stopping) return Promise.resolve(undefined);
    const key = this.take();
    if (key !== undefined) return Promise.resolve(key);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks `key` processed; if it was added meanwhile it is queued again. */
  done(key: string): void {
    const startedAt = this.processing.get(key);
    if (startedAt === undefined) return;
    this.processing.delete(key);
    this.metrics?.worked((this.clock.now() - startedAt) / 1000);
    if (this.dirty.has(key) && !this.stopping) {
      this.readyQueue(key).add(key);
      this.handOut();
    }
    if (this.processing.size === 0) this.notifyDrained();
  }

  /**
   * Stops handing out keys and drops the ones still waiting or delayed: reconciles are driven by
   * state, so the next start (or the next leader) relists and sees every object anyway. Resolves
   * once every key already handed out has been marked `done()`.
   */
  shutDown(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      for (const { timer } of this.delayed.values()) timer.cancel();
      this.delayed.clear();
      this.ready.clear();
      this.urgentReady.clear();
      this.urgent.clear();
      this.dirty.clear();
      this.addedAt.clear();
      this.metrics?.depth(0);
      for (const waiter of this.waiters.splice(0)) waiter(undefined);
    }
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private readyQueue(key: string): Set<string> {
    return this.urgent.has(key) ? this.urgentReady : this.ready;
  }

  private take(): string | undefined {
    const from = this.urgentReady.size > 0 ? this.urgentReady : this.ready;
    const next = from.values().next();
    if (next.done) return undefined;
    const key = next.value;
    from.delete(key);
    this.urgent.delete(key);
    this.dirty.delete(key);
    const now = this.clock.now();
    this.processing.set(key, now);
    const addedAt = this.addedAt.get(key);
    this.addedAt.delete(key);
    if (addedAt !== undefined) this.metrics?.queued((now - addedAt) / 1000);
    this.metrics?.depth(this.length);
    return key;
  }

  private handOut(): void {
    while (this.waiters.length > 0 && this.length > 0) {
      const waiter = this.waiters.shift();
      waiter?.(this.take());
    }
    this.metrics?.depth(this.length);
  }

  private notifyDrained(): void {
    for (const resolve of this.drainWaiters.splice(0)) resolve();
  }
}
