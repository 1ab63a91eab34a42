import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { ObjectClient } from './client.js';
import { SystemClock, type Clock } from './clock.js';
import { Controller, type Reconcile } from './controller.js';
import { EventRecorder } from './events.js';
import { startHealthServer, type HealthServer } from './health-server.js';
import type { Informer, InformerSelector, SharedInformerOptions } from './informer.js';
import { InformerFactory } from './informer-factory.js';
import { LeaderElector, type LeaderElectionConfig } from './leader.js';
import { RuntimeMetrics } from './metrics.js';
import type { RateLimiter } from './rate-limit.js';
import type { ResourceRef } from './resource.js';
import { RestClient, type ClientRateLimit } from './rest.js';

export interface ManagerOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  /** @default a new Registry (never prom-client's global one) */
  readonly registry?: Registry;
  /** @default SystemClock */
  readonly clock?: Clock;
  /** Names this process in Events and, with a random suffix, in the Lease. @default $POD_NAME, else the hostname */
  readonly instance?: string;
  /** Run controllers only while holding this Lease. Omitted: always run them (a single replica). */
  readonly leaderElection?: Omit<LeaderElectionConfig, 'identity'> & { readonly identity?: string };
  /** Port of `/healthz`, `/readyz` and `/metrics`; 0 picks a free one. Omitted: no server. */
  readonly healthPort?: number;
  /** @default '0.0.0.0' */
  readonly healthHost?: string;
  /** How long shutdown waits for reconciles in flight. @default 20_000 (inside Kubernetes' default 30 s grace period, leaving time to release the lease) */
  readonly shutdownTimeoutMs?: number;
  /** Client-side throttle of every request but watches. @default none */
  readonly rateLimit?: ClientRateLimit;
  /** Informer reconnect backoff, watch timeout and page size, e.g. shorter in tests. */
  readonly informers?: Pick<SharedInformerOptions, 'backoff' | 'watchTimeoutSeconds' | 'pageSize'>;
  /** Ends the process after a signal-driven shutdown. @default process.exit */
  readonly exit?: (code: number) => void;
}

export interface ControllerSpec {
  readonly name: string;
  readonly reconcile: Reconcile;
  /** @default 1 */
  readonly concurrency?: number;
  readonly rateLimiter?: RateLimiter;
}

type State = 'new' | 'running' | 'stopping' | 'stopped';

/**
 * Runs controllers in one process: it owns the API connection, the shared informers, the metrics
 * Registry, an event recorder, leader election and the health/metrics server.
 *
 * Informers run from `start()` on, on every replica, so a standby is ready to lead with warm
 * caches; controllers run only while this replica leads. Losing the lease stops the manager and
 * makes `wait()` reject: the process should exit and restart, as its in-memory state may be stale.
 * `stop()` shuts down in order: stop taking work, let reconciles in flight finish (bounded),
 * release the lease, stop watching, close the server.
 */
export class Manager {
  readonly logger: Logger;
  readonly clock: Clock;
  readonly registry: Registry;
  readonly metrics: RuntimeMetrics;
  readonly rest: RestClient;
  readonly client: ObjectClient;
  readonly events: EventRecorder;
  private readonly options: ManagerOptions;
  private readonly informers: InformerFactory;
  private readonly controllers: Controller[] = [];
  private readonly elector: LeaderElector | undefined;
  private readonly signalHandlers: { signal: NodeJS.Signals; handler: () => void }[] = [];
  private readonly stopped: Promise<void>;
  private markStopped!: () => void;
  private server: HealthServer | undefined;
  private failure: Error | undefined;
  private state: State = 'new';

  constructor(options: ManagerOptions) {
    this.options = options;
    this.logger = options.logger;
    this.clock = options.clock ?? new SystemClock();
    this.registry = options.registry ?? new Registry();
    this.metrics = new RuntimeMetrics(this.registry);
    this.rest = new RestClient(options.kubeConfig, this.metrics, options.rateLimit);
    this.client = new ObjectClient({ rest: this.rest });
    const instance = options.instance ?? process.env.POD_NAME ?? hostname();
    this.events = new EventRecorder({ rest: this.rest, clock: this.clock, logger: this.logger, reportingInstance: instance });
    this.informers = new InformerFactory({
      rest: this.rest,
      watch: this.rest,
      clock: this.clock,
      logger: this.logger,
      metrics: this.metrics,
      ...options.informers,
    });
    const election = options.leaderElection;
    this.elector =
      election &&
      new LeaderElector({
        ...election,
        identity: election.identity ?? `${instance}_${randomUUID()}`,
        rest: this.rest,
        clock: this.clock,
        logger: this.logger,
      });
    this.stopped = new Promise((resolve) => (this.markStopped = resolve));
  }

