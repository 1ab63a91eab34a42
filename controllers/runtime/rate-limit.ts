import type { Clock } from './clock.js';

/** Decides how long a key waits before it is retried. */
export interface RateLimiter {
  /** The delay before `key` may run again; counts one more retry of it. */
  when(key: string): number;
  /** Clears what is remembered about `key`, so its next failure starts from the smallest delay. */
  forget(key: string): void;
  /** How many times `key` has been retried since it was last forgotten. */
  retries(key: string): number;
}

/** `baseMs` doubled once per earlier failure, never above `maxMs`. */
export function exponentialDelay(baseMs: number, failures: number, maxMs: number): number {
  // 2 ** failures becomes Infinity for large counts; min() then caps it.
  return Math.min(maxMs, baseMs * 2 ** failures);
}

export interface ExponentialRateLimiterOptions {
  /** @default 5 */
  readonly baseDelayMs?: number;
  /** @default 1_000_000 (1000 s) */
  readonly maxDelayMs?: number;
}

/** Per-key exponential backoff: a key that keeps failing waits longer each time. */
export class ExponentialRateLimiter implements RateLimiter {
  private readonly failures = new Map<string, number>();
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(options: ExponentialRateLimiterOptions = {}) {
    this.baseDelayMs = options.baseDelayMs ?? 5;
    this.maxDelayMs = options.maxDelayMs ?? 1_000_000;
  }

  when(key: string): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    return exponentialDelay(this.baseDelayMs, failures, this.maxDelayMs);
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}

export interface TokenBucketRateLimiterOptions {
  readonly clock: Clock;
  /** Tokens added per second. @default 10 */
  readonly qps?: number;
  /** Tokens the bucket holds when full. @default 100 */
  readonly burst?: number;
}

/**
 * One bucket shared by every key, so a storm of failures across many keys cannot hammer the
 * apiserver even while each key's own backoff is still short. Each call reserves a token; once the
 * bucket is empty, reservations queue up behind each other.
 */
export class TokenBucketRateLimiter implements RateLimiter {
  private readonly clock: Clock;
  private readonly qps: number;
  private readonly burst: number;
  private tokens: number;
  private refilledAt: number;

  constructor(options: TokenBucketRateLimiterOptions) {
    this.clock = options.clock;
    this.qps = options.qps ?? 10;
    this.burst = options.burst ?? 100;
    this.tokens = this.burst;
    this.refilledAt = this.clock.now();
  }

  when(): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.qps);
    this.refilledAt = now;
    this.tokens -= 1;
    // A negative balance is the reservations already promised to earlier callers.
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }

  forget(): void {}

  retries(): number {
    return 0;
  }
}

/** Combines limiters: the longest delay wins. */
export class MaxOfRateLimiter implements RateLimiter {
  private readonly limiters: readonly RateLimiter[];

  constructor(...limiters: RateLimiter[]) {
    this.limiters = limiters;
  }

  when(key: string): number {
    return Math.max(0, ...this.limiters.map((limiter) => limiter.when(key)));
  }

  forget(key: string): void {
    for (const limiter of this.limiters) limiter.forget(key);
  }

  retries(key: string): number {
    return Math.max(0, ...this.limiters.map((limiter) => limiter.retries(key)));
  }
}

/** controller-runtime's default: 5 ms … 1000 s per key, and 10 qps with a burst of 100 overall. */
export function defaultControllerRateLimiter(clock: Clock): RateLimiter {
  return new MaxOfRateLimiter(new ExponentialRateLimiter(), new TokenBucketRateLimiter({ clock }));
}
