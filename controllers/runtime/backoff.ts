import { exponentialDelay } from './rate-limit.js';

export interface BackoffOptions {
  /** @default 200 */
  readonly initialMs?: number;
  /** @default 30_000 */
  readonly maxMs?: number;
  /** Each delay is stretched by up to this fraction, so many clients do not retry in lockstep. @default 0.2 */
  readonly jitter?: number;
  /** Injected for deterministic tests. @default Math.random */
  readonly random?: () => number;
}

/** Exponential, jittered delays for reconnecting to the apiserver after a failure. */
export class Backoff {
  private attempts = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly jitter: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 200;
    this.maxMs = options.maxMs ?? 30_000;
    this.jitter = options.jitter ?? 0.2;
    this.random = options.random ?? Math.random;
  }

  /** The delay before the next attempt; each call doubles the following one up to the cap. */
  next(): number {
    const base = exponentialDelay(this.initialMs, this.attempts++, this.maxMs);
    return Math.min(this.maxMs, base * (1 + this.jitter * this.random()));
  }

  /** Called after a success: the next failure starts again from the initial delay. */
  reset(): void {
    this.attempts = 0;
  }
}
