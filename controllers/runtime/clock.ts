/** A scheduled callback that can be called off. */
export interface Timer {
  cancel(): void;
}

/**
 * Time as the runtime sees it. Queues, backoffs, leases and events take a Clock so tests can
 * move time by hand instead of waiting for it.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimer(delayMs: number, callback: () => void): Timer;
}

/** Wall-clock time and Node.js timers. */
/** Node.js fires a longer timeout at once (after a warning), which would turn a long requeue into a busy loop. */
const maxTimeoutMs = 2 ** 31 - 1;

export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }

  setTimer(delayMs: number, callback: () => void): Timer {
    const handle = setTimeout(callback, Math.min(maxTimeoutMs, Math.max(0, delayMs)));
    return { cancel: () => clearTimeout(handle) };
  }
}

/** Resolves after `delayMs` on `clock`, or as soon as `signal` aborts (never rejects). */
export function sleep(clock: Clock, delayMs: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const onAbort = () => {
      timer.cancel();
      resolve();
    };
    const timer = clock.setTimer(delayMs, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
