/**
 * An HTTP proxy in front of the apiserver that records every request passing through it, watches
 * included. A manager given `proxy.kubeConfig()` sends all its traffic — informers, writes, Events,
 * discovery — through it, so the record is what the controller costs the apiserver.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request, type RequestOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

export interface CountedRequest {
  method: string;
  path: string;
  watch: boolean;
  at: number;
  /** The apiserver's answer, once it came. */
  status?: number;
}

export class CountingProxy {
  readonly requests: CountedRequest[] = [];
  private readonly server: Server;

  private constructor(
    private readonly upstream: URL,
    private readonly tls: RequestOptions,
  ) {
    this.server = createServer((req, res) => this.forward(req, res));
  }

  /** Starts a proxy forwarding to `target`'s apiserver with `target`'s credentials. */
  static async start(target: KubeConfig): Promise<CountingProxy> {
    const tls: RequestOptions = {};
    await target.applyToHTTPSOptions(tls);
    const proxy = new CountingProxy(new URL(target.getCurrentCluster()!.server), tls);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** A kubeconfig that reaches the apiserver through this proxy. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      // client-node refuses plain HTTP unless TLS verification is declared off; there is no TLS to verify.
      clusters: [{ name: 'proxy', server: `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`, skipTLSVerify: true }],
      users: [{ name: 'proxy' }],
      contexts: [{ name: 'proxy', cluster: 'proxy', user: 'proxy' }],
      currentContext: 'proxy',
    });
    return kc;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.upstream);
    const watch = ['true', '1'].includes(url.searchParams.get('watch') ?? '');
    const counted: CountedRequest = { method: req.method ?? 'GET', path: url.pathname, watch, at: Date.now() };
    this.requests.push(counted);
    const headers: IncomingHttpHeaders = { ...req.headers, ...(this.tls.headers as IncomingHttpHeaders | undefined), host: this.upstream.host };
    const upstream = request(url, { ...this.tls, method: req.method, headers }, (upstreamRes) => {
      counted.status = upstreamRes.statusCode;
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
      upstreamRes.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    // A client closing a watch closes the upstream watch too.
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  }
}
