/** A minimal HTTPS client for tests that talk to the webhook server on loopback. */
import { Agent, request } from 'node:https';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { generateTlsBundle, servingIdentity } from '../certs.js';
import { createWebhookServer, type WebhookServerOptions } from '../server.js';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** A keep-alive agent that trusts only `ca`. */
export function trustingAgent(ca: string, maxSockets = 8): Agent {
  return new Agent({ ca, keepAlive: true, maxSockets });
}

export function send(agent: Agent, url: string, opts: { method?: string; body?: string | Buffer; contentType?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'), headers: { 'content-type': opts.contentType ?? 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

export interface LoopbackWebhooks {
  /** `https://127.0.0.1:<port>` */
  base: string;
  agent: Agent;
  close(): Promise<void>;
}

/** A webhook server with these handlers on a free loopback port, its own serving certificate, and an agent that trusts it. */
export async function serveOnLoopback(handlers: Pick<WebhookServerOptions, 'validators' | 'mutators' | 'bodyLimit'>, maxSockets = 16): Promise<LoopbackWebhooks> {
  const tls = await generateTlsBundle({ identity: servingIdentity({ service: 's', namespace: 'n', local: true }), now: new Date(), validityDays: 1 });
  const server = createWebhookServer({ ...handlers, tls, logger: pino({ level: 'silent' }), registry: new Registry() });
  const { port } = await server.listen(0, '127.0.0.1');
  const agent = trustingAgent(tls.caBundle, maxSockets);
  return {
    base: `https://127.0.0.1:${port}`,
    agent,
    async close() {
      agent.destroy();
      await server.close(0);
    },
  };
}
