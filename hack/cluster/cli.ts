import { parseArgs } from 'node:util';
import { ensureTools } from './tools.js';
import { down, status, up } from './plane.js';
import { defaultNodeCounts, type NodeCounts } from './nodes.js';
import { binDir } from './versions.js';
import { kubeconfigPath } from './paths.js';

const usage = `usage: npm run cluster -- <command> [options]

commands:
  tools    build the pinned Kubernetes binaries and the S3 server (versitygw) into
           ${binDir()} and ${binDir(process.env, 'versitygw')} (skips what exists)
  up       start etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok,
           the storage provisioner, the S3 server (keys in <state>/s3/access.json) and the
           pod runner; create simulated nodes; reuses a healthy plane, cleans a stale one first
             --cpu-nodes N --gpu-nodes N --npu-nodes N   (default ${defaultNodeCounts.cpu}/${defaultNodeCounts.gpu}/${defaultNodeCounts.npu})
  down     stop what 'up' started and remove its state
  status   report each component (exit 1 when any is down)

environment:
  OCTOPUS_TOOLS_DIR   binary cache (default ~/.cache/octopus/<versions>)
  OCTOPUS_K8S_BIN     use binaries from this folder instead of building them
  KUBEBUILDER_ASSETS  likewise, envtest layout
  OCTOPUS_STATE_DIR   plane state, logs and kubeconfig (default .octopus/local)
  OCTOPUS_PORT_BASE   loopback port base (default 16000)`;

function count(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} must be a non-negative integer, got "${value}"`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'cpu-nodes': { type: 'string' },
      'gpu-nodes': { type: 'string' },
      'npu-nodes': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    console.log(usage);
    return command || values.help ? 0 : 2;
  }
  switch (command) {
    case 'tools': {
      const built = await ensureTools();
      for (const b of built) console.log(`  ${b.tool.padEnd(24)} ${String(b.seconds).padStart(5)}s  ${b.peakRssMiB ?? '?'} MiB peak`);
      return 0;
    }
    case 'up': {
      const nodes: NodeCounts = {
        cpu: count(values['cpu-nodes'], defaultNodeCounts.cpu, '--cpu-nodes'),
        gpu: count(values['gpu-nodes'], defaultNodeCounts.gpu, '--gpu-nodes'),
        npu: count(values['npu-nodes'], defaultNodeCounts.npu, '--npu-nodes'),
      };
      const result = await up({ nodes });
      console.log(`\nexport KUBECONFIG=${result.kubeconfig}`);
      return 0;
    }
    case 'down':
      await down();
      return 0;
    case 'status': {
      const components = await status();
      for (const c of components) {
        console.log(`${c.name.padEnd(24)} ${c.healthy ? 'healthy' : c.pid ? 'unhealthy' : 'stopped'}${c.pid ? ` (pid ${c.pid})` : ''}`);
      }
      const allHealthy = components.every((c) => c.healthy);
      if (allHealthy) console.log(`\nexport KUBECONFIG=${kubeconfigPath()}`);
      return allHealthy ? 0 : 1;
    }
    default:
      console.error(`unknown command "${command}"\n\n${usage}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
