/**
 * A loopback HTTP server for tests of data imports: files from a folder, git repositories over
 * git's smart HTTP protocol (Debian's `git http-backend`, run per request as a CGI program), and
 * a few routes that answer with a chosen failure. Test infrastructure only.
 *
 *   /files/<path>        the file under `files`
 *   /git/<repo>/...      the bare repository `<repos>/<repo>`
 *   /status/<code>       an empty answer with that status
 *   /truncated/<path>    announces the file's length and sends half of it
 *
 * With `auth`, every route asks for HTTP Basic credentials.
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';

export interface FixtureServer {
  url: string;
  close(): Promise<void>;
}

export interface FixtureOptions {
  files?: string;
  repos?: string;
  auth?: { username: string; password: string };
}

function authorized(req: IncomingMessage, auth: FixtureOptions['auth']): boolean {
  if (!auth) return true;
  const header = req.headers.authorization ?? '';
  return header === `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
}

/** A path under `root`, or undefined when the request tries to leave it. */
function inside(root: string, rest: string): string | undefined {
  const path = normalize(join(root, decodeURIComponent(rest)));
  return path.startsWith(root + '/') ? path : undefined;
}

async function serveFile(res: ServerResponse, path: string | undefined, truncate: boolean): Promise<void> {
  const info = path ? await stat(path).catch(() => undefined) : undefined;
  if (!path || !info?.isFile()) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-length': info.size, 'content-type': 'application/octet-stream' });
  if (!truncate) {
    createReadStream(path).pipe(res);
    return;
  }
  createReadStream(path, { end: Math.max(0, Math.floor(info.size / 2) - 1) })
    .on('end', () => res.destroy())
    .pipe(res, { end: false });
}

/** Runs `git http-backend` for one request and relays its CGI answer. */
function serveGit(req: IncomingMessage, res: ServerResponse, repos: string, pathInfo: string, query: string): void {
  const backend = spawn('git', ['http-backend'], {
    env: {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: repos,
      GIT_HTTP_EXPORT_ALL: '1',
      GIT_CONFIG_NOSYSTEM: '1',
      REQUEST_METHOD: req.method ?? 'GET',
      PATH_INFO: pathInfo,
      QUERY_STRING: query,
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] } : {}),
      ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
      REMOTE_ADDR: '127.0.0.1',
    },
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  req.pipe(backend.stdin);
  let head = Buffer.alloc(0);
  let headersDone = false;
  backend.stdout.on('data', (chunk: Buffer) => {
    if (headersDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    headersDone = true;
    let status = 200;
    for (const line of head.subarray(0, end).toString().split('\r\n')) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
      else res.setHeader(name, value);
    }
    res.writeHead(status);
    res.write(head.subarray(end + 4));
  });
  backend.on('close', () => res.end());
  backend.on('error', () => res.writeHead(500).end());
}

export async function startFixtureServer(options: FixtureOptions): Promise<FixtureServer> {
  const server: Server = createServer((req, res) => {
    if (!authorized(req, options.auth)) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="fixtures"' }).end();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://fixture');
    const [, route, ...rest] = url.pathname.split('/');
    const tail = rest.join('/');
    if (route === 'status') res.writeHead(Number(tail) || 500).end();
    else if ((route === 'files' || route === 'truncated') && options.files) void serveFile(res, inside(options.files, tail), route === 'truncated');
    else if (route === 'git' && options.repos) serveGit(req, res, options.repos, `/${tail}`, url.search.replace(/^\?/, ''));
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
