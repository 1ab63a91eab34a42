import { randomUUID } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { sleep, type Clock } from './clock.js';
import { isConflict, isTerminal } from './errors.js';
import type { InformerHandler, ObjectSource } from './informer.js';
import type { ReconcileMetrics, ReconcileResult } from './metrics.js';
import { controllerOf } from './owner.js';
import { groupOf, objectKey, splitObjectKey } from './resource.js';
import { WorkQueue, type WorkQueueMetrics } from './queue.js';
import type { RateLimiter } from './rate-limit.js';

/** What a reconcile asks of the controller besides "done". */
export interface Result {
  /** Reconcile this key again after this long (e.g. to poll something outside the cluster). */
  readonly requeueAfterMs?: number;
}

export interface ReconcileContext {
  readonly key: string;
  readonly namespace: string | undefined;
  readonly name: string;
  /** A child logger carrying `{controller, namespace, name, reconcileID}`. */
  readonly logger: Logger;
  /** Aborted when the controller stops and its shutdown grace period has run out. */
  readonly signal: AbortSignal;
}

/**
 * Brings the world in line with the object under `key`, reading current state (from caches) rather
 * than acting on the event that caused the call: it must be idempotent, and a steady object must
 * cost no writes. Throw to retry with backoff; throw a `TerminalError` to give up until the object
 * changes again.
 */
export type Reconcile = (key: string, context: ReconcileContext) => Promise<Result | void>;

/** Maps a changed object to the keys to reconcile. */
export type MapFunc<T> = (obj: T) => Iterable<string>;

export interface WatchOptions<T> {
  /**
   * Whether an update is worth a reconcile (controller-runtime's update predicate). Adds and
   * deletes always are; an update it refuses is dropped for this watch only.
   */
  readonly updated?: (obj: T, old: T) => boolean;
  /** Events of objects it holds for (the new object, or the deleted one) jump the queue. */
  readonly urgent?: (obj: T) => boolean;
}

/** The changed object's own key: for the controller's primary resource. */
export function enqueueObject(obj: KubernetesObject): string[] {
  return [objectKey(obj)];
}

/** The owner of an owned kind, as the `kind` of one API group that may be namespaced or cluster-scoped. */
export interface OwnerType {
  readonly group: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

/** The key of the object's controlling owner when that owner is of `owner`'s type: for children a controller creates. */
export function enqueueController(owner: OwnerType): MapFunc<KubernetesObject> {
  return (obj) => {
    const ref = controllerOf(obj);
    if (!ref || ref.kind !== owner.kind || groupOf(ref.apiVersion) !== owner.group) return [];
    const namespace = obj.metadata?.namespace;
    return [owner.namespaced && namespace ? `${namespace}/${ref.name}` : ref.name];
  };
}

/** The metric hooks a controller reports to; `RuntimeMetrics` provides them. */
export interface ControllerMetrics {
  queue(name: string): WorkQueueMetrics;
  controller(name: string): ReconcileMetrics;
}

export interface ControllerOptions {
  /** Names the controller in logs, metrics and its work queue. */
  readonly name: string;
  readonly reconcile: Reconcile;
  /** Workers reconciling distinct keys at once; one key is never reconciled twice at once. @default 1 */
  readonly concurrency?: number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics?: ControllerMetrics;
  /** @default 5 ms … 1000 s per key, 10 qps / burst 100 overall */
  readonly rateLimiter?: RateLimiter;
  /** How long `stop()` lets reconciles in flight finish. @default 30_000 */
  readonly shutdownTimeoutMs?: number;
}

/** A source bound to its handler, with its element type erased so sources of different kinds fit one list. */
interface Subscription {
  subscribe(): () => void;
  waitForSync(signal: AbortSignal): Promise<boolean>;
}

/**
 * One work queue, N workers and a reconcile function. Sources (informers) feed keys into the queue;
 * workers start once every source has synced, so a reconcile never sees a half-filled cache.
 * Success forgets the key's backoff; an error requeues it rate-limited; a `TerminalError` is logged
 * and dropped; `requeueAfterMs` reconciles again after that delay.
 */
export class Controller {
  readonly name: string;
  private readonly options: ControllerOptions;
  private readonly queue: WorkQueue;
  private readonly logger: Logger;
  private readonly metrics: ReconcileMetrics | undefined;
  private readonly subscriptions: Subscription[] = [];
  private readonly unregister: (() => void)[] = [];
  private readonly stopController = new AbortController();
  private readonly reconcileAbort = new AbortController();
  private workers: Promise<void>[] = [];
  private started = false;

