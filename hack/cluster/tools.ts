import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import { allTools, binDir, kubernetesTools, toolsDir, versions, type ToolName } from './versions.js';

/**
 * Builds the control-plane binaries from their Go modules at pinned versions into a cache
 * outside the repository. Nothing is downloaded except Go modules through GOPROXY.
 */

export interface BuildRecord {
  tool: ToolName;
  seconds: number;
  /** Peak resident memory of the largest process of the build, when /usr/bin/time is present. */
  peakRssMiB?: number;
  bytes: number;
}

type Log = (line: string) => void;

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Where a tool comes from: OCTOPUS_K8S_BIN, then KUBEBUILDER_ASSETS (envtest's layout),
 * then the cache. Returns the cache path even when it does not exist yet.
 */
export function resolveTool(tool: ToolName, env: NodeJS.ProcessEnv = process.env): string {
  for (const dir of [env.OCTOPUS_K8S_BIN, env.KUBEBUILDER_ASSETS]) {
    if (dir && isExecutable(join(dir, tool))) return join(dir, tool);
  }
  return join(binDir(env, tool), tool);
}

export function missingTools(env: NodeJS.ProcessEnv = process.env): ToolName[] {
  return allTools.filter((tool) => !isExecutable(resolveTool(tool, env)));
}

interface RunResult {
  seconds: number;
  peakRssMiB?: number;
}

const gnuTime = '/usr/bin/time';

/** Runs a command, streaming a heartbeat so a multi-minute build never looks hung. */
export function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; label: string; log: Log }): Promise<RunResult> {
  const started = Date.now();
  const rssFile = join(opts.cwd, `.rss-${process.pid}`);
  const useTime = existsSync(gnuTime);
  const [bin, argv] = useTime ? [gnuTime, ['-f', '%M', '-o', rssFile, cmd, ...args]] : [cmd, args];
  return new Promise((resolve, reject) => {
    const child = spawn(bin, argv, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 64_000) output = output.slice(-32_000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const ticker = setInterval(() => {
      opts.log(`  … ${opts.label}: ${Math.round((Date.now() - started) / 1000)}s`);
    }, 30_000);
    child.on('error', (err) => {
      clearInterval(ticker);
      reject(new Error(`${opts.label}: cannot start ${cmd}`, { cause: err }));
    });
    child.on('close', (code) => {
      clearInterval(ticker);
      const seconds = (Date.now() - started) / 1000;
      let peakRssMiB: number | undefined;
      if (useTime && existsSync(rssFile)) {
        const kib = Number.parseInt(readFileSync(rssFile, 'utf8').trim().split('\n').pop() ?? '', 10);
        if (Number.isFinite(kib)) peakRssMiB = Math.round(kib / 1024);
      }
      if (code === 0) resolve({ seconds, peakRssMiB });
      else reject(new Error(`${opts.label} failed (exit ${code}):\n${output.slice(-4000)}`));
    });
  });
}

export function goEnv(): NodeJS.ProcessEnv {
  // The wrapper modules are not in a VCS checkout; GOWORK off keeps a user's go.work out of it.
  return { ...process.env, GOFLAGS: '-buildvcs=false -mod=mod', GOWORK: 'off', CGO_ENABLED: '0' };
}

/** Reads the `./staging/src/...` replace list from k8s.io/kubernetes' own go.mod. */
export function stagingModules(kubernetesGoMod: string): string[] {
  const modules: string[] = [];
  for (const match of kubernetesGoMod.matchAll(/^\s*(k8s\.io\/[\w.-]+)\s+=>\s+\.\/staging\/src\/\S+\s*$/gm)) {
    modules.push(match[1]!);
  }
  return modules;
}

/** Fetches a module into the module cache (through the proxy) and says where it is. */
export async function downloadModule(module: string, version: string, cwd: string, log: Log): Promise<{ dir: string; goMod: string }> {
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('go', ['mod', 'download', '-json', `${module}@${version}`], { cwd, env: goEnv() });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => log(c.toString().trimEnd()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`go mod download ${module}@${version} failed`))));
  });
  const info = JSON.parse(out) as { Dir?: string; GoMod?: string; Error?: string };
  if (!info.Dir || !info.GoMod) throw new Error(`go mod download ${module}@${version}: ${info.Error ?? 'no module directory'}`);
  return { dir: info.Dir, goMod: info.GoMod };
}

