import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../../hack/cluster/paths.js';

export interface ControllerProcess {
  child: ChildProcess;
  log: string;
  /** Resolves with the exit code or signal once the process ended. */
  exited: Promise<number | NodeJS.Signals>;
  kill(signal?: NodeJS.Signals): Promise<number | NodeJS.Signals>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the pid is gone, throws if it is not. */
  stop(graceMs?: number): Promise<void>;
}

/** What this process started and has not seen exit: killed when this process exits, whatever the reason. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Runs `command` as a child process logging to `log`; see ControllerProcess for how it ends. */
export function startProcess(command: string, args: string[], opts: { log: string; cwd?: string; env?: NodeJS.ProcessEnv }): ControllerProcess {
  const out = openSync(opts.log, 'a');
  // Its own process group: a Ctrl-C at the terminal reaches only the parent, which may need the
  // child running while it cleans up (Kueue's finalizers), and stops it after.
  const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', out, out], detached: true });
  closeSync(out);
  live.add(child);
  const exited = new Promise<number | NodeJS.Signals>((resolve) =>
    child.on('exit', (code, signal) => {
      live.delete(child);
      resolve(signal ?? code ?? 0);
    }),
  );
  const ended = () => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    log: opts.log,
    exited,
    kill: (signal: NodeJS.Signals = 'SIGTERM') => {
      child.kill(signal);
      return exited;
    },
    stop: async (graceMs = 15_000) => {
      if (!ended()) {
        child.kill('SIGTERM');
        // Kueue's manager was seen ignoring SIGTERM: the grace period is a bound, not a hope.
        const timer = setTimeout(() => {
          console.error(`${command} (pid ${child.pid}) ignored SIGTERM for ${graceMs / 1000}s; sending SIGKILL`);
          child.kill('SIGKILL');
        }, graceMs);
        await exited;
        clearTimeout(timer);
      }
      // Reaped once 'exit' fired: a pid still in /proc is a process that outlived its kill.
      if (child.pid !== undefined && existsSync(`/proc/${child.pid}`)) throw new Error(`${command} (pid ${child.pid}) still runs after SIGKILL`);
    },
  };
}

/** Throws, with the last lines of its log, when `p` has exited. */
export function assertAlive(p: ControllerProcess): void {
  const { exitCode, signalCode, spawnfile } = p.child;
  if (exitCode === null && signalCode === null) return;
  const tail = readFileSync(p.log, 'utf8').split('\n').slice(-20).join('\n');
  throw new Error(`${spawnfile} exited (${exitCode ?? signalCode}); last lines of ${p.log}:\n${tail}`);
}

/** Runs `octopus-controller` as its own process, as a Deployment would, logging to `log`. */
export function startControllerProcess(kubeconfig: string, args: string[], log: string): ControllerProcess {
  const tsx = pathToFileURL(createRequire(join(repoRoot, 'package.json')).resolve('tsx')).href;
  return startProcess(process.execPath, ['--import', tsx, join(repoRoot, 'controllers', 'main.ts'), '--kubeconfig', kubeconfig, '--metrics-port', '0', ...args], { log, cwd: repoRoot });
}

let built: string | undefined;

/**
 * The controller compiled as the image builds it, once per process, into a folder of this run's
 * own under dist/ (ignored by git): inside the repository, so its imports find node_modules.
 * A benchmark calls it when it records its source, so what runs is what it recorded.
 */
export function builtController(): string {
  if (!built) {
    mkdirSync(join(repoRoot, 'dist'), { recursive: true });
    const outDir = mkdtempSync(join(repoRoot, 'dist', 'bench-'));
    process.on('exit', () => rmSync(outDir, { recursive: true, force: true }));
    execFileSync(process.execPath, [createRequire(join(repoRoot, 'package.json')).resolve('typescript/bin/tsc'), '-p', join(repoRoot, 'tsconfig.build.json'), '--outDir', outDir], { cwd: repoRoot, stdio: 'inherit' });
    built = join(outDir, 'controllers', 'main.js');
  }
  return built;
}

/**
 * Runs `octopus-controller` as the chart deploys it: compiled JavaScript, with the Node.js flags
 * the chart passes (`nodeOptions`), not through tsx, whose loader thread and on-the-fly
 * compilation a deployed controller does not carry. For benchmarks, whose memory and CPU count.
 */
export function startBuiltControllerProcess(kubeconfig: string, args: string[], log: string, nodeOptions: string[]): ControllerProcess {
  return startProcess(process.execPath, [...nodeOptions, builtController(), '--kubeconfig', kubeconfig, '--metrics-port', '0', ...args], { log, cwd: repoRoot });
}