  constructor(options: ControllerOptions) {
    this.options = options;
    this.name = options.name;
    this.logger = options.logger.child({ controller: options.name });
    this.metrics = options.metrics?.controller(options.name);
    this.queue = new WorkQueue({ clock: options.clock, rateLimiter: options.rateLimiter, metrics: options.metrics?.queue(options.name) });
  }

  /**
   * Reconciles the keys `map` returns for each object `source` adds, updates or deletes (on update,
   * for the old and the new object, so a changed owner reference reaches both owners). The default
   * map enqueues the object itself; `options` filter updates and pick urgent events. Call before `start()`.
   */
  watches<T extends KubernetesObject>(source: ObjectSource<T>, map: MapFunc<T> = enqueueObject, options: WatchOptions<T> = {}): this {
    if (this.started) throw new Error(`controller ${this.name}: add watches before start()`);
    const { updated, urgent } = options;
    const enqueue = (obj: T, asUrgent = urgent?.(obj) ?? false) => {
      for (const key of map(obj)) this.queue.add(key, asUrgent);
    };
    const handler: InformerHandler<T> = {
      add: (obj) => enqueue(obj),
      update: (obj, old) => {
        if (updated && !updated(obj, old)) return;
        const asUrgent = urgent?.(obj) ?? false;
        enqueue(old, asUrgent);
        enqueue(obj, asUrgent);
      },
      delete: (obj) => enqueue(obj),
    };
    this.subscriptions.push({ subscribe: () => source.addHandler(handler), waitForSync: (signal) => source.waitForSync(signal) });
    return this;
  }

  /** Queues `key` for reconciling, e.g. from an external trigger. */
  enqueue(key: string): void {
    this.queue.add(key);
  }

  /** Subscribes to the sources, waits until they have synced, then starts the workers. */
  async start(): Promise<void> {
    if (this.started) throw new Error(`controller ${this.name} was already started`);
    this.started = true;
    const signal = this.stopController.signal;
    if (signal.aborted) return;
    for (const subscription of this.subscriptions) this.unregister.push(subscription.subscribe());
    const synced = await Promise.all(this.subscriptions.map((subscription) => subscription.waitForSync(signal)));
    if (signal.aborted || synced.includes(false)) return;
    const concurrency = Math.max(1, this.options.concurrency ?? 1);
    this.workers = Array.from({ length: concurrency }, () => this.work());
    this.logger.info({ concurrency }, 'controller started');
  }

  /**
   * Stops taking keys and waits (bounded by `shutdownTimeoutMs`) for reconciles in flight; past the
   * bound their `signal` is aborted and stop returns without them.
   */
  async stop(): Promise<void> {
    if (this.stopController.signal.aborted) return;
    this.stopController.abort();
    for (const unregister of this.unregister.splice(0)) unregister();
    const graceOver = new AbortController();
    const drained = await Promise.race([
      this.queue.shutDown().then(() => true),
      sleep(this.options.clock, this.options.shutdownTimeoutMs ?? 30_000, graceOver.signal).then(() => false),
    ]);
    graceOver.abort();
    if (drained) {
      await Promise.all(this.workers);
      this.logger.info('controller stopped');
    } else {
      this.logger.warn('reconciles still running after the shutdown timeout; abandoning them');
      this.reconcileAbort.abort();
    }
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.reconcileKey(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  private async reconcileKey(key: string): Promise<void> {
    const { namespace, name } = splitObjectKey(key);
    const logger = this.logger.child({ namespace, name, reconcileID: randomUUID() });
    const startedAt = this.options.clock.now();
    let result: ReconcileResult;
    try {
      const requeueAfterMs = (await this.options.reconcile(key, { key, namespace, name, logger, signal: this.reconcileAbort.signal }))?.requeueAfterMs ?? 0;
      this.queue.forget(key);
      if (requeueAfterMs > 0) {
        this.queue.addAfter(key, requeueAfterMs);
        result = 'requeue';
      } else {
        result = 'success';
      }
    } catch (err) {
      result = 'error';
      if (isTerminal(err)) {
        this.queue.forget(key);
        logger.error({ err }, 'reconcile failed terminally; not retrying until the object changes');
      } else {
        this.queue.addRateLimited(key);
        // Conflicts are the expected price of optimistic concurrency, not a fault.
        if (isConflict(err)) logger.info({ err }, 'conflict; retrying');
        else logger.error({ err, retries: this.queue.retries(key) }, 'reconcile failed; retrying with backoff');
      }
    }
    this.metrics?.reconciled(result, (this.options.clock.now() - startedAt) / 1000);
  }
}
