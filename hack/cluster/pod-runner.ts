/**
 * A kubelet for the operator's own program on the local plane. kwok simulates every pod; pods
 * whose image is `hostImage` (the controller's --importer-image on the local platform) are left
 * to this runner instead (kwok-stages.yaml excludes them), which runs their command as a host
 * process: octopus-data from this checkout, with the pod's environment (secretKeyRef read from
 * the Secret), each claim mount mapped to the host path of its volume (the local provisioner
 * backs every claim with one), and the termination message, exit code and phase reported in the
 * pod's status the way a kubelet does. So on the local plane the bytes land on disk and the
 * status the controller reads comes from the real program. A pod that asks to be simulated
 * (annotation sim.octopus.openi.pcl.cn/outcome, README "Simulated pods") gets that outcome
 * without running anything, as kwok would give it. Test infrastructure only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { CoreV1Api, KubeConfig, makeInformer, PatchStrategy, setHeaderOptions, type V1Container, type V1EnvVar, type V1Pod } from '@kubernetes/client-node';
import { nodeFlags } from '../../controllers/octopus-data/node-flags.js';
import { programPath } from '../../controllers/octopus-data/testing/run.js';

/** The image the local platform gives import Jobs; nothing pulls it. */
export const hostImage = 'octopus.local/octopus:host';

/** Pods the runner looks at: every asset child (import and export pods carry this label). */
const podSelector = 'octopus.openi.pcl.cn/asset-kind';

/** The host command for a container's command and arguments; only octopus-data runs here. */
export function hostCommand(container: Pick<V1Container, 'command' | 'args'>, tsxLoader: string): string[] | { error: string } {
  const [program, ...rest] = [...(container.command ?? []), ...(container.args ?? [])];
  if (program !== 'octopus-data') return { error: `the local pod runner runs only octopus-data, not ${JSON.stringify(program ?? '(the image entrypoint)')}` };
  return [process.execPath, ...nodeFlags, '--import', tsxLoader, programPath, ...rest];
}

/** A path inside the container as a host path, through the mounts (longest mount path first). */
export function hostPath(path: string, mounts: ReadonlyMap<string, string>): string {
  const sorted = [...mounts.keys()].sort((a, b) => b.length - a.length);
  for (const mount of sorted) {
    if (path === mount || path.startsWith(mount.endsWith('/') ? mount : `${mount}/`)) return mounts.get(mount)! + path.slice(mount.length);
  }
  return path;
}

/**
 * The container's environment: literal values (paths under a mount mapped to the host), secretKeyRef
 * values from `secrets`; a missing non-optional key is an error, as the kubelet refuses to start.
 */
export function containerEnv(env: readonly V1EnvVar[], secrets: ReadonlyMap<string, Record<string, string> | undefined>, mounts: ReadonlyMap<string, string>): Record<string, string> | { error: string } {
  const out: Record<string, string> = {};
  for (const e of env) {
    if (e.value !== undefined) out[e.name] = e.value.startsWith('/') ? hostPath(e.value, mounts) : e.value;
    else if (e.valueFrom?.secretKeyRef) {
      const ref = e.valueFrom.secretKeyRef;
      const data = secrets.get(ref.name!);
      const value = data?.[ref.key];
      if (value !== undefined) out[e.name] = Buffer.from(value, 'base64').toString('utf8');
      else if (!ref.optional) return { error: data ? `secret "${ref.name}" has no key "${ref.key}"` : `secret "${ref.name}" not found` };
    } else if (e.valueFrom) return { error: `env ${e.name}: only value and secretKeyRef are supported by the local pod runner` };
  }
  return out;
}

/** What the kubelet reports: the file's content, else (FallbackToLogsOnError, on failure) the log's last lines. */
export function terminationMessage(file: string, log: string, exitCode: number, policy: string | undefined): string {
  if (file !== '' || exitCode === 0 || policy !== 'FallbackToLogsOnError') return file.slice(0, 4096);
  return log.split('\n').slice(-80).join('\n').slice(-2048);
}

const sim = 'sim.octopus.openi.pcl.cn/';

