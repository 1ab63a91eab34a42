import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Backoff, type BackoffOptions } from './backoff.js';
import { sleep, type Clock } from './clock.js';
import { isGone } from './errors.js';
import { apiVersionOf, objectKey, resourceId, resourcePath, type ResourceRef } from './resource.js';
import type { Requester } from './rest.js';
import { semanticEqual } from './semantic-equal.js';
import { ObjectStore, type IndexFunc } from './store.js';

/** A watch stream (`RestClient.watch`; client-node's `Watch` has the same shape); tests wrap it to break or redirect watches. */
export interface WatchTransport {
  watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (type: string, object: unknown) => void,
    onDone: (err: unknown) => void,
  ): Promise<AbortController>;
}

/** Callbacks for changes to the cache. They run synchronously and must not throw (errors are logged). */
export interface InformerHandler<T> {
  add?(obj: T): void;
  update?(obj: T, old: T): void;
  /** Receives the last state of the object. */
  delete?(obj: T): void;
}

/** What a controller needs from a cache: change notifications and a sync barrier. */
export interface ObjectSource<T> {
  /** Registers a handler; objects already cached are replayed to it as adds. Returns the unregister function. */
  addHandler(handler: InformerHandler<T>): () => void;
  /** Resolves true once the first list is cached, false if the source stops or `signal` aborts first. */
  waitForSync(signal?: AbortSignal): Promise<boolean>;
}

export interface WatchMetrics {
  watchRestarted(resource: string): void;
}

export interface InformerSelector {
  /** Only this namespace; omitted: every namespace (or a cluster-scoped resource). */
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
}

/** What every informer of a process shares: its connection, clock, logger, metrics and reconnect policy. */
export interface SharedInformerOptions {
  readonly rest: Requester;
  readonly watch: WatchTransport;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics?: WatchMetrics;
  /** Delays between reconnects after failures. @default 200 ms doubling to 30 s, 20 % jitter */
  readonly backoff?: BackoffOptions;
  /**
   * The apiserver ends each watch after this long. Long, because every reconnect is a request
   * an idle controller makes (bookmarks keep a quiet watch alive and its resourceVersion fresh).
   * @default a random 1800–3600 s, so informers do not reconnect in lockstep
   */
  readonly watchTimeoutSeconds?: number;
  /** Objects per list page. @default 500 */
  readonly pageSize?: number;
}

export interface InformerOptions extends SharedInformerOptions, InformerSelector {
  readonly resource: ResourceRef;
  /**
   * Slims each object before it is cached (e.g. keep only the pod fields a controller reads),
   * which bounds memory on large clusters. Cached objects are then partial: never write them back.
   */
  readonly transform?: (obj: KubernetesObject) => KubernetesObject;
}

interface ListResponse {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: KubernetesObject[];
}

interface WatchEnd {
  reason: 'stopped' | 'expired' | 'closed' | 'failed';
  /** The watch delivered at least one event or stayed open a while: it was working. */
  healthy: boolean;
  error?: unknown;
}

/** A watch that closes sooner than this without delivering anything counts as a failure, so a misbehaving server cannot make us spin. */
const minHealthyWatchMs = 1000;
/** How long past its server-side timeout a silent watch may stay open before we assume the connection died. */
const watchStallGraceMs = 30_000;

/**
 * A list-then-watch cache of one resource (optionally one namespace and selectors).
 *
 * It lists, then watches from the list's resourceVersion with bookmarks. A watch that ends cleanly is
 * reopened from the last resourceVersion seen; one that fails is reopened after a jittered exponential
 * backoff; `410 Gone` (the resourceVersion was compacted away) relists, and a relist delivers deletes
 * for objects that vanished while the informer was not watching. It never throws out of its loop and
 * never exits the process; `stop()` ends it.
 */
export class Informer<T extends KubernetesObject> implements ObjectSource<T> {
  readonly resource: ResourceRef;
  /** The resource's short name, used in logs and the watch-restarts metric. */
  readonly id: string;
  private readonly options: InformerOptions;
  private readonly logger: Logger;
  private readonly backoff: Backoff;
  private readonly store = new ObjectStore<T>();
  private readonly handlers = new Set<InformerHandler<T>>();
  private readonly stopController = new AbortController();
  private readonly syncWaiters = new Set<() => void>();
  private resourceVersion: string | undefined;
  private synced = false;
  private running: Promise<void> | undefined;

