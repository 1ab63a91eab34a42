/**
 * Octopus as a benchmark's system under test: its objects for the workload (a ResourcePool on the
 * benchmark's nodes, a one-GPU ResourceSpec, a Quota per workspace), its controller as a process
 * of its own, and how the observer reads its Jobs.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { group, version, type Job, type ResourcePool, type WorkloadPriorityClass } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { flags } from '../../controllers/options.js';
import { labels } from '../../controllers/job/pods.js';
import { installCrds } from '../harness/crds.js';
import { assertAlive, startBuiltControllerProcess, type ControllerProcess } from '../harness/process.js';
import { defaultValues } from '../../cdk8s/values.js';
import { bench, clearNamespacesAndNodes, createNodesAndNamespaces, deleteNamespaces, deleteNodes, gpusPerWorkspace, ignoreConflict, ignoreNotFound, inParallel, namespaces, podRequests, resultsDir, simAnnotations, submission, waitGone, type ClientLimits, type Workload } from './common.js';
import type { ObservedSystem } from './observer.js';

const octopusPool = bench.resourceTag;
const specName = 'bench-gpu-1x';

/** The Node.js flags the chart's defaults give the controller. */
function chartNodeOptions(): string[] {
  const values = defaultValues() as { controller: { heapLimitMiB: number; semiSpaceMiB: number } };
  return [`--max-old-space-size=${values.controller.heapLimitMiB}`, `--max-semi-space-size=${values.controller.semiSpaceMiB}`];
}

/** Cluster-scoped objects a run creates, by plural; the priority classes only in the preemption scenario. */
const clusterObjects = (classes: string[]) => [
  { plural: 'resourcepools', names: [octopusPool] },
  { plural: 'resourcespecs', names: [specName] },
  { plural: 'workloadpriorityclasses', names: classes },
];

async function createObjects(kc: KubeConfig, w: Workload, priorityClasses: Record<string, number>): Promise<void> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const create = (plural: string, body: object) => ignoreConflict(custom.createClusterCustomObject({ group, version, plural, body }));
  await installCrds(kc);
  // The pool's name is the nodes' resource tag: it selects the benchmark's nodes.
  await create('resourcepools', { apiVersion: `${group}/${version}`, kind: 'ResourcePool', metadata: { name: octopusPool }, spec: {} });
  await create('resourcespecs', { apiVersion: `${group}/${version}`, kind: 'ResourceSpec', metadata: { name: specName }, spec: { resources: { requests: podRequests }, pricePerHour: '10' } });
  for (const [name, value] of Object.entries(priorityClasses)) {
    await create('workloadpriorityclasses', { apiVersion: `${group}/${version}`, kind: 'WorkloadPriorityClass', metadata: { name }, spec: { value } } satisfies WorkloadPriorityClass);
  }
  await inParallel(namespaces(w), 8, (namespace) =>
    ignoreConflict(
      custom.createNamespacedCustomObject({ group, version, plural: 'quotas', namespace, body: { apiVersion: `${group}/${version}`, kind: 'Quota', metadata: { name: 'default', namespace }, spec: { hard: { 'nvidia.com/gpu': gpusPerWorkspace(w) } } } }),
    ),
  );
}

/** Deletes the cluster-scoped objects of a run (the namespaced ones go with the namespaces) and waits until they are gone. */
export async function deleteOctopusObjects(kc: KubeConfig, priorityClasses: string[] = []): Promise<void> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const objects = clusterObjects(priorityClasses);
  for (const { plural, names } of objects) for (const name of names) await ignoreNotFound(custom.deleteClusterCustomObject({ group, version, plural, name }));
  await waitGone('Octopus benchmark objects', async () => {
    const found = await Promise.all(objects.flatMap(({ plural, names }) => names.map((name) => custom.getClusterCustomObject({ group, version, plural, name }).then(() => 1, () => 0))));
    return found.reduce((a, b) => a + b, 0);
  });
}

