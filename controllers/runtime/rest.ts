import { createHash } from 'node:crypto';
import { request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import type { RequestMetrics } from './metrics.js';
import { sleep, SystemClock } from './clock.js';
import { TokenBucketRateLimiter } from './rate-limit.js';
import { ApiException, HttpMethod, ServerConfiguration, createConfiguration, type Configuration, type KubeConfig, type RequestContext } from '@kubernetes/client-node';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RestRequest {
  readonly method: Method;
  /** From `resourcePath()`, e.g. `/api/v1/namespaces/default/configmaps`. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** Sent as JSON. */
  readonly body?: unknown;
  /** @default application/json; patches pass a `PatchStrategy`. */
  readonly contentType?: string;
  readonly signal?: AbortSignal;
}

/** What the runtime needs from the apiserver; an interface so tests can cut the connection. */
export interface Requester {
  request<T>(req: RestRequest): Promise<T>;
}

const httpMethods: Record<Method, HttpMethod> = {
  GET: HttpMethod.GET,
  POST: HttpMethod.POST,
  PUT: HttpMethod.PUT,
  PATCH: HttpMethod.PATCH,
  DELETE: HttpMethod.DELETE,
};

/**
 * JSON over the kubeconfig's connection, by path. The typed clients of client-node cover only
 * built-in kinds (and `CustomObjectsApi` only non-core groups), and their serializers drop fields
 * they do not know; one raw path serves core, built-in and custom resources alike. Errors are
 * client-node's `ApiException`, so the same predicates (`isNotFound`, …) apply everywhere.
 */
const tlsOptionKeys = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const;

/** client-go's client-side throttle: at most `qps` requests a second on average, `burst` at once. */
export interface ClientRateLimit {
  readonly qps: number;
  readonly burst: number;
}

export class RestClient implements Requester {
  private readonly configuration: Configuration;
  private readonly clock = new SystemClock();
  private readonly throttle: TokenBucketRateLimiter | undefined;
  private agent: { key: string; agent: Agent } | undefined;

  /** Without `rateLimit` (or with qps 0) requests are not throttled. */
  constructor(
    kubeConfig: KubeConfig,
    private readonly metrics?: RequestMetrics,
    rateLimit?: ClientRateLimit,
  ) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.configuration = createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kubeConfig },
    });
    if (rateLimit && rateLimit.qps > 0) this.throttle = new TokenBucketRateLimiter({ clock: this.clock, qps: rateLimit.qps, burst: Math.max(1, rateLimit.burst) });
  }

  async request<T>(req: RestRequest): Promise<T> {
    const what = `${req.method} ${req.path}`;
    const wait = this.throttle?.when() ?? 0;
    if (wait > 0) await sleep(this.clock, wait, req.signal);
    let status: number;
    let headers: Record<string, string>;
    let text: string;
    try {
      ({ status, headers, text } = await exchange(await this.prepare(req)));
    } catch (err) {
      this.metrics?.requested(req.method, 0);
      throw new Error(`${what} failed`, { cause: err });
    }
    this.metrics?.requested(req.method, status);
    const body = parseJson(text);
    if (status < 200 || status > 299) throw apiError(what, status, body, headers);
    return body as T;
  }

  /**
   * A watch on the same connection as requests (a `WatchTransport`): one event per line, handed
   * over as it arrives. `onDone` gets undefined when the server ends the stream, else the error
   * (an HTTP error status as an `ApiException`). Watches are not throttled: one per informer,
   * long-lived.
   */
  async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (type: string, object: unknown) => void,
    onDone: (err: unknown) => void,
  ): Promise<AbortController> {
    const connection = new AbortController();
    let ended = false;
    const end = (err: unknown) => {
      if (ended) return;
      ended = true;
      connection.abort();
      onDone(err);
    };
    const what = `watch ${path}`;
    try {
      const context = await this.prepare({ method: 'GET', path, query: { ...query, watch: true }, signal: connection.signal });
      stream(context, {
        onLine: (line) => {
          if (ended) return;
          let event: { type?: unknown; object?: unknown };
          try {
            event = JSON.parse(line) as typeof event;
          } catch {
            return end(new Error(`${what}: an event is not JSON: ${line.slice(0, 200)}`));
          }
          onEvent(String(event.type), event.object);
        },
        onStatus: (status, headers, text) => {
          this.metrics?.requested('GET', status);
          if (status !== 200) end(apiError(what, status, parseJson(text), headers));
        },
        onEnd: end,
      });
    } catch (err) {
      end(new Error(`${what} failed`, { cause: err }));
    }
    return connection;
  }

  private async prepare(req: RestRequest): Promise<RequestContext> {
    const context = this.configuration.baseServer.makeRequestContext(req.path, httpMethods[req.method]);
    for (const [name, value] of Object.entries(req.query ?? {})) {
      if (value !== undefined) context.setQueryParam(name, String(value));
    }
    context.setHeaderParam('Accept', 'application/json');
    if (req.body !== undefined) {
      context.setHeaderParam('Content-Type', req.contentType ?? 'application/json');
      context.setBody(JSON.stringify(req.body));
    }
    if (req.signal) context.setSignal(req.signal);
    await this.configuration.authMethods.default?.applySecurityAuthentication(context);
    this.keepAlive(context);
    return context;
  }

  /**
   * client-node builds a fresh HTTPS agent for every request, so every call pays a new TLS
   * handshake — on both ends, which dominates CPU when a controller creates thousands of pods.
   * One keep-alive agent is reused while the TLS material stays the same; rotated client
   * certificates (different material) get a new agent.
   */
  private keepAlive(context: RequestContext): void {
    const fresh = context.getAgent();
    // Proxy agents are subclasses: they keep their own.
    if (!(fresh instanceof Agent) || fresh.constructor !== Agent) return;
    const options = fresh.options as Record<string, unknown>;
    const material = tlsOptionKeys.map((k) => {
      const v = options[k];
      return Buffer.isBuffer(v) ? v.toString('base64') : JSON.stringify(v ?? null);
    });
    const key = createHash('sha256').update(material.join('\0')).digest('hex');
    if (this.agent?.key !== key) {
      this.agent?.agent.destroy();
      const tls = Object.fromEntries(tlsOptionKeys.filter((k) => options[k] !== undefined).map((k) => [k, options[k]]));
      this.agent = { key, agent: new Agent({ ...tls, keepAlive: true, maxSockets: 64 }) };
    }
    context.setAgent(this.agent.agent);
  }
}

