import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
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
}

/** Runs `octopus-controller` as its own process, as a Deployment would, logging to `log`. */
export function startControllerProcess(kubeconfig: string, args: string[], log: string): ControllerProcess {
  const tsx = pathToFileURL(createRequire(join(repoRoot, 'package.json')).resolve('tsx')).href;
  const out = openSync(log, 'a');
  const child = spawn(process.execPath, ['--import', tsx, join(repoRoot, 'controllers', 'main.ts'), '--kubeconfig', kubeconfig, '--metrics-port', '0', ...args], {
    cwd: repoRoot,
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  const exited = new Promise<number | NodeJS.Signals>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code ?? 0)));
  return {
    child,
    log,
    exited,
    kill: (signal: NodeJS.Signals = 'SIGTERM') => {
      child.kill(signal);
      return exited;
    },
  };
}
