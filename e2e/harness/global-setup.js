// Integration and e2e suites run against a real control plane: a local one of their own
// (started or reused here through hack/'s CLI), or any cluster named by E2E_KUBECONFIG.
// The test plane has its own state folder and ports, apart from the one `npm run up` runs,
// so tests never disturb (or are disturbed by) a platform someone is using.
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
  process.env.OCTOPUS_STATE_DIR ??= join(repoRoot, '.octopus', 'test');
  process.env.OCTOPUS_PORT_BASE ??= '17000';
  const result = spawnSync(join(repoRoot, 'node_modules', '.bin', 'tsx'), [join(repoRoot, 'hack', 'cluster', 'cli.ts'), 'up'], {
    cwd: repoRoot,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (result.status !== 0) throw new Error(`local control plane did not come up (exit ${result.status}); see the output above`);
  process.env.OCTOPUS_TEST_KUBECONFIG = join(process.env.OCTOPUS_STATE_DIR, 'kubeconfig');
  process.env.OCTOPUS_TEST_LOCAL_PLANE = '1';
}
