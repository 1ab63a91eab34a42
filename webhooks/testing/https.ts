/** A minimal HTTPS client for tests that talk to the webhook server on loopback. */
import { Agent, request } from 'node:https';

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