export interface Simulation {
  outcome: 'Succeed' | 'Fail' | 'Pending' | 'Run';
  afterMs: number;
  exitCode: number;
  message: string;
}

/** A Go duration of the forms the stages use (500ms, 1s, 2m, 1h30m); undefined when it is none. */
export function goDurationMs(text: string): number | undefined {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) return undefined;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  return parts.reduce((sum, p) => sum + Number(p[1]) * unit[p[2]!]!, 0);
}

/** The outcome a pod's sim annotations ask for, the same reading as hack/cluster/kwok-stages.yaml; undefined when it asks none. */
export function simulation(annotations: Record<string, string> | undefined): Simulation | undefined {
  const outcome = annotations?.[`${sim}outcome`];
  if (outcome === undefined) return undefined;
  return {
    outcome: outcome === 'Succeed' || outcome === 'Fail' || outcome === 'Pending' ? outcome : 'Run',
    afterMs: goDurationMs(annotations?.[`${sim}duration`] ?? '') ?? 1000,
    exitCode: Number.parseInt(annotations?.[`${sim}exit-code`] ?? '', 10) || 1,
    message: annotations?.[`${sim}message`] ?? '',
  };
}

interface Running {
  child?: ChildProcess;
  timer?: NodeJS.Timeout;
  startedAt: string;
}

class Runner {
  private readonly running = new Map<string, Running>();
  /** Pods this runner ended: the watch cache may still show them Running for a moment. */
  private readonly ended = new Set<string>();

  constructor(
    private readonly core: CoreV1Api,
    private readonly stateDir: string,
    private readonly tsxLoader: string,
  ) {}

