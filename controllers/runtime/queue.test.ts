import { describe, expect, it } from '@jest/globals';
import { WorkQueue, type WorkQueueMetrics } from './queue.js';
import { ExponentialRateLimiter, MaxOfRateLimiter, TokenBucketRateLimiter } from './rate-limit.js';
import { FakeClock } from './testing/fake-clock.js';

function makeQueue(clock = new FakeClock(), metrics?: WorkQueueMetrics) {
  return { clock, queue: new WorkQueue({ clock, metrics }) };
}

/** The queue's length after each step of time. */
function lengthsAfter(clock: FakeClock, queue: WorkQueue, stepsMs: number[]): number[] {
  return stepsMs.map((ms) => {
    clock.advance(ms);
    return queue.length;
  });
}

/** Lets promise callbacks (a waiting get()) run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('WorkQueue', () => {
  it('holds a waiting key once however often it is added', async () => {
    const { queue } = makeQueue();
    queue.add('ns/a');
    queue.add('ns/b');
    queue.add('ns/a');
    expect(queue.length).toBe(2);
    expect([await queue.get(), await queue.get()]).toEqual(['ns/a', 'ns/b']);
    expect(queue.length).toBe(0);
  });

  it('never hands a key to a second worker while the first still processes it', async () => {
    const { queue } = makeQueue();
    queue.add('ns/a');
    const first = await queue.get();
    queue.add('ns/a');
    let second: string | undefined;
    void queue.get().then((key) => (second = key));
    await settle();
    expect(second).toBeUndefined();
    expect(queue.length).toBe(0);
    queue.done(first!);
    await settle();
    expect(second).toBe('ns/a');
  });

  it('processes a key added during processing exactly once more after done()', async () => {
    const { queue } = makeQueue();
    queue.add('ns/a');
    const key = await queue.get();
    queue.add('ns/a');
    queue.add('ns/a');
    queue.done(key!);
    expect(queue.length).toBe(1);
    queue.done(await queue.get().then((k) => k!));
    expect(queue.length).toBe(0);
  });

  it('hands urgent keys out first, in their order, then the rest in theirs; an urgent add promotes a waiting key once', async () => {
    const { queue } = makeQueue();
    queue.add('ns/new-1');
    queue.add('ns/new-2');
    queue.add('ns/finished', true);
    queue.add('ns/new-3');
    queue.add('ns/new-2', true);
    queue.add('ns/new-2', true);
    queue.add('ns/finished');
    expect(queue.length).toBe(4);
    const order: string[] = [];
    for (let key = queue.length ? await queue.get() : undefined; key !== undefined; key = queue.length ? await queue.get() : undefined) order.push(key);
    expect(order).toEqual(['ns/finished', 'ns/new-2', 'ns/new-1', 'ns/new-3']);
  });

  it('requeues a key made urgent while it was processed ahead of the others', async () => {
    const { queue } = makeQueue();
    queue.add('ns/a');
    const key = await queue.get();
    queue.add('ns/b');
    queue.add('ns/a', true);
    queue.done(key!);
    expect([await queue.get(), await queue.get()]).toEqual(['ns/a', 'ns/b']);
  });

  it('hands a newly added key to a worker that is already waiting', async () => {
    const { queue } = makeQueue();
    const waiting = queue.get();
    queue.add('ns/a');
    expect(await waiting).toBe('ns/a');
  });

  it('delays addRateLimited by a backoff that grows per failure and resets on forget', async () => {
    const clock = new FakeClock();
    const queue = new WorkQueue({ clock, rateLimiter: new ExponentialRateLimiter({ baseDelayMs: 5 }) });
    const readyAfter = async (): Promise<number | undefined> => {
      queue.addRateLimited('ns/a');
      for (let waited = 0; waited <= 100; waited++) {
        if (queue.length > 0) {
          queue.done((await queue.get())!);
          return waited;
        }
        clock.advance(1);
      }
      return undefined;
    };
    expect([await readyAfter(), await readyAfter(), await readyAfter()]).toEqual([5, 10, 20]);
    expect(queue.retries('ns/a')).toBe(3);
    queue.forget('ns/a');
    expect(await readyAfter()).toBe(5);
  });

  it('holds back rate-limited keys by the global bucket once its burst is spent', () => {
    const clock = new FakeClock();
    const rateLimiter = new MaxOfRateLimiter(new ExponentialRateLimiter(), new TokenBucketRateLimiter({ clock, qps: 10, burst: 2 }));
    const queue = new WorkQueue({ clock, rateLimiter });
    ['a', 'b', 'c', 'd'].forEach((key) => queue.addRateLimited(key));
    // a and b pass on their own 5 ms backoff; c and d wait 100 and 200 ms for tokens.
    expect(lengthsAfter(clock, queue, [5, 95, 100])).toEqual([2, 3, 4]);
  });

  it('addAfter makes the key ready only once the delay has passed; the earliest delay wins', () => {
    const { clock, queue } = makeQueue();
    queue.addAfter('ns/a', 1000);
    queue.addAfter('ns/a', 300);
    queue.addAfter('ns/a', 2000);
    expect(lengthsAfter(clock, queue, [299, 1, 5000])).toEqual([0, 1, 1]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('adds at once when addAfter is given no delay', () => {
    const { queue } = makeQueue();
    queue.addAfter('ns/a', 0);
    expect(queue.length).toBe(1);
  });

  it('on shutDown releases a worker waiting for a key', async () => {
    const { queue } = makeQueue();
    const idleWorker = queue.get();
    await queue.shutDown();
    expect(await idleWorker).toBeUndefined();
  });

  it('on shutDown drops waiting and delayed keys, refuses new ones and waits for keys in flight', async () => {
    const { clock, queue } = makeQueue();
    queue.add('ns/a');
    queue.add('ns/b');
    const inFlight = await queue.get();
    queue.addAfter('ns/c', 100);
    let drained = false;
    const shutdown = queue.shutDown().then(() => (drained = true));
    expect(await queue.get()).toBeUndefined();
    queue.add('ns/d');
    queue.addRateLimited('ns/e');
    expect(queue.length).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
    await settle();
    expect(drained).toBe(false);
    queue.done(inFlight!);
    await shutdown;
    expect(drained).toBe(true);
  });

  it('reports adds, depth, retries, queue latency and work duration', async () => {
    const seen = { added: 0, retried: 0, depth: [] as number[], queued: [] as number[], worked: [] as number[] };
    const metrics: WorkQueueMetrics = {
      added: () => seen.added++,
      retried: () => seen.retried++,
      depth: (n) => seen.depth.push(n),
      queued: (s) => seen.queued.push(s),
      worked: (s) => seen.worked.push(s),
    };
    const { clock, queue } = makeQueue(new FakeClock(), metrics);
    queue.add('ns/a');
    queue.add('ns/a');
    queue.add('ns/b');
    clock.advance(250);
    const key = await queue.get();
    clock.advance(1500);
    queue.done(key!);
    queue.addRateLimited('ns/c');
    expect(seen).toEqual({ added: 2, retried: 1, depth: [1, 2, 1], queued: [0.25], worked: [1.5] });
  });
});
