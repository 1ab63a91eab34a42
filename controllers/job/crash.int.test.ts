import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { group, version, type Job, type Quota } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { formatResources, parseResources, addResources } from '../../apis/quantity.js';
import { installCrds } from '../../e2e/harness/crds.js';
import { createPool, createQuota, createSpec, deleteCluster, getNamespaced, job, sim, type TestPool } from '../../e2e/harness/fixtures.js';
import { createTestNamespace, deleteNamespace, eventually, testKubeConfig } from '../../e2e/harness/kube.js';
import { startControllerProcess, type ControllerProcess } from '../../e2e/harness/process.js';
import { labels } from './pods.js';

let kc: KubeConfig;
let pool: TestPool;
let ns: string;
let controller: ControllerProcess | undefined;
let spec: string | undefined;
const logs = mkdtempSync(join(tmpdir(), 'octopus-crash-'));

beforeAll(async () => {
  kc = testKubeConfig();
  await installCrds(kc);
  pool = await createPool(kc, { nodes: 8 });
  ns = await createTestNamespace(kc, 'crash');
});

afterAll(async () => {
  await controller?.kill('SIGKILL');
  await deleteNamespace(kc, ns);
  if (spec) await deleteCluster(kc, 'resourcespecs', spec);
  await pool?.cleanup();
});

async function listJobs(): Promise<Job[]> {
  const list = (await kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group, version, plural: 'jobs', namespace: ns })) as { items: Job[] };
  return list.items;
}

const admittedOf = (jobs: Job[]) => jobs.filter((j) => j.status?.admission && ['Admitted', 'Running'].includes(j.status.phase ?? ''));

it('SIGKILL while 50 jobs are being admitted: after restart no extra pod, and quota use equals the admitted gangs', async () => {
  spec = await createSpec(kc, { 'nvidia.com/gpu': 1, cpu: 1 });
  // 50 jobs × 2 GPUs = 100 wanted; the quota lets 30 in, so admission is mid-way when killed.
  await createQuota(kc, ns, { 'nvidia.com/gpu': 60 });
  for (let i = 0; i < 50; i++) {
    await job(ns, `j${i}`).pool(pool.name).task({ name: 'w', replicas: 2, resourceSpec: spec, podMetadata: { annotations: sim('Run') } }).create(kc);
  }
  const kubeconfig = process.env.OCTOPUS_TEST_KUBECONFIG!;
  controller = startControllerProcess(kubeconfig, ['--no-leader-elect'], join(logs, 'first.log'));
  await eventually('admission under way', async () => {
    const n = admittedOf(await listJobs()).length;
    return n >= 1 && n < 30 ? n : undefined;
  }, 60_000, 50);
  expect(await controller.kill('SIGKILL')).toBe('SIGKILL');

  controller = startControllerProcess(kubeconfig, ['--no-leader-elect'], join(logs, 'second.log'));
  const settled = await eventually('30 jobs running', async () => {
    const jobs = await listJobs();
    return jobs.filter((j) => j.status?.phase === 'Running').length === 30 ? jobs : undefined;
  }, 120_000);

  const pods = (await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns })).items;
  const byJob = new Map<string, number>();
  for (const p of pods) byJob.set(p.metadata!.labels![labels.job]!, (byJob.get(p.metadata!.labels![labels.job]!) ?? 0) + 1);
  const admitted = admittedOf(settled);
  expect(admitted).toHaveLength(30);
  for (const j of settled) {
    // Exactly a gang for admitted jobs, nothing for queued ones.
    expect(byJob.get(j.metadata.name!) ?? 0).toBe(j.status?.admission ? 2 : 0);
  }
  expect(pods).toHaveLength(60);
  const sum = formatResources(addResources(...admitted.map((j) => parseResources(j.status!.admission!.total))));
  const quota = await eventually('quota caught up', async () => {
    const q = await getNamespaced<Quota>(kc, 'quotas', ns, 'default');
    return q.status?.admitted === 30 ? q : undefined;
  });
  expect(quota.status?.used).toEqual(sum);
  expect(quota.status?.used?.['nvidia.com/gpu']).toBe('60');
  expect(quota.status?.queued).toBe(20);
});