async function downloadGoMod(module: string, version: string, cwd: string, log: Log): Promise<string> {
  return readFileSync((await downloadModule(module, version, cwd, log)).goMod, 'utf8');
}

function writeModule(dir: string, goMod: string, mainGo: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'go.mod'), goMod);
  writeFileSync(join(dir, 'main.go'), mainGo);
}

function kubernetesLdflags(): string {
  const [major, minor] = versions.kubernetes.replace(/^v/, '').split('.');
  const pkg = 'k8s.io/component-base/version';
  // The module proxy carries no commit id; an all-zero commit says so honestly.
  return [
    '-s',
    '-w',
    `-X ${pkg}.gitVersion=${versions.kubernetes}`,
    `-X ${pkg}.gitMajor=${major}`,
    `-X ${pkg}.gitMinor=${minor}`,
    `-X ${pkg}.gitTreeState=clean`,
    `-X ${pkg}.gitCommit=0000000000000000000000000000000000000000`,
    `-X ${pkg}.buildDate=1970-01-01T00:00:00Z`,
  ].join(' ');
}

async function prepareKubernetesModule(srcRoot: string, log: Log): Promise<string> {
  const dir = join(srcRoot, 'kubernetes');
  if (existsSync(join(dir, 'go.sum'))) return dir;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'go.mod'), 'module octopus.local/tools/kubernetes\n\ngo 1.24.0\n');
  log(`resolving k8s.io/kubernetes ${versions.kubernetes} and its staging modules`);
  const upstream = await downloadGoMod('k8s.io/kubernetes', versions.kubernetes, dir, log);
  const staging = stagingModules(upstream);
  if (staging.length === 0) throw new Error('k8s.io/kubernetes go.mod lists no staging modules; has its layout changed?');
  const goMod = [
    'module octopus.local/tools/kubernetes',
    '',
    'go 1.24.0',
    '',
    `require k8s.io/kubernetes ${versions.kubernetes}`,
    '',
    // k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with local
    // paths, which only work inside its own repository; pin each to its published release.
    'replace (',
    ...staging.map((m) => `\t${m} => ${m} ${versions.staging}`),
    ')',
    '',
  ].join('\n');
  const tools = [
    '//go:build tools',
    '',
    '// Package tools pins the commands built from this module.',
    'package tools',
    '',
    'import (',
    ...kubernetesTools.map((t) => `\t_ "k8s.io/kubernetes/cmd/${t}"`),
    ')',
    '',
  ].join('\n');
  writeFileSync(join(dir, 'go.mod'), goMod);
  writeFileSync(join(dir, 'tools.go'), tools);
  await run('go', ['mod', 'tidy'], { cwd: dir, env: goEnv(), label: 'go mod tidy (kubernetes)', log });
  return dir;
}

async function prepareEtcdModule(srcRoot: string, log: Log): Promise<string> {
  const dir = join(srcRoot, 'etcd');
  if (existsSync(join(dir, 'go.sum'))) return dir;
  // etcd's server module replaces its sibling modules with ../ paths; pin them to the release.
  const [, minor, patch] = versions.etcd.replace(/^v/, '').split('.');
  // client/v2 kept its major version and numbers its releases v2.30<minor>.<patch>.
  const siblings: Record<string, string> = {
    'api/v3': versions.etcd,
    'client/pkg/v3': versions.etcd,
    'client/v2': `v2.30${minor}.${patch}`,
    'client/v3': versions.etcd,
    'pkg/v3': versions.etcd,
    'raft/v3': versions.etcd,
  };
  const goMod = [
    'module octopus.local/tools/etcd',
    '',
    'go 1.23.0',
    '',
    `require go.etcd.io/etcd/server/v3 ${versions.etcd}`,
    '',
    'replace (',
    ...Object.entries(siblings).map(([m, v]) => `\tgo.etcd.io/etcd/${m} => go.etcd.io/etcd/${m} ${v}`),
    ')',
    '',
  ].join('\n');
  const mainGo = [
    '// Command etcd runs the etcd server from go.etcd.io/etcd/server/v3.',
    'package main',
    '',
    'import (',
    '\t"os"',
    '',
    '\t"go.etcd.io/etcd/server/v3/etcdmain"',
    ')',
    '',
    'func main() { etcdmain.Main(os.Args) }',
    '',
  ].join('\n');
  writeModule(dir, goMod, mainGo);
  await run('go', ['mod', 'tidy'], { cwd: dir, env: goEnv(), label: 'go mod tidy (etcd)', log });
  return dir;
}