  private async patchStatus(pod: V1Pod, status: Record<string, unknown>): Promise<void> {
    await this.core.patchNamespacedPodStatus({ name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, body: { status } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  }

  private async finish(pod: V1Pod, container: V1Container, exitCode: number, message: string, startedAt: string): Promise<void> {
    const now = new Date().toISOString();
    await this.patchStatus(pod, {
      phase: exitCode === 0 ? 'Succeeded' : 'Failed',
      conditions: [
        { type: 'Ready', status: 'False', reason: 'PodCompleted', lastTransitionTime: now },
        { type: 'ContainersReady', status: 'False', reason: 'PodCompleted', lastTransitionTime: now },
      ],
      containerStatuses: [
        {
          name: container.name,
          image: container.image,
          imageID: '',
          ready: false,
          restartCount: 0,
          started: false,
          state: { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', message, startedAt, finishedAt: now } },
        },
      ],
    });
  }

  /** Claim mounts → host paths of their volumes. */
  private async mounts(pod: V1Pod, container: V1Container): Promise<Map<string, string>> {
    const mounts = new Map<string, string>();
    for (const m of container.volumeMounts ?? []) {
      const claim = pod.spec?.volumes?.find((v) => v.name === m.name)?.persistentVolumeClaim?.claimName;
      if (!claim) throw new Error(`volume ${m.name}: only persistentVolumeClaim volumes are supported by the local pod runner`);
      const pvc = await this.core.readNamespacedPersistentVolumeClaim({ name: claim, namespace: pod.metadata!.namespace! });
      const pv = pvc.spec?.volumeName ? await this.core.readPersistentVolume({ name: pvc.spec.volumeName }) : undefined;
      const path = pv?.spec?.hostPath?.path;
      if (!path) throw new Error(`claim ${claim} is not bound to a hostPath volume`);
      mkdirSync(join(path, m.subPath ?? ''), { recursive: true });
      mounts.set(m.mountPath, join(path, m.subPath ?? ''));
    }
    return mounts;
  }

  private async markRunning(pod: V1Pod, container: V1Container, startedAt: string): Promise<void> {
    await this.patchStatus(pod, {
      phase: 'Running',
      hostIP: '10.0.0.1',
      podIP: '10.0.0.1',
      startTime: startedAt,
      conditions: [
        { type: 'Initialized', status: 'True', lastTransitionTime: startedAt },
        { type: 'Ready', status: 'True', lastTransitionTime: startedAt },
        { type: 'ContainersReady', status: 'True', lastTransitionTime: startedAt },
      ],
      containerStatuses: [{ name: container.name, image: container.image, imageID: '', ready: true, restartCount: 0, started: true, state: { running: { startedAt } } }],
    });
  }

  /** Plays a simulated pod's outcome, as kwok's stages would. */
  private async simulate(pod: V1Pod, plan: Simulation): Promise<void> {
    const uid = pod.metadata!.uid!;
    const container = pod.spec!.containers[0]!;
    const startedAt = new Date().toISOString();
    if (plan.outcome === 'Pending') {
      this.running.set(uid, { startedAt });
      return;
    }
    const entry: Running = { startedAt };
    this.running.set(uid, entry);
    await this.markRunning(pod, container, startedAt);
    if (plan.outcome === 'Run') return;
    entry.timer = setTimeout(() => {
      this.ended.add(uid);
      this.running.delete(uid);
      const code = plan.outcome === 'Succeed' ? 0 : plan.exitCode;
      this.finish(pod, container, code, plan.message, startedAt).catch((err: unknown) => console.error(`pod-runner: ${pod.metadata!.name}: ${String(err)}`));
    }, plan.afterMs);
  }

  private async start(pod: V1Pod): Promise<void> {
    const uid = pod.metadata!.uid!;
    const container = pod.spec!.containers[0]!;
    const plan = simulation(pod.metadata?.annotations);
    if (plan) return this.simulate(pod, plan);
    const startedAt = new Date().toISOString();
    const fail = (why: string) => {
      this.ended.add(uid);
      return this.finish(pod, container, 128, why, startedAt);
    };
    const command = hostCommand(container, this.tsxLoader);
    if ('error' in command) return fail(command.error);
    let mounts: Map<string, string>;
    try {
      mounts = await this.mounts(pod, container);
    } catch (err) {
      return fail((err as Error).message);
    }
    const secretNames = new Set((container.env ?? []).flatMap((e) => (e.valueFrom?.secretKeyRef?.name ? [e.valueFrom.secretKeyRef.name] : [])));
    const secrets = new Map<string, Record<string, string> | undefined>();
    for (const name of secretNames) {
      secrets.set(name, await this.core.readNamespacedSecret({ name, namespace: pod.metadata!.namespace! }).then((s) => s.data ?? {}, () => undefined));
    }
    const env = containerEnv(container.env ?? [], secrets, mounts);
    if ('error' in env) return fail(env.error);
    const dir = join(this.stateDir, 'pods', `${pod.metadata!.namespace}_${pod.metadata!.name}_${uid}`);
    mkdirSync(dir, { recursive: true });
    const terminationLog = join(dir, 'termination-log');
    const logFile = join(dir, 'container.log');
    // Running is written before the process starts: a fast exit's Failed must never be overwritten by a late Running.
    await this.markRunning(pod, container, startedAt);
    const out = openSync(logFile, 'a');
    const child = spawn(command[0]!, command.slice(1), { env: { PATH: process.env.PATH, HOME: dir, ...env, OCTOPUS_TERMINATION_LOG: terminationLog }, stdio: ['ignore', out, out], cwd: dir });
    closeSync(out);
    this.running.set(uid, { child, startedAt });
    child.on('exit', (code, signal) => {
      this.ended.add(uid);
      this.running.delete(uid);
      const exitCode = code ?? (signal === 'SIGKILL' ? 137 : 143);
      const read = (f: string) => {
        try {
          return readFileSync(f, 'utf8');
        } catch {
          return '';
        }
      };
      const message = terminationMessage(read(terminationLog), read(logFile), exitCode, container.terminationMessagePolicy);
      this.finish(pod, container, exitCode, message, startedAt).catch((err: unknown) => console.error(`pod-runner: ${pod.metadata!.namespace}/${pod.metadata!.name}: ${String(err)}`));
    });
  }

  /** One look at every asset pod (from the watch cache): start, finish, stop or nudge what needs it. */
  async pass(all: readonly V1Pod[]): Promise<void> {
    const pods = all.filter((p) => p.spec?.containers.some((c) => c.image === hostImage));
    const seen = new Set<string>();
    for (const pod of pods) {
      const uid = pod.metadata!.uid!;
      seen.add(uid);
      const mine = this.running.get(uid);
      if (pod.metadata?.deletionTimestamp) {
        if (mine) this.stop(uid, mine);
        continue;
      }
      if (!pod.spec?.nodeName) {
        await this.nudge(pod);
        continue;
      }
      if (mine || this.ended.has(uid)) continue;
      if (pod.status?.phase === 'Pending') await this.start(pod);
      else if (pod.status?.phase === 'Running') {
        // Running but not ours: started by a runner that has since stopped; like a lost node, it failed.
        await this.finish(pod, pod.spec.containers[0]!, 137, 'the local pod runner restarted while this pod ran', new Date(pod.status.startTime ?? Date.now()).toISOString());
      }
    }
    for (const [uid, r] of this.running) if (!seen.has(uid)) this.stop(uid, r);
  }

  /**
   * An import pod is created with its claim, so the scheduler's first try finds the claim unbound
   * and parks the pod; the claim's binding a moment later does not always bring it back (it then
   * waits for the scheduler's 5-minute flush). Touching the pod does, once its claims are bound.
   */
  private async nudge(pod: V1Pod): Promise<void> {
    const created = Date.parse(String(pod.metadata?.creationTimestamp ?? ''));
    const lastNudge = Number(pod.metadata?.annotations?.['octopus.local/nudged-at'] ?? created);
    if (pod.status?.phase !== 'Pending' || Date.now() - lastNudge < 3000) return;
    const namespace = pod.metadata!.namespace!;
    for (const v of pod.spec?.volumes ?? []) {
      const claim = v.persistentVolumeClaim?.claimName;
      if (claim && (await this.core.readNamespacedPersistentVolumeClaim({ name: claim, namespace })).status?.phase !== 'Bound') return;
    }
    await this.core.patchNamespacedPod({ name: pod.metadata!.name!, namespace, body: { metadata: { annotations: { 'octopus.local/nudged-at': String(Date.now()) } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  }

  private stop(uid: string, r: Running): void {
    r.child?.kill('SIGKILL');
    clearTimeout(r.timer);
    this.running.delete(uid);
  }

  stopAll(): void {
    for (const [uid, r] of this.running) this.stop(uid, r);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { kubeconfig: { type: 'string' }, port: { type: 'string' }, state: { type: 'string' } } });
  if (!values.kubeconfig || !values.port || !values.state) throw new Error('usage: pod-runner --kubeconfig <path> --port <health port> --state <folder>');
  const kc = new KubeConfig();
  kc.loadFromFile(values.kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const runner = new Runner(core, values.state, import.meta.resolve('tsx'));
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      runner.stopAll();
      process.exit(0);
    });
  }
  // A watch, not a poll: benchmarks run thousands of pods on the same plane, and a list of them twice a second would cost the apiserver.
  const informer = makeInformer<V1Pod>(kc, '/api/v1/pods', () => core.listPodForAllNamespaces({ labelSelector: podSelector }), podSelector);
  let wanted = true;
  const wake = () => (wanted = true);
  for (const event of ['add', 'update', 'delete'] as const) informer.on(event, wake);
  informer.on('error', (err: unknown) => {
    console.error(`pod-runner: watch failed (${err instanceof Error ? err.message : String(err)}); resuming`);
    void sleep(1000).then(() => informer.start());
  });
  await informer.start();
  createServer((_, res) => res.end('ok')).listen(Number(values.port), '127.0.0.1');
  // Passes run one at a time: on a change, and every few seconds for pods parked by the scheduler (see nudge).
  for (let tick = 0; ; tick++) {
    if (wanted || tick % 10 === 0) {
      wanted = false;
      await runner.pass(informer.list()).catch((err: unknown) => console.error(`pod-runner: ${err instanceof Error ? err.message : String(err)}`));
    }
    await sleep(300);
  }
}

if (process.argv[1]?.endsWith('pod-runner.ts')) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
