/**
 * The admission benchmark's twin for Kueue (a script, not a test): the same nodes, workspaces,
 * quotas and 1/2/4/8-pod gangs as bench:admission, admitted by Kueue v0.17 (kueue-runner.ts)
 * with the same client QPS and burst, timed by the same observer (observer.ts) from the API
 * server. bench:compare runs both, and the plane's physical limit, in one invocation.
 *
 *   npm run bench:kueue -- --nodes 200 --jobs 2000 [--workspaces 50] [--run 10s] [--qps 300 --burst 500] [--keep]
 */
import { KubeConfig } from '@kubernetes/client-node';
import { kubeconfigPath } from '../../hack/cluster/paths.js';
import { benchOptions, gangSizes, interruptSignal, resultStem, sourceState, writeJson } from './common.js';
import { createKueueJob, kueueJob, kueueSystem, kueueVersion, withKueue } from './kueue-runner.js';
import { measureJobs, runTable } from './measure.js';

const { workload: w, limits, flags } = benchOptions({ booleans: ['keep'] });
const kubeconfig = process.env.E2E_KUBECONFIG ?? kubeconfigPath();
const kc = new KubeConfig();
kc.loadFromFile(kubeconfig);
const interrupted = interruptSignal();

async function main(): Promise<void> {
  const source = sourceState();
  console.log(`Kueue ${kueueVersion} admission benchmark: ${w.nodes} nodes × 8 GPUs, ${w.jobs} jobs (gangs of ${gangSizes.join('/')} pods), ${w.workspaces} workspaces, pods run ${w.run}, client QPS/burst ${limits.qps}/${limits.burst}`);
  const run = await withKueue({ kc, kubeconfig, workload: w, limits, keep: flags.keep }, (kueue) =>
    measureJobs({ kc, system: 'kueue', observed: kueueSystem(kc), process: kueue, workload: w, create: (i) => createKueueJob(kc, kueueJob(w, i)), signal: interrupted }),
  );
  const date = new Date().toISOString();
  console.table(runTable(run));
  writeJson(`${resultStem('kueue', w, date)}.json`, { date, source, workload: w, clientLimits: limits, kueueVersion, ...run });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