  /** The shared informer of a resource under a selector (see `InformerFactory.informer`). */
  informer<T extends KubernetesObject>(resource: ResourceRef, selector?: InformerSelector, transform?: (obj: KubernetesObject) => KubernetesObject): Informer<T> {
    return this.informers.informer<T>(resource, selector, transform);
  }

  /** A controller that runs while this manager leads; add its watches before `start()`. */
  addController(spec: ControllerSpec): Controller {
    if (this.state !== 'new') throw new Error('add controllers before start()');
    if (this.controllers.some((c) => c.name === spec.name)) throw new Error(`a controller named ${spec.name} already exists`);
    const controller = new Controller({
      ...spec,
      clock: this.clock,
      logger: this.logger,
      metrics: this.metrics,
      shutdownTimeoutMs: this.options.shutdownTimeoutMs ?? 20_000,
    });
    this.controllers.push(controller);
    return controller;
  }

  /** True while controllers run: this replica holds the lease, or election is off. */
  isLeader(): boolean {
    return this.state === 'running' && (this.elector?.isLeader() ?? true);
  }

  /** Every informer has listed once. */
  isReady(): boolean {
    return this.informers.hasSynced();
  }

  /** The port the health server listens on, once started. */
  get healthPort(): number | undefined {
    return this.server?.port;
  }

  /** Starts the health server, the informers and the campaign for leadership; resolves once they run. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error('a manager starts once');
    this.state = 'running';
    if (this.options.healthPort !== undefined) {
      this.server = await startHealthServer({
        port: this.options.healthPort,
        host: this.options.healthHost,
        registry: this.registry,
        isReady: () => this.isReady(),
      });
      this.logger.info({ port: this.server.port }, 'serving /healthz, /readyz and /metrics');
    }
    this.informers.start();
    if (!this.elector) {
      this.startControllers();
      return;
    }
    void this.elector.run({
      onStartedLeading: () => this.startControllers(),
      onStoppedLeading: () => {
        this.failure = new Error('leader election lost: stopped all controllers');
        void this.stop();
      },
    });
  }

  /** Resolves when the manager has stopped; rejects if it stopped because leadership was lost. */
  async wait(): Promise<void> {
    await this.stopped;
    if (this.failure) throw this.failure;
  }

  /** Graceful shutdown (see the class comment). Safe to call more than once. */
  async stop(): Promise<void> {
    if (this.state === 'new') {
      this.state = 'stopped';
      this.markStopped();
    }
    if (this.state !== 'running') return this.stopped;
    this.state = 'stopping';
    this.logger.info('shutting down');
    await Promise.all(this.controllers.map((controller) => controller.stop()));
    // Only now may another replica start reconciling.
    await this.elector?.stop();
    await this.events.flush();
    await this.informers.stop();
    await this.server?.close();
    for (const { signal, handler } of this.signalHandlers.splice(0)) process.off(signal, handler);
    this.state = 'stopped';
    this.logger.info('stopped');
    this.markStopped();
  }

  /**
   * On SIGTERM or SIGINT: shut down gracefully, then exit 0 (1 if leadership had been lost). A
   * second signal exits at once. Only for the process's main manager; tests leave it off.
   */
  handleSignals(): void {
    const exit = this.options.exit ?? ((code: number) => process.exit(code));
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const handler = () => {
        if (this.state === 'stopping') {
          this.logger.warn({ signal }, 'second signal during shutdown; exiting now');
          exit(1);
          return;
        }
        this.logger.info({ signal }, 'signal received');
        void this.stop().then(
          () => exit(this.failure ? 1 : 0),
          (err: unknown) => {
            this.logger.error({ err }, 'shutdown failed');
            exit(1);
          },
        );
      };
      process.on(signal, handler);
      this.signalHandlers.push({ signal, handler });
    }
  }

  private startControllers(): void {
    for (const controller of this.controllers) {
      controller.start().catch((err: unknown) => {
        this.failure = new Error(`controller ${controller.name} failed to start`, { cause: err });
        void this.stop();
      });
    }
  }
}
