import type { InformerHandler, ObjectSource } from '../informer.js';

/** An ObjectSource driven by the test: it decides when the source has synced and what changes. */
export class FakeSource<T> implements ObjectSource<T> {
  private readonly handlers = new Set<InformerHandler<T>>();
  private readonly objects: T[];
  private synced = false;
  private readonly syncWaiters: (() => void)[] = [];

  constructor(objects: T[] = []) {
    this.objects = objects;
  }

  addHandler(handler: InformerHandler<T>): () => void {
    this.handlers.add(handler);
    for (const obj of this.objects) handler.add?.(obj);
    return () => this.handlers.delete(handler);
  }

  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    return new Promise((resolve) => {
      this.syncWaiters.push(() => resolve(true));
      signal?.addEventListener('abort', () => resolve(false), { once: true });
    });
  }

  markSynced(): void {
    this.synced = true;
    for (const waiter of this.syncWaiters.splice(0)) waiter();
  }

  get handlerCount(): number {
    return this.handlers.size;
  }

  add(obj: T): void {
    for (const handler of this.handlers) handler.add?.(obj);
  }

  update(obj: T, old: T): void {
    for (const handler of this.handlers) handler.update?.(obj, old);
  }

  delete(obj: T): void {
    for (const handler of this.handlers) handler.delete?.(obj);
  }
}