async function buildOne(tool: ToolName, root: string, log: Log): Promise<BuildRecord> {
  const out = join(binDir(process.env, tool), tool);
  const srcRoot = join(root, 'src');
  const env = goEnv();
  let result: RunResult;
  log(`building ${tool}`);
  if ((kubernetesTools as readonly string[]).includes(tool)) {
    const dir = await prepareKubernetesModule(srcRoot, log);
    result = await run('go', ['build', '-trimpath', '-ldflags', kubernetesLdflags(), '-o', out, `k8s.io/kubernetes/cmd/${tool}`], {
      cwd: dir,
      env,
      label: `go build ${tool}`,
      log,
    });
  } else if (tool === 'etcd') {
    const dir = await prepareEtcdModule(srcRoot, log);
    result = await run('go', ['build', '-trimpath', '-ldflags', '-s -w', '-o', out, '.'], { cwd: dir, env, label: 'go build etcd', log });
  } else if (tool === 'versitygw') {
    mkdirSync(srcRoot, { recursive: true });
    result = await run('go', ['install', '-trimpath', '-ldflags', `-s -w -X main.Version=${versions.versitygw}`, `github.com/versity/versitygw/cmd/versitygw@${versions.versitygw}`], {
      cwd: srcRoot,
      env: { ...env, GOBIN: binDir(process.env, tool), GOFLAGS: '-buildvcs=false' },
      label: 'go install versitygw',
      log,
    });
  } else {
    const pkg = tool === 'kwok' ? `sigs.k8s.io/kwok/cmd/kwok@${versions.kwok}` : `helm.sh/helm/v3/cmd/helm@${versions.helm}`;
    // kwok embeds its own version. helm's version, and the Kubernetes version it assumes when
    // templating offline (a chart's kubeVersion is checked against it), are set at link time.
    const [, minor] = versions.staging.replace(/^v/, '').split('.');
    const helmFlags = [
      `-X helm.sh/helm/v3/internal/version.version=${versions.helm}`,
      ...['pkg/lint/rules', 'pkg/chartutil'].flatMap((pkg) => [`-X helm.sh/helm/v3/${pkg}.k8sVersionMajor=1`, `-X helm.sh/helm/v3/${pkg}.k8sVersionMinor=${minor}`]),
    ];
    const ldflags = tool === 'kwok' ? '-s -w' : ['-s -w', ...helmFlags].join(' ');
    mkdirSync(srcRoot, { recursive: true });
    result = await run('go', ['install', '-trimpath', '-ldflags', ldflags, pkg], {
      cwd: srcRoot,
      env: { ...env, GOBIN: binDir(), GOFLAGS: '-buildvcs=false' },
      label: `go install ${tool}`,
      log,
    });
  }
  const record: BuildRecord = { tool, seconds: Math.round(result.seconds), bytes: statSync(out).size };
  if (result.peakRssMiB !== undefined) record.peakRssMiB = result.peakRssMiB;
  log(`built ${tool} in ${record.seconds}s${record.peakRssMiB ? `, peak RSS ${record.peakRssMiB} MiB` : ''}`);
  return record;
}

/** Keeps the build figures beside the binaries; a partial run keeps what it finished. */
function recordBuild(root: string, record: BuildRecord): void {
  const reportPath = join(root, 'build-report.json');
  const previous: BuildRecord[] = existsSync(reportPath) ? (JSON.parse(readFileSync(reportPath, 'utf8')) as BuildRecord[]) : [];
  const merged = [...previous.filter((p) => p.tool !== record.tool), record];
  writeFileSync(reportPath, JSON.stringify(merged, null, 2) + '\n');
}

/** Builds every missing tool; returns what was built (empty when the cache was complete). */
export async function ensureTools(log: Log = console.log): Promise<BuildRecord[]> {
  const missing = missingTools();
  if (missing.length === 0) {
    log(`tools: all present in ${binDir()}`);
    return [];
  }
  const root = toolsDir();
  for (const tool of missing) mkdirSync(binDir(process.env, tool), { recursive: true });
  log(`tools: building ${missing.join(', ')} into ${[...new Set(missing.map((t) => binDir(process.env, t)))].join(' and ')} (a cold build takes several minutes)`);
  const records: BuildRecord[] = [];
  for (const tool of missing) {
    const record = await buildOne(tool, root, log);
    records.push(record);
    recordBuild(root, record);
  }
  return records;
}
