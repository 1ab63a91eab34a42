import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Everything a running plane owns lives here; `down` removes it. Git-ignored. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.OCTOPUS_STATE_DIR ?? join(repoRoot, '.octopus', 'local');
}

export function kubeconfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(stateDir(env), 'kubeconfig');
}

/**
 * Loopback ports, offset from one base so two planes (say, a developer's and a CI run's)
 * can coexist by setting OCTOPUS_PORT_BASE.
 */
export function ports(env: NodeJS.ProcessEnv = process.env) {
  const base = Number.parseInt(env.OCTOPUS_PORT_BASE ?? '16000', 10);
  if (!Number.isInteger(base) || base < 1024 || base > 60000) {
    throw new Error(`OCTOPUS_PORT_BASE must be an integer between 1024 and 60000, got ${env.OCTOPUS_PORT_BASE}`);
  }
  return {
    etcdClient: base + 379,
    etcdPeer: base + 380,
    apiserver: base + 443,
    controllerManager: base + 257,
    scheduler: base + 259,
    kwok: base + 247,
    provisioner: base + 248,
    podRunner: base + 249,
    webhooks: base + 250,
    controllerMetrics: base + 251,
    /** The S3 server (versitygw). */
    s3: base + 900,
  };
}
