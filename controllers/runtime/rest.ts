import { createHash } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
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
    let status: number;
    let headers: Record<string, string>;
    let text: string;
    try {
      await this.configuration.authMethods.default?.applySecurityAuthentication(context);
      this.keepAlive(context);
      ({ status, headers, text } = await exchange(context));
    } catch (err) {
      this.metrics?.requested(req.method, 0);
      throw new Error(`${what} failed`, { cause: err });
    }
    this.metrics?.requested(req.method, status);
    const body = parseJson(text);
    if (status < 200 || status > 299) {
      const message = (body as { message?: unknown } | undefined)?.message;
      throw new ApiException(status, `${what}: HTTP ${status}${typeof message === 'string' ? `: ${message}` : ''}`, body, headers);
    }
    return body as T;
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
  const url = new URL(context.getUrl());
  const body = context.getBody() as string | undefined;
  const headers: Record<string, string> = { ...context.getHeaders() };
  if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body));
  const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: context.getHttpMethod(), headers, agent: context.getAgent(), signal: context.getSignal() }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('the response was cut off')));
      res.on('end', () => {
        if (!res.complete) return reject(new Error('the response was cut off'));
        resolve({ status: res.statusCode ?? 0, headers: flatHeaders(res.headers), text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
