/**
 * Idle cost (a script, not a test): with the local platform up and every example settled,
 * counts the controller's API requests over a window. DESIGN's target: a steady cluster
 * causes ≤ 10 requests a minute from the controller.
 *
 *   npm run bench:idle [-- --settle 30 --window 60]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { ports, repoRoot } from '../../hack/cluster/paths.js';
import { up } from '../../hack/platform.js';

const { values } = parseArgs({ options: { settle: { type: 'string', default: '30' }, window: { type: 'string', default: '60' } } });
const settleSeconds = Number(values.settle);
const windowSeconds = Number(values.window);

type Counts = Map<string, number>;

async function counts(): Promise<Counts> {
  const text = await (await fetch(`http://127.0.0.1:${ports().controllerMetrics}/metrics`)).text();
  const out: Counts = new Map();
  for (const line of text.split('\n')) {
    const api = /^octopus_api_requests_total\{method="(\w+)",code="(\d+)"\}\s+(\S+)/.exec(line);
    if (api) out.set(api[1]!, (out.get(api[1]!) ?? 0) + Number(api[3]));
    const watch = /^octopus_watch_restarts_total\{[^}]*\}\s+(\S+)/.exec(line);
    if (watch) out.set('WATCH', (out.get('WATCH') ?? 0) + Number(watch[1]));
  }
  return out;
}

function diff(after: Counts, before: Counts): Record<string, number> {
  const keys = new Set([...after.keys(), ...before.keys()]);
  return Object.fromEntries([...keys].sort().map((k) => [k, (after.get(k) ?? 0) - (before.get(k) ?? 0)]));
}

async function main(): Promise<void> {
  await up(() => {});
  console.log(`platform up; letting it settle for ${settleSeconds}s, then counting for ${windowSeconds}s`);
  await sleep(settleSeconds * 1000);
  const before = await counts();
  await sleep(windowSeconds * 1000);
  const byMethod = diff(await counts(), before);
  const total = Object.values(byMethod).reduce((a, b) => a + b, 0);
  const writes = (byMethod.POST ?? 0) + (byMethod.PUT ?? 0) + (byMethod.PATCH ?? 0) + (byMethod.DELETE ?? 0);
  const perMinute = (total * 60) / windowSeconds;
  const result = { date: new Date().toISOString(), windowSeconds, byMethod, total, writes, requestsPerMinute: perMinute, target: 10 };
  console.table({ ...byMethod, total, 'writes (POST/PUT/PATCH/DELETE)': writes, 'requests per minute': perMinute.toFixed(1), 'target per minute': 10 });
  const dir = join(repoRoot, 'e2e', 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `idle-${result.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${file} (the platform keeps running; npm run down stops it)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
