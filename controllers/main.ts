/**
 * octopus-controller: one process running every Octopus controller under one leader
 * election, one set of shared informers and one /metrics endpoint.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { pathToFileURL } from 'node:url';
import { Manager } from './runtime/index.js';
import { parseOptions, usage, type ControllerOptions } from './options.js';
import type { ControllerSetup } from './context.js';
import { setupAlgorithmController } from './algorithm/controller.js';
import { setupSharedVolumeController } from './assets/shared-volumes.js';
import { setupDatasetController } from './dataset/controller.js';
import { setupImageController } from './image/controller.js';
import { setupModelController } from './model/controller.js';
import { setupJobController } from './job/controller.js';
import { setupQuotaController } from './quota/controller.js';
import { setupResourcePoolController } from './pool/controller.js';
import { setupResourceSpecController } from './resourcespec/controller.js';
import { setupWorkspaceController } from './workspace/controller.js';
import { setupNotebookController } from './notebook/controller.js';
import { setupModelServiceController } from './modelservice/controller.js';

/** Every controller, in no particular order: each reconciles from its own informers. */
export const controllers: ControllerSetup[] = [setupJobController, setupQuotaController, setupResourcePoolController, setupResourceSpecController, setupDatasetController, setupAlgorithmController, setupImageController, setupModelController, setupWorkspaceController, setupNotebookController, setupModelServiceController, setupSharedVolumeController];

export function loadKubeConfig(options: Pick<ControllerOptions, 'kubeconfig'>): KubeConfig {
  const kc = new KubeConfig();
  // loadFromDefault() would silently fall back to localhost:8080 outside a pod.
  if (options.kubeconfig) kc.loadFromFile(options.kubeconfig);
  else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else throw new Error('no kubeconfig: pass --kubeconfig (or OCTOPUS_KUBECONFIG), or run in a pod');
  return kc;
}

export function createManager(options: ControllerOptions): Manager {
  const logger = pino({ name: 'octopus-controller', level: options.logLevel });
  const manager = new Manager({
    kubeConfig: loadKubeConfig(options),
    logger,
    healthPort: options.metricsPort,
    rateLimit: { qps: options.kubeApiQps, burst: options.kubeApiBurst },
    ...(options.leaderElect ? { leaderElection: { namespace: options.leaseNamespace, name: options.leaseName } } : {}),
  });
  for (const setup of controllers) setup({ manager, options });
  return manager;
}

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(`usage: octopus-controller [flags]\n\n${usage()}`);
    return;
  }
  const manager = createManager(parseOptions(argv));
  manager.handleSignals();
  await manager.start();
  await manager.wait();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  });
}
