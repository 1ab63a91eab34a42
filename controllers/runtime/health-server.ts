import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Registry } from 'prom-client';

export interface HealthServerOptions {
  /** 0 picks a free port. */
  readonly port: number;
  /** @default '0.0.0.0' (the kubelet probes the pod IP) */
  readonly host?: string;
  readonly registry: Registry;
  readonly isReady: () => boolean;
}

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * `/healthz` answers while the process runs (a hung event loop fails it); `/readyz` once the caches
 * have synced; `/metrics` serves the Registry in Prometheus text format.
 */
export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const app = express();
  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  app.get('/readyz', (_req, res) => {
    const ready = options.isReady();
    res.status(ready ? 200 : 503).type('text/plain').send(ready ? 'ok' : 'caches not synced');
  });
  app.get('/metrics', async (_req, res) => {
    res.type(options.registry.contentType).send(await options.registry.metrics());
  });
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Scrapers hold keep-alive connections that would otherwise delay close() indefinitely.
        server.closeAllConnections();
      }),
  };
}
