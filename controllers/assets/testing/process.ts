/** A controller process under test: started with the real flags, its JSON log lines collected, killed by its pid. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../../../hack/cluster/paths.js';
import { eventually } from '../../../e2e/harness/kube.js';

const entry = join(repoRoot, 'controllers', 'assets', 'testing', 'controller-process.ts');

export interface LogLine {
  time: number;
  msg: string;
  [key: string]: unknown;
}

export class ControllerProcess {
  readonly logs: LogLine[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private stderr = '';

  /** Starts the asset controllers watching `namespace`; `instance` names the process in Events and its Lease identity. */
  constructor(readonly instance: string, kubeconfig: string, namespace: string, flags: string[]) {
    this.child = spawn(process.execPath, ['--import', 'tsx', entry, '--kubeconfig', kubeconfig, '--metrics-port', '0', ...flags], {
      cwd: repoRoot,
      env: { ...process.env, OCTOPUS_TEST_NAMESPACE: namespace, POD_NAME: instance },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let pending = '';
    this.child.stdout!.on('data', (chunk: Buffer) => {
      const lines = (pending + chunk.toString()).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          // Not a log line (e.g. a stray print); the JSON lines are what the tests read.
        }
      }
    });
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  /** The first log line `match` accepts, once it is written. */
  async waitForLog(what: string, match: (line: LogLine) => boolean, timeoutMs = 60_000): Promise<LogLine> {
    return eventually(`${this.instance} to log ${what}${this.stderr ? ` (stderr: ${this.stderr.slice(-500)})` : ''}`, async () => this.logs.find(match), timeoutMs);
  }

  hasLogged(match: (line: LogLine) => boolean): boolean {
    return this.logs.some(match);
  }

  /** Sends `signal` to this process (by its pid) and waits for it to exit. */
  async kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }

  /** Ends the process, whatever state it is in; for after-test clean-up. */
  async stop(): Promise<void> {
    await this.kill('SIGKILL');
  }
}
