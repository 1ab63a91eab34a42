/**
 * Fails when committed generated files differ from what the generators produce now:
 * the chart (and its CRDs) come from apis/ and cdk8s/, never from hand edits.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { generatedPaths, renderChartFiles } from '../cdk8s/synth.js';
import { repoRoot } from './cluster/paths.js';

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  if (!statSync(dir).isDirectory()) return [dir];
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

const chartDir = join(repoRoot, 'charts', 'octopus');
const wanted = renderChartFiles();
const problems: string[] = [];
for (const [path, content] of wanted) {
  const onDisk = join(chartDir, path);
  if (!existsSync(onDisk)) problems.push(`missing: charts/octopus/${path}`);
  else if (readFileSync(onDisk, 'utf8') !== content) problems.push(`differs: charts/octopus/${path}`);
}
for (const dir of generatedPaths) {
  for (const file of listFiles(join(chartDir, dir))) {
    const path = relative(chartDir, file);
    if (!wanted.has(path)) problems.push(`stale: charts/octopus/${path}`);
  }
}
if (problems.length > 0) {
  console.error(`generated files are out of date — run \`npm run generate\` and commit:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`generated files up to date (${wanted.size} checked)`);