/**
 * One request and its whole response over node:https with the context's agent. Not client-node's
 * transport: its node-fetch 2 reports "Premature close" for complete responses when a keep-alive
 * socket is reused (node-fetch/node-fetch#1767) — thousands of false failures a minute under load,
 * each a retried write and a backed-off key.
 */
function exchange(context: RequestContext): Promise<{ status: number; headers: Record<string, string>; text: string }> {
  return new Promise((resolve, reject) => {
    send(context, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('the response was cut off')));
      res.on('end', () => {
        if (!res.complete) return reject(new Error('the response was cut off'));
        resolve({ status: res.statusCode ?? 0, headers: flatHeaders(res.headers), text: Buffer.concat(chunks).toString('utf8') });
      });
    }).on('error', reject);
  });
}

function send(context: RequestContext, onResponse: (res: IncomingMessage) => void): ClientRequest {
  const url = new URL(context.getUrl());
  const body = context.getBody() as string | undefined;
  const headers: Record<string, string> = { ...context.getHeaders() };
  if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body));
  const request = url.protocol === 'http:' ? httpRequest : httpsRequest;
  const req = request(url, { method: context.getHttpMethod(), headers, agent: context.getAgent(), signal: context.getSignal() }, onResponse);
  req.end(body);
  return req;
}

/** A streamed response split into lines; an error status's body is read whole and given to `onStatus`. */
function stream(
  context: RequestContext,
  handlers: { onLine(line: string): void; onStatus(status: number, headers: Record<string, string>, text: string): void; onEnd(err: unknown): void },
): void {
  send(context, (res) => {
    const status = res.statusCode ?? 0;
    res.setEncoding('utf8');
    res.on('error', handlers.onEnd);
    res.on('aborted', () => handlers.onEnd(new Error('the watch was cut off')));
    if (status !== 200) {
      let text = '';
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => handlers.onStatus(status, flatHeaders(res.headers), text));
      return;
    }
    handlers.onStatus(status, flatHeaders(res.headers), '');
    let pending = '';
    res.on('data', (chunk: string) => {
      pending += chunk;
      let start = 0;
      let newline: number;
      while ((newline = pending.indexOf('\n', start)) >= 0) {
        const line = pending.slice(start, newline);
        start = newline + 1;
        if (line.trim() !== '') handlers.onLine(line);
      }
      pending = pending.slice(start);
    });
    const cutOff = () => handlers.onEnd(res.complete ? undefined : new Error('the watch was cut off'));
    res.on('end', cutOff);
    res.on('close', cutOff);
  }).on('error', handlers.onEnd);
}

function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}

function apiError(what: string, status: number, body: unknown, headers: Record<string, string>): ApiException<unknown> {
  const message = (body as { message?: unknown } | undefined)?.message;
  return new ApiException(status, `${what}: HTTP ${status}${typeof message === 'string' ? `: ${message}` : ''}`, body, headers);
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