  constructor(options: InformerOptions) {
    this.options = options;
    this.resource = options.resource;
    this.id = resourceId(options.resource);
    this.logger = options.logger.child({ informer: this.id, namespace: options.namespace });
    this.backoff = new Backoff(options.backoff);
  }

  /** Starts listing and watching in the background; a second call does nothing. */
  start(): void {
    if (this.stopController.signal.aborted) throw new Error(`informer ${this.id} was stopped; create a new one`);
    this.running ??= this.run();
  }

  /** Ends the watch and waits for the loop to finish. */
  async stop(): Promise<void> {
    this.stopController.abort();
    this.releaseSyncWaiters();
    await this.running;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    if (this.stopController.signal.aborted || signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = () => {
        this.syncWaiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve(this.synced);
      };
      this.syncWaiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  list(namespace?: string): T[] {
    return this.store.list(namespace);
  }

  addIndex(name: string, fn: IndexFunc<T>): void {
    this.store.addIndex(name, fn);
  }

  byIndex(name: string, value: string): T[] {
    return this.store.byIndex(name, value);
  }

  addHandler(handler: InformerHandler<T>): () => void {
    this.handlers.add(handler);
    for (const obj of this.store.list()) this.call('add', () => handler.add?.(obj));
    return () => this.handlers.delete(handler);
  }

  private async run(): Promise<void> {
    const signal = this.stopController.signal;
    while (!signal.aborted) {
      if (this.resourceVersion === undefined) {
        try {
          await this.relist(signal);
          this.backoff.reset();
        } catch (err) {
          if (signal.aborted) break;
          this.logger.warn({ err }, 'list failed; retrying');
          await sleep(this.options.clock, this.backoff.next(), signal);
          continue;
        }
      }
      const end = await this.watchOnce(this.resourceVersion ?? '', signal);
      if (end.reason === 'stopped') break;
      this.options.metrics?.watchRestarted(this.id);
      if (end.healthy) this.backoff.reset();
      if (end.reason === 'expired') {
        this.logger.info('resourceVersion expired; relisting');
        this.resourceVersion = undefined;
      } else if (end.reason === 'failed' || !end.healthy) {
        this.logger.warn({ err: end.error }, 'watch ended abnormally; reconnecting after backoff');
      } else {
        this.logger.debug('watch closed; reopening');
      }
      // An expired watch is normal, but one expiring at once, again and again, must not become a list loop.
      if (end.reason === 'failed' || !end.healthy) await sleep(this.options.clock, this.backoff.next(), signal);
    }
  }

  private async relist(signal: AbortSignal): Promise<void> {
    const { resource, namespace, labelSelector, fieldSelector } = this.options;
    const listed = new Map<string, T>();
    let resourceVersion: string | undefined;
    let continueToken: string | undefined;
    do {
      const page = await this.options.rest.request<ListResponse>({
        method: 'GET',
        path: resourcePath(resource, { namespace }),
        query: { labelSelector, fieldSelector, limit: this.options.pageSize ?? 500, continue: continueToken },
        signal,
      });
      for (const item of page.items ?? []) {
        // List items carry no apiVersion/kind; handlers and owner references need them.
        const obj = this.slim({ ...item, apiVersion: apiVersionOf(resource), kind: resource.kind }) as T;
        listed.set(objectKey(obj), obj);
      }
      resourceVersion = page.metadata?.resourceVersion;
      continueToken = page.metadata?.continue || undefined;
    } while (continueToken);
    if (signal.aborted) return;

    for (const key of this.store.keys()) {
      if (listed.has(key)) continue;
      const gone = this.store.remove(key);
      if (gone) this.emit('delete', gone);
    }
    for (const [key, obj] of listed) {
      const old = this.store.get(key);
      if (old && old.metadata?.resourceVersion === obj.metadata?.resourceVersion) continue;
      if (this.unchangedSlim(obj)) continue;
      this.store.upsert(obj);
      if (old) this.emit('update', obj, old);
      else this.emit('add', obj);
    }
    this.resourceVersion = resourceVersion;
    this.logger.debug({ objects: listed.size, resourceVersion }, 'listed');
    if (!this.synced) {
      this.synced = true;
      this.releaseSyncWaiters();
    }
  }

  private watchOnce(resourceVersion: string, signal: AbortSignal): Promise<WatchEnd> {
    const { resource, namespace, labelSelector, fieldSelector, clock } = this.options;
    const timeoutSeconds = this.options.watchTimeoutSeconds ?? Math.floor(1800 + Math.random() * 1800);
    return new Promise((resolve) => {
      const startedAt = clock.now();
      let delivered = false;
      let errorStatus: { code?: number; message?: string } | undefined;
      let connection: AbortController | undefined;
      let settled = false;
      const finish = (err: unknown) => {
        if (settled) return;
        settled = true;
        stallTimer.cancel();
        signal.removeEventListener('abort', onStop);
        connection?.abort();
        resolve(this.classify(err, errorStatus, signal, delivered || clock.now() - startedAt >= minHealthyWatchMs));
      };
      const onStop = () => finish(undefined);
      const stallTimer = clock.setTimer(timeoutSeconds * 1000 + watchStallGraceMs, () =>
        finish(new Error(`watch stayed open ${timeoutSeconds}s past its timeout; assuming the connection died`)),
      );
      signal.addEventListener('abort', onStop, { once: true });
      const onEvent = (type: string, object: unknown) => {
        if (settled) return;
        if (type === 'ERROR') {
          // The apiserver ends the stream after an ERROR event; classify it when it does.
          errorStatus = object as typeof errorStatus;
          return;
        }
        delivered = true;
        this.apply(type, object as T);
      };
      this.options.watch
        .watch(
          resourcePath(resource, { namespace }),
          { resourceVersion, allowWatchBookmarks: true, timeoutSeconds, labelSelector, fieldSelector },
          onEvent,
          finish,
        )
        .then(
          (controller) => {
            connection = controller;
            if (settled) controller.abort();
          },
          finish,
        );
    });
  }

  private classify(err: unknown, errorStatus: { code?: number; message?: string } | undefined, signal: AbortSignal, healthy: boolean): WatchEnd {
    if (signal.aborted) return { reason: 'stopped', healthy };
    if (errorStatus?.code === 410 || isGone(err)) return { reason: 'expired', healthy };
    if (errorStatus) return { reason: 'failed', healthy, error: new Error(`watch error: ${errorStatus.message ?? JSON.stringify(errorStatus)}`) };
    if (err) return { reason: 'failed', healthy, error: err };
    return { reason: 'closed', healthy };
  }

  private slim(obj: KubernetesObject): KubernetesObject {
    // No controller reads managedFields, and on objects with a status they are often its largest field.
    if (obj.metadata?.managedFields) delete obj.metadata.managedFields;
    return this.options.transform ? this.options.transform(obj) : obj;
  }

  /**
   * With a transform, most updates change only what it drops (a node's heartbeat, a pod's other
   * conditions): the slimmed object equals the cached one but for its resourceVersion. Such an
   * update is no event, and the cached object stays (its resourceVersion may then lag the
   * server's; slimmed objects are never written back), so handlers and memos keyed on cached
   * objects see no change where there is none.
   */
  private unchangedSlim(slim: T): boolean {
    if (!this.options.transform) return false;
    const cached = this.store.get(objectKey(slim));
    if (!cached) return false;
    const withoutVersion = (o: T) => ({ ...o, metadata: { ...o.metadata, resourceVersion: undefined } });
    return semanticEqual(withoutVersion(slim), withoutVersion(cached));
  }

  private apply(type: string, obj: T): void {
    const resourceVersion = obj.metadata?.resourceVersion;
    if (resourceVersion) this.resourceVersion = resourceVersion;
    switch (type) {
      case 'ADDED':
      case 'MODIFIED': {
        const slim = this.slim(obj) as T;
        if (this.unchangedSlim(slim)) break;
        const old = this.store.upsert(slim);
        const cached = this.store.get(objectKey(obj))!;
        if (old) this.emit('update', cached, old);
        else this.emit('add', cached);
        break;
      }
      case 'DELETED':
        if (this.store.remove(objectKey(obj))) this.emit('delete', obj);
        break;
      // BOOKMARK only moves the resourceVersion on.
    }
  }

  private emit(event: 'add' | 'delete', obj: T): void;
  private emit(event: 'update', obj: T, old: T): void;
  private emit(event: keyof InformerHandler<T>, obj: T, old?: T): void {
    for (const handler of this.handlers) {
      this.call(event, () => (event === 'update' ? handler.update?.(obj, old as T) : handler[event]?.(obj)));
    }
  }

  private call(event: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.logger.error({ err, event }, 'informer handler threw');
    }
  }

  private releaseSyncWaiters(): void {
    for (const waiter of [...this.syncWaiters]) waiter();
  }
}
