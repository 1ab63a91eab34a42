import { randomBytes } from 'node:crypto';
import { PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Clock, Timer } from './clock.js';
import { isNotFound } from './errors.js';
import { microTime } from './time.js';
import { resourcePath, type ResourceRef } from './resource.js';
import type { Requester } from './rest.js';

const eventsResource: ResourceRef = { group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true };

export type EventType = 'Normal' | 'Warning';

export interface EventInput {
  /** The object the event is about; it needs apiVersion, kind and name. */
  readonly regarding: KubernetesObject;
  readonly type: EventType;
  /** CamelCase, why the action was taken, e.g. `QuotaExceeded`. */
  readonly reason: string;
  /** For humans; cut to 1024 characters. */
  readonly note: string;
  /** CamelCase, what was done or failed, e.g. `Admit`. @default reason */
  readonly action?: string;
}

export interface EventRecorderOptions {
  readonly rest: Requester;
  readonly clock: Clock;
  readonly logger: Logger;
  /** This process, e.g. the pod name. */
  readonly reportingInstance: string;
  /** @default 'octopus-controller' */
  readonly reportingController?: string;
  /** A repeat within this long of the previous occurrence joins its series instead of creating an Event. @default 600_000 */
  readonly seriesWindowMs?: number;
  /** Repeats are counted in memory and written as one series update at most this often. @default 5_000 */
  readonly seriesFlushMs?: number;
  /** Series remembered at once; the least recently seen are forgotten first. @default 4096 */
  readonly maxSeries?: number;
}

interface Series {
  readonly namespace: string;
  /** Known once the Event is created. */
  name?: string;
  count: number;
  written: number;
  lastObservedAt: number;
  flushTimer?: Timer;
  /** Writes of one series happen in order. */
  writes: Promise<void>;
}

/**
 * Records `events.k8s.io/v1` Events. Events are best-effort: a failed write is logged, never thrown.
 * A repeat of the same event (same object, type, reason, action and note) within the series window
 * bumps the series count of the existing Event, and repeats are written together at most once per
 * flush interval, so a controller retrying in a loop does not turn into a stream of API writes.
 */
export class EventRecorder {
  private readonly options: EventRecorderOptions;
  private readonly series = new Map<string, Series>();

  constructor(options: EventRecorderOptions) {
    this.options = options;
  }

  record(event: EventInput): void {
    const now = this.options.clock.now();
    const key = seriesKey(event);
    const existing = this.series.get(key);
    // Re-inserting keeps the map in least-recently-seen order for eviction.
    this.series.delete(key);
    if (existing && now - existing.lastObservedAt < (this.options.seriesWindowMs ?? 600_000)) {
      existing.count++;
      existing.lastObservedAt = now;
      this.series.set(key, existing);
      existing.flushTimer ??= this.options.clock.setTimer(this.options.seriesFlushMs ?? 5_000, () => this.writeSeries(key, existing));
      return;
    }
    const fresh: Series = {
      namespace: event.regarding.metadata?.namespace || 'default',
      count: 1,
      written: 1,
      lastObservedAt: now,
      writes: Promise.resolve(),
    };
    this.series.set(key, fresh);
    this.evictOldest();
    fresh.writes = fresh.writes.then(() => this.create(fresh, event, now));
  }

  /** Writes pending series counts now and waits for every write in flight (call on shutdown). */
  async flush(): Promise<void> {
    for (const [key, series] of this.series) {
      if (series.flushTimer) this.writeSeries(key, series);
    }
    await Promise.all([...this.series.values()].map((series) => series.writes));
  }

  private async create(series: Series, event: EventInput, now: number): Promise<void> {
    const { regarding } = event;
    const name = regarding.metadata?.name ?? '';
    const body = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      // client-go's naming: the object's name and a hex timestamp, plus a random tail for replicas writing in the same millisecond.
      metadata: { name: `${name.slice(0, 200)}.${now.toString(16)}${randomBytes(3).toString('hex')}`, namespace: series.namespace },
      eventTime: microTime(now),
      reportingController: this.options.reportingController ?? 'octopus-controller',
      reportingInstance: this.options.reportingInstance.slice(0, 128),
      action: event.action ?? event.reason,
      reason: event.reason,
      type: event.type,
      note: event.note.slice(0, 1024),
      regarding: {
        apiVersion: regarding.apiVersion,
        kind: regarding.kind,
        name,
        namespace: regarding.metadata?.namespace,
        uid: regarding.metadata?.uid,
        resourceVersion: regarding.metadata?.resourceVersion,
      },
    };
    try {
      const created = await this.options.rest.request<KubernetesObject>({
        method: 'POST',
        path: resourcePath(eventsResource, { namespace: series.namespace }),
        body,
      });
      series.name = created.metadata?.name;
    } catch (err) {
      this.options.logger.warn({ err, reason: event.reason, regarding: name }, 'could not record event');
    }
  }

  private writeSeries(key: string, series: Series): void {
    series.flushTimer?.cancel();
    series.flushTimer = undefined;
    series.writes = series.writes.then(async () => {
      if (!series.name || series.count === series.written) return;
      const count = series.count;
      try {
        await this.options.rest.request({
          method: 'PATCH',
          path: resourcePath(eventsResource, { namespace: series.namespace, name: series.name }),
          contentType: PatchStrategy.MergePatch,
          body: { series: { count, lastObservedTime: microTime(series.lastObservedAt) } },
        });
        series.written = count;
      } catch (err) {
        // An Event that expired (the apiserver deletes them after an hour) ends its series; the next repeat starts a new one.
        if (isNotFound(err)) this.series.delete(key);
        else this.options.logger.warn({ err, event: series.name }, 'could not update event series');
      }
    });
  }

  private evictOldest(): void {
    const max = this.options.maxSeries ?? 4096;
    for (const [key, series] of this.series) {
      if (this.series.size <= max) break;
      if (series.flushTimer) this.writeSeries(key, series);
      this.series.delete(key);
    }
  }
}

function seriesKey(event: EventInput): string {
  const { metadata, apiVersion, kind } = event.regarding;
  const object = metadata?.uid ?? `${apiVersion}/${kind}/${metadata?.namespace ?? ''}/${metadata?.name ?? ''}`;
  return JSON.stringify([object, event.type, event.reason, event.action ?? event.reason, event.note]);
}
