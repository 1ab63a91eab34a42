// Integration and e2e suites run against a real control plane: the local one (started or
// reused here through hack/'s CLI), or any cluster named by E2E_KUBECONFIG (kind, a dev cluster).
// Plain JavaScript because jest loads global setup outside its TypeScript transform.
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export default function globalSetup() {
  if (process.env.E2E_KUBECONFIG) {
    process.env.OCTOPUS_TEST_KUBECONFIG = process.env.E2E_KUBECONFIG;
    return;
  }
  if (process.env.OCTOPUS_TEST_LOCAL_PLANE === '1') return; // another project's setup already ran
  const result = spawnSync(join(repoRoot, 'node_modules', '.bin', 'tsx'), [join(repoRoot, 'hack', 'cluster', 'cli.ts'), 'up'], {
    cwd: repoRoot,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (result.status !== 0) throw new Error(`local control plane did not come up (exit ${result.status}); see the output above`);
  // Suites run their own controllers: a platform left running by `npm run up` would race them.
  const stop = spawnSync(join(repoRoot, 'node_modules', '.bin', 'tsx'), [join(repoRoot, 'hack', 'platform.ts'), 'stop'], {
    cwd: repoRoot,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (stop.status !== 0) throw new Error('could not stop the local Octopus processes; see the output above');
  const stateDir = process.env.OCTOPUS_STATE_DIR ?? join(repoRoot, '.octopus', 'local');
  process.env.OCTOPUS_TEST_KUBECONFIG = join(stateDir, 'kubeconfig');
  process.env.OCTOPUS_TEST_LOCAL_PLANE = '1';
}
