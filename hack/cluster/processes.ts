/**
 * Background processes owned by pid files: the plane's components and the local Octopus
 * processes. Each is stopped only if its pid still runs what we started (pids get reused).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stateDir } from './paths.js';

export type Log = (line: string) => void;

export interface ManagedProcess {
  name: string;
  command: string;
  args: string[];
  /** Added to the environment: secrets go here, never into argv, which any local user can read in /proc. */
  env?: Record<string, string>;
  /** How to recognise this process in /proc/<pid>/cmdline. */
  identifies(argv: string[]): boolean;
  healthUrl: string;
  /** Extra check of a 200 response's body. */
  healthyBody?(body: string): boolean;
}

export function logFile(name: string): string {
  return join(stateDir(), 'logs', `${name}.log`);
}

function pidFile(name: string): string {
  return join(stateDir(), 'pids', `${name}.pid`);
}

export function tail(file: string, lines = 40): string {
  if (!existsSync(file)) return `(no log at ${file})`;
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}

export function ownedPid(p: Pick<ManagedProcess, 'name' | 'identifies'>): number | undefined {
  const file = pidFile(p.name);
  if (!existsSync(file)) return undefined;
  const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    return p.identifies(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')) ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function startProcess(p: ManagedProcess): number {
  if (!existsSync(p.command)) throw new Error(`${p.name}: ${p.command} not found; run \`npm run cluster -- tools\``);
  const out = openSync(logFile(p.name), 'a');
  // Detached: what `up` starts outlives the command that started it.
  const child = spawn(p.command, p.args, { detached: true, stdio: ['ignore', out, out], cwd: stateDir(), env: { ...process.env, ...p.env } });
  closeSync(out);
  if (child.pid === undefined) throw new Error(`${p.name}: spawn failed`);
  child.unref();
  writeFileSync(pidFile(p.name), `${child.pid}\n`);
  return child.pid;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function stopProcess(p: Pick<ManagedProcess, 'name' | 'identifies'>, log: Log): Promise<void> {
  const pid = ownedPid(p);
  if (pid !== undefined) {
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    while (isAlive(pid) && Date.now() < deadline) await sleep(100);
    if (isAlive(pid)) {
      log(`${p.name} (pid ${pid}) ignored SIGTERM for 10s; sending SIGKILL`);
      process.kill(pid, 'SIGKILL');
      while (isAlive(pid)) await sleep(50);
    }
    log(`stopped ${p.name} (pid ${pid})`);
  }
  rmSync(pidFile(p.name), { force: true });
}

/** GET a loopback health endpoint; TLS is not verified because these are local self-signed probes. */
function probe(url: string, timeoutMs = 2000): Promise<{ status: number; body: string } | undefined> {
  const u = new URL(url);
  const req = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const r = req(u, { method: 'GET', rejectUnauthorized: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    r.on('timeout', () => r.destroy());
    r.on('error', () => resolve(undefined));
    r.end();
  });
}

export async function healthy(p: ManagedProcess): Promise<boolean> {
  const res = await probe(p.healthUrl);
  if (!res || res.status !== 200) return false;
  return p.healthyBody ? p.healthyBody(res.body) : true;
}

export async function waitHealthy(p: ManagedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await healthy(p)) return;
    if (ownedPid(p) === undefined) {
      throw new Error(`${p.name} exited during start-up. Last lines of ${logFile(p.name)}:\n${tail(logFile(p.name))}`);
    }
    await sleep(200);
  }
  throw new Error(`${p.name} not healthy at ${p.healthUrl} after ${timeoutMs / 1000}s. Last lines of ${logFile(p.name)}:\n${tail(logFile(p.name))}`);
}
