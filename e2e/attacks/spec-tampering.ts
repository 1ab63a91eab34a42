/**
 * Attacks 4, 6 and 8: tampering with a workload's spec. (4) A Job admitted in the cheap pool had its
 * spec.pool switched to the accelerator pool afterwards, and its pods were built from the live spec.
 * (6) A quantity such as `1e300000000` made the webhook compute 10^300000000 exactly. (8) podMetadata
 * passed any label or annotation to the pods (the platform's own labels, a mesh's injection switch), and
 * a Job could name its own scheduler. Each is tried again as the member, through kubectl or apply.
 */
import { describe, expect, it } from '@jest/globals';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { apiVersion, group, type Job } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { parseOptions } from '../../controllers/options.js';
import { eventually } from '../harness/kube.js';
import { deleteJob, jobRef, type AttackWorld } from './tenants.js';

const tagKey = parseOptions([], {}).resourceTagKey;
const jobLabel = 'octopus.openi.pcl.cn/job';
/** Simulated pods that run until deleted (README "Simulated pods"). */
const keepRunning = { 'sim.octopus.openi.pcl.cn/outcome': 'Run' };

type Task = Job['spec']['tasks'][number];

function job(ns: string, name: string, pool: string, task: Partial<Task> = {}, extra: Record<string, unknown> = {}): Job {
  const worker: Task = { name: 'worker', replicas: 1, resources: { requests: { cpu: '100m', memory: '64Mi' } }, podMetadata: { annotations: keepRunning }, ...task };
  return { apiVersion, kind: 'Job', metadata: { name, namespace: ns }, spec: { image: { reference: 'docker.io/library/python:3.12' }, pool, tasks: [worker], ...extra } };
}


async function podsOf(w: AttackWorld, name: string): Promise<V1Pod[]> {
  return (await w.admin.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: w.ns, labelSelector: `${jobLabel}=${name}` })).items;
}

/** Every pod of the job running, as the admin sees them. */
async function runningPods(w: AttackWorld, name: string, count: number): Promise<V1Pod[]> {
  return eventually(`${count} running pods of Job ${w.ns}/${name}`, async () => {
    const pods = await podsOf(w, name);
    return pods.length === count && pods.every((p) => p.status?.phase === 'Running') ? pods : undefined;
  }, 90_000);
}

