/**
 * The asset controllers as a process of their own, watching the one namespace named by
 * OCTOPUS_TEST_NAMESPACE, for the tests that need a process boundary (SIGKILL, leader election).
 * It takes octopus-controller's flags and starts like it; it differs only in scope, since the
 * octopus-controller process reconciles every namespace, other suites' included.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { parseOptions } from '../../options.js';
import { Manager } from '../../runtime/index.js';
import { assetControllers } from './controllers.js';

const options = parseOptions(process.argv.slice(2));
const namespace = process.env.OCTOPUS_TEST_NAMESPACE;
if (!namespace || !options.kubeconfig) throw new Error('set OCTOPUS_TEST_NAMESPACE and pass --kubeconfig');
const kubeConfig = new KubeConfig();
kubeConfig.loadFromFile(options.kubeconfig);
const manager = new Manager({
  kubeConfig,
  logger: pino({ name: 'octopus-controller', level: options.logLevel }),
  healthPort: options.metricsPort,
  healthHost: '127.0.0.1',
  ...(options.leaderElect ? { leaderElection: { namespace: options.leaseNamespace, name: options.leaseName } } : {}),
});
for (const setup of assetControllers({ namespace })) setup({ manager, options });
manager.handleSignals();
await manager.start();
await manager.wait();
