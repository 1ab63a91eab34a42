/**
 * The HTTPS server the apiserver calls: express routes over the pure admission functions, plus
 * health, readiness and metrics. Every outcome of an admission request, including bad input and a
 * crashing handler, is an answer; nothing a client sends can take the process down.
 */
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import {
  failureResponse,
  failureStatus,
  parseAdmissionReview,
  patchResponse,
  toReview,
  verdictResponse,
  type AdmissionContext,
  type AdmissionResponse,
  type MutatorRegistry,
  type ValidatorRegistry,
} from './admission.js';
import type { TlsBundle } from './certs.js';
import { kindKey, type WebhookType } from './registration.js';

export interface WebhookServerOptions {
  validators: ValidatorRegistry;
  mutators: MutatorRegistry;
  tls: Pick<TlsBundle, 'cert' | 'key'>;
  logger: Logger;
  /** The process's registry; the server registers its metrics here. */
  registry: Registry;
  /**
   * An UPDATE review carries the object twice, each up to etcd's 1.5 MiB.
   * @default '4mb'
   */
  bodyLimit?: string | number;
}

export interface WebhookServer {
  readonly server: Server;
  listen(port: number, host: string): Promise<AddressInfo>;
  /** /readyz answers 200 only after this is set: certificates loaded and configurations registered. */
  setReady(ready: boolean): void;
  /** Serves `tls` to new connections from now on; open connections keep the certificate they began with. */
  reloadTls(tls: Pick<TlsBundle, 'cert' | 'key'>): void;
  /** Stops accepting, lets requests in flight finish, then drops connections still open after `graceMs`. */
  close(graceMs?: number): Promise<void>;
}

type Outcome = 'allowed' | 'denied' | 'error';

const tlsOptions = { minVersion: 'TLSv1.2' } as const;

