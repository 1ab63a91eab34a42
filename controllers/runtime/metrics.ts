import { Counter, Gauge, Histogram, exponentialBuckets, type Registry } from 'prom-client';
import type { WatchMetrics } from './informer.js';
import type { WorkQueueMetrics } from './queue.js';

export type ReconcileResult = 'success' | 'error' | 'requeue';

/** What a controller reports about its reconciles. */
export interface ReconcileMetrics {
  reconciled(result: ReconcileResult, seconds: number): void;
}

/**
 * The runtime's Prometheus series, all prefixed `octopus_`, registered on the Registry passed in
 * (never the global one, so several managers can live in one process). One instance per Registry:
 * prom-client refuses to register a name twice.
 */
/** What the REST client reports: one count per request, by method and HTTP status. */
export interface RequestMetrics {
  requested(method: string, code: number): void;
}

export class RuntimeMetrics implements WatchMetrics, RequestMetrics {
  private readonly reconcileTotal: Counter<'controller' | 'result'>;
  private readonly reconcileErrors: Counter<'controller'>;
  private readonly reconcileDuration: Histogram<'controller'>;
  private readonly queueDepth: Gauge<'name'>;
  private readonly queueAdds: Counter<'name'>;
  private readonly queueLatency: Histogram<'name'>;
  private readonly workDuration: Histogram<'name'>;
  private readonly queueRetries: Counter<'name'>;
  private readonly watchRestarts: Counter<'resource'>;
  private readonly apiRequests: Counter<'method' | 'code'>;

  constructor(registry: Registry) {
    const registers = [registry];
    // 1 ms … ~16 min, wide enough for a queue that backs off to its 1000 s cap.
    const queueBuckets = exponentialBuckets(0.001, 4, 11);
    this.reconcileTotal = new Counter({
      name: 'octopus_reconcile_total',
      help: 'Reconciles by controller and result (success, error, requeue).',
      labelNames: ['controller', 'result'],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: 'octopus_reconcile_errors_total',
      help: 'Reconciles that returned an error.',
      labelNames: ['controller'],
      registers,
    });
    this.reconcileDuration = new Histogram({
      name: 'octopus_reconcile_duration_seconds',
      help: 'Time spent in one reconcile.',
      labelNames: ['controller'],
      buckets: exponentialBuckets(0.005, 2, 14),
      registers,
    });
    this.queueDepth = new Gauge({ name: 'octopus_workqueue_depth', help: 'Keys waiting in the work queue.', labelNames: ['name'], registers });
    this.queueAdds = new Counter({ name: 'octopus_workqueue_adds_total', help: 'Keys added to the work queue.', labelNames: ['name'], registers });
    this.queueLatency = new Histogram({
      name: 'octopus_workqueue_queue_duration_seconds',
      help: 'Time a key waits in the work queue before a worker takes it.',
      labelNames: ['name'],
      buckets: queueBuckets,
      registers,
    });
    this.workDuration = new Histogram({
      name: 'octopus_workqueue_work_duration_seconds',
      help: 'Time a worker holds a key.',
      labelNames: ['name'],
      buckets: queueBuckets,
      registers,
    });
    this.queueRetries = new Counter({ name: 'octopus_workqueue_retries_total', help: 'Rate-limited requeues.', labelNames: ['name'], registers });
    this.watchRestarts = new Counter({
      name: 'octopus_watch_restarts_total',
      help: 'Watches reopened after they closed, failed or expired.',
      labelNames: ['resource'],
      registers,
    });
    this.apiRequests = new Counter({
      name: 'octopus_api_requests_total',
      help: 'Requests to the Kubernetes API (watches excluded: see octopus_watch_restarts_total), by method and status code; 0 is a failed connection.',
      labelNames: ['method', 'code'],
      registers,
    });
  }

  queue(name: string): WorkQueueMetrics {
    const labels = { name };
    return {
      added: () => this.queueAdds.inc(labels),
      depth: (keys) => this.queueDepth.set(labels, keys),
      queued: (seconds) => this.queueLatency.observe(labels, seconds),
      worked: (seconds) => this.workDuration.observe(labels, seconds),
      retried: () => this.queueRetries.inc(labels),
    };
  }

  controller(controller: string): ReconcileMetrics {
    return {
      reconciled: (result, seconds) => {
        this.reconcileTotal.inc({ controller, result });
        if (result === 'error') this.reconcileErrors.inc({ controller });
        this.reconcileDuration.observe({ controller }, seconds);
      },
    };
  }

  watchRestarted(resource: string): void {
    this.watchRestarts.inc({ resource });
  }

  requested(method: string, code: number): void {
    this.apiRequests.inc({ method, code: String(code) });
  }
}