/** Submission i of the workload, as an Octopus Job of one task. */
export function octopusJob(w: Workload, i: number, opts: { annotations?: Record<string, string>; name?: string; pods?: number; spec?: Partial<Job['spec']> } = {}): Job {
  const s = submission(w, i);
  return {
    apiVersion: `${group}/${version}`,
    kind: 'Job',
    metadata: { name: opts.name ?? s.name, namespace: s.namespace },
    spec: {
      image: { reference: 'docker.io/library/python:3.12' },
      pool: octopusPool,
      tasks: [{ name: 'w', replicas: opts.pods ?? s.pods, resourceSpec: specName, podMetadata: { annotations: opts.annotations ?? simAnnotations(w) } }],
      // Finished jobs go, and their pods with them: the cluster stays the size of the running set.
      // Kueue runs without waitForPodsReady (its default), so it never requeues a gang whose pods
      // start late; Octopus's timeout is set to its maximum to match. At its default (300 s) a
      // saturated plane that starts pods late turns each timeout into more pods to delete and recreate.
      policy: { ttlSecondsAfterFinished: w.ttl, podsReadyTimeoutSeconds: 86_400 },
      ...opts.spec,
    },
  };
}

export function createOctopusJob(kc: KubeConfig, job: Job): Promise<unknown> {
  return kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group, version, plural: 'jobs', namespace: job.metadata.namespace!, body: job });
}

/** Octopus's Jobs as the observer reads them: admitted once `status.admission` is written. */
export function octopusSystem(kc: KubeConfig): ObservedSystem<Job> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  return {
    jobs: { path: `/apis/${group}/${version}/jobs`, list: () => custom.listClusterCustomObject({ group, version, plural: 'jobs' }) },
    pods: (job) => job.spec.tasks.reduce((sum, t) => sum + (t.replicas ?? 1), 0),
    admitted: (job) => job.status?.admission !== undefined,
    finished: (job) => ['Succeeded', 'Failed', 'Stopped'].includes(job.status?.phase ?? ''),
    podJobLabel: labels.job,
  };
}

/** The client limit flags, when this controller has them (they arrived after the benchmark). */
export function octopusClientFlags(limits: ClientLimits): string[] {
  return flags.some((f) => f.flag === 'kube-api-qps') ? ['--kube-api-qps', String(limits.qps), '--kube-api-burst', String(limits.burst)] : [];
}

/**
 * Creates the nodes, namespaces and Octopus's objects, starts the controller and waits until it
 * has seen every node of the pool; runs `body`; then deletes everything (the controller still
 * running) and waits until it is gone, and stops the controller.
 */
export async function withOctopus<T>(
  opts: { kc: KubeConfig; kubeconfig: string; workload: Workload; limits: ClientLimits; args?: string[]; nodeOptions?: string[]; priorityClasses?: Record<string, number>; keep?: boolean },
  body: (controller: ControllerProcess) => Promise<T>,
): Promise<T> {
  const { kc, workload: w } = opts;
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const classes = opts.priorityClasses ?? {};
  let controller: ControllerProcess | undefined;
  try {
    await clearNamespacesAndNodes(core);
    await createNodesAndNamespaces(core, w);
    await createObjects(kc, w, classes);
    const args = ['--no-leader-elect', '--log-level', 'warn', '--workers', '8', ...octopusClientFlags(opts.limits), ...(opts.args ?? [])];
    const started = startBuiltControllerProcess(opts.kubeconfig, args, join(resultsDir, 'octopus-controller.log'), [...chartNodeOptions(), ...(opts.nodeOptions ?? [])]);
    controller = started;
    // Ready when its pool's status counts every node: it has synced and reconciles.
    const deadline = Date.now() + 120_000;
    for (;;) {
      assertAlive(started);
      if (Date.now() > deadline) throw new Error(`the controller's pool status did not count ${w.nodes} ready nodes in 2 minutes; see ${started.log}`);
      const pool = (await custom.getClusterCustomObject({ group, version, plural: 'resourcepools', name: octopusPool })) as ResourcePool;
      if (pool.status?.readyNodes === w.nodes) break;
      await sleep(500);
    }
    return await body(started);
  } finally {
    try {
      if (!opts.keep) {
        await deleteNamespaces(core);
        await deleteOctopusObjects(kc, Object.keys(classes));
      }
    } finally {
      await controller?.stop();
      if (!opts.keep) await deleteNodes(core);
    }
  }
}