export function createWebhookServer(opts: WebhookServerOptions): WebhookServer {
  const { logger, registry } = opts;
  // Maps, not the records: a kind from the URL such as `constructor` must not find Object.prototype.
  const handlers: Record<WebhookType, Map<string, (ctx: AdmissionContext) => Promise<AdmissionResponse>>> = {
    validate: new Map(Object.entries(opts.validators).map(([k, v]) => [k, async (ctx) => verdictResponse(ctx, await v.validate(ctx))])),
    mutate: new Map(Object.entries(opts.mutators).map(([k, m]) => [k, async (ctx) => patchResponse(ctx.uid, await m.mutate(ctx))])),
  };
  const requests = new Counter({
    name: 'octopus_webhook_requests_total',
    help: 'Admission requests by webhook (validate|mutate), kind, operation and verdict (allowed|denied|error).',
    labelNames: ['webhook', 'kind', 'operation', 'verdict'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'octopus_webhook_duration_seconds',
    help: 'Time from receiving an admission request to sending its answer, body parsing included.',
    labelNames: ['webhook', 'kind', 'operation'] as const,
    // Fine below 10 ms, where the p99 ≤ 5 ms target lives.
    buckets: [0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  const certificateExpiry = new Gauge({
    name: 'octopus_webhook_certificate_expiry_timestamp_seconds',
    help: 'When the serving certificate expires (Unix time); rotation replaces it well before.',
    registers: [registry],
  });
  let ready = false;
  let closing = false;

  function reply(res: ServerResponse, status: number, body: object): void {
    const text = JSON.stringify(body);
    // Once closing, answers end their connection, so close() need not wait for idle keep-alive timeouts.
    const headers: Record<string, string | number> = { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) };
    if (closing) headers.Connection = 'close';
    res.writeHead(status, headers).end(text);
  }

  // The metrics' children by label values, so a request does not validate and hash its labels again.
  const series = new Map<string, { requests: ReturnType<typeof requests.labels>; duration: ReturnType<typeof duration.labels> }>();

  function record(type: WebhookType, kindParam: string, ctx: AdmissionContext | undefined, verdict: Outcome, started: number): void {
    // Label values come from the URL and body: bound them so a stray client cannot explode cardinality.
    const kind = handlers[type].has(kindParam) ? kindParam : 'unknown';
    const operation = ctx?.operation ?? 'unknown';
    const key = `${type} ${kind} ${operation} ${verdict}`;
    let children = series.get(key);
    if (children === undefined) {
      const labels = { webhook: type, kind, operation };
      children = { requests: requests.labels({ ...labels, verdict }), duration: duration.labels(labels) };
      series.set(key, children);
    }
    children.requests.inc();
    children.duration.observe((performance.now() - started) / 1000);
  }

  async function judge(type: WebhookType, kind: string, body: unknown, res: ServerResponse, started: number): Promise<void> {
    const parsed = parseAdmissionReview(body);
    if (!parsed.ok) {
      logger.warn({ webhook: type, kind, uid: parsed.uid, reason: parsed.message }, 'malformed AdmissionReview');
      const message = `malformed AdmissionReview: ${parsed.message}`;
      if (parsed.uid === undefined) reply(res, 400, { apiVersion: 'v1', kind: 'Status', ...failureStatus(400, message) });
      else reply(res, 200, toReview(failureResponse(parsed.uid, 400, message)));
      record(type, kind, undefined, 'error', started);
      return;
    }
    const ctx = parsed.context;
    const where = { webhook: type, kind, uid: ctx.uid, operation: ctx.operation, namespace: ctx.namespace, name: ctx.name, user: ctx.userInfo.username };
    const handler = handlers[type].get(kind);
    let response: AdmissionResponse;
    let verdict: Outcome;
    if (handler === undefined) {
      logger.error(where, `no ${type} handler registered for this kind`);
      response = failureResponse(ctx.uid, 500, `Octopus webhooks: no ${type === 'validate' ? 'validator' : 'mutator'} is registered for kind "${kind}"`);
      verdict = 'error';
    } else if (kindKey(ctx.kind.kind) !== kind) {
      // Misrouted by a configuration: judging a Dataset with the Job rules would be wrong either way.
      logger.error({ ...where, requestKind: ctx.kind.kind }, 'AdmissionReview kind does not match the webhook path');
      response = failureResponse(ctx.uid, 500, `Octopus webhooks: a ${ctx.kind.kind} was sent to the ${type} webhook of kind "${kind}"`);
      verdict = 'error';
    } else {
      try {
        response = await handler(ctx);
        verdict = response.allowed ? 'allowed' : 'denied';
        if (!response.allowed) logger.info({ ...where, message: response.status?.message }, 'admission denied');
      } catch (err) {
        logger.error({ ...where, err }, `${type} handler failed`);
        response = failureResponse(ctx.uid, 500, `Octopus webhooks: ${type === 'validate' ? 'validating' : 'mutating'} ${ctx.kind.kind} failed: ${(err as Error)?.message ?? String(err)}`);
        verdict = 'error';
      }
    }
    reply(res, 200, toReview(response));
    record(type, kind, ctx, verdict, started);
  }

  const limit = bodyLimitBytes(opts.bodyLimit ?? '4mb');

  /**
   * The hot path, on node:https directly: express's body parser and response helpers cost
   * about as much as the admission rules themselves, against a p99 budget of 5 ms.
   */
  function admit(type: WebhookType, kind: string, req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    const fail = (code: 400 | 413 | 415, message: string) => {
      logger.warn({ webhook: type, reason: message }, 'unreadable admission request body');
      record(type, kind, undefined, 'error', started);
      reply(res, code, { apiVersion: 'v1', kind: 'Status', ...failureStatus(code, message) });
    };
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding !== 'identity') {
      req.resume();
      return fail(415, `unsupported content encoding "${encoding}"`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > limit) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('error', (err) => logger.debug({ err }, 'admission request aborted'));
    req.on('end', () => {
      if (tooLarge) return fail(413, `request entity too large: more than ${limit} bytes`);
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks, size).toString('utf8'));
      } catch (err) {
        return fail(400, `request body is not JSON: ${(err as Error).message}`);
      }
      judge(type, kind, body, res, started).catch((err: unknown) => {
        logger.error({ webhook: type, err }, 'admission request failed');
        if (!res.headersSent) reply(res, 500, { apiVersion: 'v1', kind: 'Status', ...failureStatus(500, 'internal error') });
      });
    });
  }

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.get('/healthz', (_req, res) => void res.type('text/plain').send('ok'));
  app.get('/readyz', (_req, res) => void res.status(ready ? 200 : 503).type('text/plain').send(ready ? 'ok' : 'not ready'));
  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  app.use((req, res) => void res.status(404).json({ apiVersion: 'v1', kind: 'Status', ...failureStatus(404, `no route for ${req.method} ${req.path}`) }));

  const admissionPath = /^\/(validate|mutate)\/([^/?]+)(?:\?.*)?$/;
  const route = (req: IncomingMessage, res: ServerResponse): void => {
    const m = req.method === 'POST' ? admissionPath.exec(req.url ?? '') : null;
    if (m) return admit(m[1] as WebhookType, kindKey(decodeURIComponent(m[2]!)), req, res);
    app(req as Request, res as Response);
  };

  const server = createServer({ ...tlsOptions, cert: opts.tls.cert, key: opts.tls.key }, route);
  certificateExpiry.set(expiry(opts.tls.cert));
  // Longer than the apiserver's 90 s idle-connection timeout, so the apiserver closes idle connections, not
  // us: a POST sent on a connection we just closed is not retried, and the admission would fail.
  server.keepAliveTimeout = 120_000;
  // Admission calls time out after 5 s at most; a client slower than this is not the apiserver.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  // A TLS handshake failure (scanners, wrong CA) is the client's problem; keep it out of the error log.
  server.on('tlsClientError', (err) => logger.debug({ err }, 'TLS handshake failed'));

  return {
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      }),
    setReady: (value) => {
      ready = value;
    },
    reloadTls: (tls) => {
      server.setSecureContext({ ...tlsOptions, cert: tls.cert, key: tls.key });
      certificateExpiry.set(expiry(tls.cert));
    },
    close: (graceMs = 10_000) =>
      new Promise((resolve) => {
        closing = true;
        if (!server.listening) return resolve();
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}

function expiry(certPem: string): number {
  return new Date(new X509Certificate(certPem).validTo).getTime() / 1000;
}

/** `4mb`, `16kb`, `512b` or a number of bytes. */
function bodyLimitBytes(limit: string | number): number {
  if (typeof limit === 'number') return limit;
  const m = /^(\d+)\s*(b|kb|mb)?$/i.exec(limit.trim());
  if (!m) throw new Error(`bodyLimit "${limit}": expected bytes, or a number with b, kb or mb`);
  const unit = (m[2] ?? 'b').toLowerCase();
  return Number(m[1]) * (unit === 'mb' ? 1024 * 1024 : unit === 'kb' ? 1024 : 1);
}
