/**
 * Counting what a copy did, logging it every few seconds (the import pod's log is where a user
 * watches a long import), and running bounded work concurrently.
 */
import type { Logger } from 'pino';
import { DataError } from './errors.js';
import type { FileRecord } from './manifest.js';

export class Progress {
  files = 0;
  bytes = 0;
  /** Files an earlier attempt had finished, not fetched again. */
  skipped = 0;
  private readonly started = Date.now();
  private timer?: NodeJS.Timeout;

  constructor(private readonly log: Logger) {}

  start(everyMs = 5000): void {
    this.timer = setInterval(() => this.report('progress'), everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  add(record: FileRecord, fetched: boolean): void {
    this.files++;
    this.bytes += record.size;
    if (!fetched) this.skipped++;
  }

  report(msg: string): void {
    const seconds = (Date.now() - this.started) / 1000;
    this.log.info({ files: this.files, bytes: this.bytes, skipped: this.skipped, seconds: Math.round(seconds), mbPerSecond: Number((this.bytes / 1e6 / Math.max(seconds, 0.001)).toFixed(1)) }, msg);
  }
}

/**
 * Runs `work` on every item of `items` with at most `limit` at once, reading `items` only as
 * fast as workers free up (a listing of millions of keys is never held whole). The first error
 * stops new work and is thrown once running work has ended.
 */
export async function forEachLimited<T>(items: AsyncIterable<T>, limit: number, work: (item: T) => Promise<void>): Promise<void> {
  const iterator = items[Symbol.asyncIterator]();
  let failure: unknown;
  const worker = async () => {
    while (failure === undefined) {
      const next = await iterator.next();
      if (next.done) return;
      await work(next.value).catch((err: unknown) => {
        failure ??= err;
      });
    }
  };
  // The iterator is shared: each next() is awaited by one worker at a time per call, and async generators queue calls.
  await Promise.all(Array.from({ length: limit }, worker));
  if (failure !== undefined) throw failure;
}

/** Tries `attempt` up to `tries` times while it fails with an error a retry may cure. */
export async function withRetries<T>(tries: number, attempt: () => Promise<T>, onRetry: (err: unknown, n: number) => void): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (n >= tries || (err instanceof DataError && err.permanent)) throw err;
      onRetry(err, n);
      await new Promise((r) => setTimeout(r, 200 * 2 ** n));
    }
  }
}
