import type { Clock, Timer } from '../clock.js';

interface Scheduled {
  dueAt: number;
  seq: number;
  callback: () => void;
}

/** A clock that moves only when a test calls `advance`, firing due timers in order. */
export class FakeClock implements Clock {
  private current: number;
  private seq = 0;
  private readonly scheduled = new Set<Scheduled>();

  constructor(startMs = 1_700_000_000_000) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimer(delayMs: number, callback: () => void): Timer {
    const entry: Scheduled = { dueAt: this.current + Math.max(0, delayMs), seq: this.seq++, callback };
    this.scheduled.add(entry);
    return { cancel: () => this.scheduled.delete(entry) };
  }

  /** Timers not yet fired or cancelled. */
  pendingTimers(): number {
    return this.scheduled.size;
  }

  /** Moves time forward, firing each timer that falls due at its own instant. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const next = this.nextDue();
      if (!next || next.dueAt > target) break;
      this.scheduled.delete(next);
      this.current = next.dueAt;
      next.callback();
    }
    this.current = target;
  }

  private nextDue(): Scheduled | undefined {
    let next: Scheduled | undefined;
    for (const entry of this.scheduled) {
      if (!next || entry.dueAt < next.dueAt || (entry.dueAt === next.dueAt && entry.seq < next.seq)) next = entry;
    }
    return next;
  }
}
