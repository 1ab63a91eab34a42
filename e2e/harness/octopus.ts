import type { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { ControllerSetup } from '../../controllers/context.js';
import { controllers as allControllers } from '../../controllers/main.js';
import { parseOptions, type ControllerOptions } from '../../controllers/options.js';
import { Manager } from '../../controllers/runtime/index.js';

export interface RunningOctopus {
  manager: Manager;
  options: ControllerOptions;
  stop(): Promise<void>;
}

/**
 * Runs Octopus controllers in the test process against the test cluster: one replica, no
 * leader election, metrics on a free port. Integration suites run one file at a time, so
 * one manager at a time reconciles the cluster.
 */
export async function startOctopus(kc: KubeConfig, overrides: Partial<ControllerOptions> = {}, setups: ControllerSetup[] = allControllers): Promise<RunningOctopus> {
  const options: ControllerOptions = { ...parseOptions([], {}), leaderElect: false, metricsPort: 0, workers: 2, ...overrides };
  const manager = new Manager({
    kubeConfig: kc,
    logger: pino({ level: process.env.OCTOPUS_TEST_LOG ?? 'silent' }),
    healthPort: options.metricsPort,
    shutdownTimeoutMs: 5_000,
  });
  for (const setup of setups) setup({ manager, options });
  await manager.start();
  return {
    manager,
    options,
    stop: () => manager.stop(),
  };
}