export function describeSpecTamperingAttacks(world: () => AttackWorld): void {
  describe('4. Pool swap after admission', () => {
    it("refuses moving an admitted Job to another pool, naming spec.pool; its pods stay on the admitted pool's nodes", async () => {
      const w = world();
      const name = 'atk-pool-swap';
      expect(await w.tryApply(job(w.ns, name, 'cpu'))).toBeUndefined();
      try {
        const admitted = await eventually('the job admitted in pool cpu and running', async () => {
          const j = await w.read<Job>(jobRef(w, name));
          return j?.status?.phase === 'Running' ? j : undefined;
        }, 90_000);
        expect(admitted.status?.admission?.pool).toBe('cpu');

        // The swap, as a user would type it, and as a re-apply of the manifest.
        const patched = w.kubectl(['patch', `jobs.${group}/${name}`, '-n', w.ns, '--type=merge', '-p', JSON.stringify({ spec: { pool: 'gpu-a100' } })]);
        expect(patched.status).not.toBe(0);
        expect(patched.output).toContain('spec.pool: may not change while the job is admitted (phase Running)');
        const applied = await w.tryApply(job(w.ns, name, 'gpu-a100'));
        expect(applied).toContain('spec.pool: may not change while the job is admitted');
        // The rest of what admission decided on is frozen too.
        const grown = await w.tryApply(job(w.ns, name, 'cpu', { replicas: 4 }, { priorityClassName: 'standard' }));
        expect(grown).toContain('spec.tasks: may not change');
        expect(grown).toContain('spec.priorityClassName: may not change');

        const after = await w.read<Job>(jobRef(w, name));
        expect({ pool: after?.spec.pool, admitted: after?.status?.admission?.pool, replicas: after?.spec.tasks[0]?.replicas }).toEqual({ pool: 'cpu', admitted: 'cpu', replicas: 1 });
        const pods = await runningPods(w, name, 1);
        expect(pods.map((p) => p.spec?.nodeSelector?.[tagKey])).toEqual(['cpu']);
        // Scheduled onto a node of the cpu pool, not an accelerator node.
        const nodes = await Promise.all(pods.map((p) => w.admin.makeApiClient(CoreV1Api).readNode({ name: p.spec!.nodeName! })));
        expect(nodes.map((n) => n.metadata?.labels?.[tagKey])).toEqual(['cpu']);
      } finally {
        await deleteJob(w, name);
      }
    }, 180_000);
  });

  describe('6. Webhook denial of service with huge quantities', () => {
    it('refuses `cpu: "1e300000000"` in a short message naming the field, and the webhook answers the next request', async () => {
      const w = world();
      const hostile = [
        { q: '1e300000000', reason: 'exponent out of range' },
        { q: '1e-3000000', reason: 'exponent out of range' },
        // Refused by the apiserver itself: the CRD schema bounds quantity strings.
        { q: '9'.repeat(10_000), reason: 'Too long: may not be more than 64 bytes' },
      ];
      for (const [i, { q, reason }] of hostile.entries()) {
        const name = `atk-quantity-${i}`;
        const refused = await w.tryApply(job(w.ns, name, 'cpu', { resources: { requests: { cpu: q, memory: '64Mi' } } }));
        expect(refused).toMatch(/spec\.tasks\[0\]\.resources\.requests(\[cpu\]|\.cpu)/);
        expect(refused).toContain(reason);
        expect(refused!.length).toBeLessThan(500);
        expect(await w.read(jobRef(w, name))).toBeUndefined();
      }
      // Right after: a valid Job passes every webhook (a server-side dry run creates nothing).
      const valid = w.kubectl(['create', '--dry-run=server', '-o', 'name', '-f', '-'], JSON.stringify(job(w.ns, 'atk-quantity-valid', 'cpu')));
      expect(valid).toEqual({ status: 0, output: `job.${group}/atk-quantity-valid\n` });
      expect(await w.read(jobRef(w, 'atk-quantity-valid'))).toBeUndefined();
    }, 60_000);
  });

  describe('8. Pod metadata and scheduler', () => {
    it("refuses podMetadata under the platform's prefix or a mesh's, naming the field; nothing is created", async () => {
      const w = world();
      const cases = [
        {
          name: 'atk-spoof-label',
          task: { podMetadata: { labels: { [jobLabel]: 'other' }, annotations: keepRunning } },
          want: `spec.tasks[0].podMetadata.labels[${jobLabel}]: Invalid value: "other": the platform sets this label`,
        },
        {
          name: 'atk-mesh-escape',
          task: { podMetadata: { annotations: { ...keepRunning, 'sidecar.istio.io/inject': 'false' } } },
          want: 'spec.tasks[0].podMetadata.annotations[sidecar.istio.io/inject]: Invalid value: "false": annotations under istio.io are not passed to pods',
        },
      ];
      for (const c of cases) {
        const refused = await w.tryApply(job(w.ns, c.name, 'cpu', c.task));
        expect(refused).toContain(c.want);
        expect(await w.read(jobRef(w, c.name))).toBeUndefined();
      }
      // A Notebook that would never be culled as idle: its pod reports activity in the far future.
      const notebook = {
        apiVersion,
        kind: 'Notebook',
        metadata: { name: 'atk-forever', namespace: w.ns },
        spec: { image: { reference: 'docker.io/jupyter/base-notebook:latest' }, pool: 'cpu', resources: { requests: { cpu: '100m', memory: '64Mi' } }, podMetadata: { annotations: { 'notebooks.octopus.openi.pcl.cn/last-activity': '2099-01-01T00:00:00Z' } } },
      };
      expect(await w.tryApply(notebook)).toContain('spec.podMetadata.annotations[notebooks.octopus.openi.pcl.cn/last-activity]: Invalid value: "2099-01-01T00:00:00Z": the platform sets this annotation');
      expect(await w.read({ ...notebook, metadata: notebook.metadata })).toBeUndefined();
      const pods = (await w.admin.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: w.ns })).items;
      expect(pods.filter((p) => p.metadata?.labels?.[jobLabel] === 'other' || p.metadata?.annotations?.['sidecar.istio.io/inject'] !== undefined)).toEqual([]);
    }, 60_000);

    it('refuses a Job naming its own scheduler as an unknown field; when the field is dropped, its pods use the default scheduler', async () => {
      const w = world();
      const name = 'atk-own-scheduler';
      const manifest = JSON.stringify(job(w.ns, name, 'cpu', {}, { schedulerName: 'evil' }));
      const strict = w.kubectl(['apply', '-f', '-'], manifest);
      expect(strict.status).not.toBe(0);
      expect(strict.output).toContain('unknown field "spec.schedulerName"');
      expect(await w.read(jobRef(w, name))).toBeUndefined();
      // Without client validation the apiserver prunes the field: the Job exists, but no scheduler of the member's choosing.
      const lax = w.kubectl(['apply', '--validate=false', '-f', '-'], manifest);
      expect(lax.status).toBe(0);
      try {
        const stored = await w.read<Job & { spec: { schedulerName?: string } }>(jobRef(w, name));
        expect(stored?.spec.schedulerName).toBeUndefined();
        const pods = await runningPods(w, name, 1);
        expect(pods.map((p) => p.spec?.schedulerName)).toEqual(['default-scheduler']);
        const all = (await w.admin.makeApiClient(CoreV1Api).listPodForAllNamespaces()).items;
        expect(all.filter((p) => p.spec?.schedulerName === 'evil').map((p) => p.metadata?.name)).toEqual([]);
      } finally {
        await deleteJob(w, name);
      }
    }, 180_000);
  });
}
