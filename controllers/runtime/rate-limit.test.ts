import { describe, expect, it } from '@jest/globals';
import { Backoff } from './backoff.js';
import { ExponentialRateLimiter, MaxOfRateLimiter, TokenBucketRateLimiter, exponentialDelay } from './rate-limit.js';
import { FakeClock } from './testing/fake-clock.js';

describe('exponentialDelay', () => {
  it.each([
    { failures: 0, want: 5 },
    { failures: 1, want: 10 },
    { failures: 4, want: 80 },
    { failures: 17, want: 655_360 },
    { failures: 18, want: 1_000_000 },
    { failures: 5000, want: 1_000_000 },
  ])('5 ms after $failures failures is $want ms (capped at 1000 s)', ({ failures, want }) => {
    expect(exponentialDelay(5, failures, 1_000_000)).toBe(want);
  });
});

describe('ExponentialRateLimiter', () => {
  it('doubles per key and counts retries', () => {
    const limiter = new ExponentialRateLimiter();
    expect([limiter.when('a'), limiter.when('a'), limiter.when('a')]).toEqual([5, 10, 20]);
    expect(limiter.when('b')).toBe(5);
    expect(limiter.retries('a')).toBe(3);
  });

  it('never waits longer than the cap', () => {
    const limiter = new ExponentialRateLimiter({ baseDelayMs: 5, maxDelayMs: 1_000_000 });
    const delays = Array.from({ length: 40 }, () => limiter.when('a'));
    expect(Math.max(...delays)).toBe(1_000_000);
    expect(delays.at(-1)).toBe(1_000_000);
  });

  it('forget starts the key from the smallest delay again', () => {
    const limiter = new ExponentialRateLimiter();
    limiter.when('a');
    limiter.when('a');
    limiter.forget('a');
    expect(limiter.retries('a')).toBe(0);
    expect(limiter.when('a')).toBe(5);
  });
});

describe('TokenBucketRateLimiter', () => {
  it('lets a burst through, then spaces reservations by 1/qps', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucketRateLimiter({ clock, qps: 10, burst: 3 });
    const wantDelays = [0, 0, 0, 100, 200, 300];
    expect(wantDelays.map(() => bucket.when())).toEqual(wantDelays);
  });

  it('refills with time, up to the burst', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucketRateLimiter({ clock, qps: 10, burst: 2 });
    bucket.when();
    bucket.when();
    clock.advance(60_000);
    expect([bucket.when(), bucket.when(), bucket.when()]).toEqual([0, 0, 100]);
  });
});

describe('MaxOfRateLimiter', () => {
  it('takes the longer of per-key backoff and the global bucket', () => {
    const clock = new FakeClock();
    const limiter = new MaxOfRateLimiter(new ExponentialRateLimiter(), new TokenBucketRateLimiter({ clock, qps: 10, burst: 1 }));
    // Bucket: 0, 100, 200 ms; key a's own backoff: 5, 10, 20 ms.
    expect([limiter.when('a'), limiter.when('a'), limiter.when('a')]).toEqual([5, 100, 200]);
    expect(limiter.retries('a')).toBe(3);
    limiter.forget('a');
    expect(limiter.retries('a')).toBe(0);
  });
});

describe('Backoff', () => {
  it('doubles from the initial delay up to the cap and resets', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
    expect(Array.from({ length: 6 }, () => backoff.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
    backoff.reset();
    expect(backoff.next()).toBe(100);
  });

  it('stretches each delay by the jitter fraction without passing the cap', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0.5, random: () => 1 });
    expect([backoff.next(), backoff.next(), backoff.next(), backoff.next()]).toEqual([150, 300, 600, 1000]);
  });
});
