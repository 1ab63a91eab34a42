/**
 * The Dataset controller as a process: a SIGKILL mid-import, and two replicas under leader
 * election. Each process runs the asset controllers over this suite's namespace only.
 */
import { describe, expect, it } from '@jest/globals';
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { apiVersion, type Dataset } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { eventually } from '../../e2e/harness/kube.js';
import { assetLabels } from '../assets/names.js';
import { create, eventsAbout, get, list, simulated, useAssetPlane, waitFor } from '../assets/testing/plane.js';
import { ControllerProcess } from '../assets/testing/process.js';
import { core, octopus } from '../resources.js';
import { stopAfterEach } from '../runtime/testing/suite.js';

const report = '{"size":"3Gi","files":42}';
const isReady = (d: Dataset) => d.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
const importing = (d: Dataset) => d.status?.versions?.[0]?.phase === 'Importing';

interface Lease {
  spec?: { holderIdentity?: string; renewTime?: string; acquireTime?: string; leaseDurationSeconds?: number; leaseTransitions?: number };
}

/** The runtime's defaults (leader.ts): lease duration, and the longest wait between a candidate's attempts (retry period × (1 + jitter 1.2)). */
const leaseDurationMs = 15_000;
const maxRetryWaitMs = 2_000 * 2.2;

describe('the asset controllers as a process', () => {
  const plane = useAssetPlane('ds-proc');
  const processes = stopAfterEach<ControllerProcess>();
  const kubeconfig = () => process.env.OCTOPUS_TEST_KUBECONFIG!;
  const run = (instance: string, flags: string[]) => {
    const p = new ControllerProcess(instance, kubeconfig(), plane.namespace, flags);
    processes.push(p);
    return p;
  };
  const leasePath = (name: string) => `/apis/coordination.k8s.io/v1/namespaces/${plane.namespace}/leases/${name}`;
  const readLease = async (name: string) => plane.rest.request<Lease>({ method: 'GET', path: leasePath(name) });
  /** The Events about a dataset, once its VersionReady is among them. */
  const readyEvents = (name: string) =>
    eventually(`VersionReady of ${name}`, async () => {
      const events = await eventsAbout(plane, 'Dataset', name);
      return events.some((e) => e.reason === 'VersionReady') ? events : undefined;
    });

  it('after a SIGKILL mid-import, a restarted controller finishes the same import: one Job, one pod, same result', async () => {
    await create(plane, octopus.Dataset, {
      apiVersion,
      kind: 'Dataset',
      metadata: { name: 'killed' },
      // Long enough that the kill lands while the import pod runs.
      spec: { import: { podMetadata: simulated('Succeed', report, '8s') }, versions: [{ name: 'v1', source: { s3: { bucket: 'datasets' } } }] },
    } satisfies Dataset);

    const first = run('first', ['--no-leader-elect']);
    await waitFor<Dataset>(plane, octopus.Dataset, 'killed', 'importing', importing);
    const jobBefore = (await get<V1Job>(plane, core.BatchJob, 'killed-v1-import'))!;
    expect(await first.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });

    run('second', ['--no-leader-elect']);
    const ready = await waitFor<Dataset>(plane, octopus.Dataset, 'killed', 'Ready', isReady);
    expect(ready.status?.versions?.[0]).toMatchObject({ phase: 'Ready', size: '3Gi', fileCount: 42, attempts: 1, importJob: 'killed-v1-import' });
    const jobs = await list<V1Job>(plane, core.BatchJob, `${assetLabels.kind}=Dataset`);
    expect(jobs.map((j) => j.metadata?.uid)).toEqual([jobBefore.metadata?.uid]);
    const pods = await list<V1Pod>(plane, core.Pod, 'batch.kubernetes.io/job-name=killed-v1-import');
    expect(pods.map((p) => p.status?.phase)).toEqual(['Succeeded']);
  });

  it('with two replicas, only the Lease holder reconciles; killing it hands over within the lease duration', async () => {
    await create(plane, { ...core.PersistentVolumeClaim }, { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'shared-data' }, spec: { accessModes: ['ReadOnlyMany'], resources: { requests: { storage: '1Gi' } } } });
    const flags = ['--lease-namespace', plane.namespace, '--lease-name', 'assets'];
    const a = run('replica-a', flags);
    const b = run('replica-b', flags);
    const holder = await eventually('a Lease holder', async () => (await readLease('assets').catch(() => undefined))?.spec?.holderIdentity || undefined);
    const [leader, standby] = holder.startsWith('replica-a_') ? [a, b] : [b, a];
    await leader.waitForLog('its controllers starting', (l) => l.msg === 'controller started' && l.controller === 'dataset');
    // The standby is up, watching, and waiting for the lease.
    await standby.waitForLog('caches being served', (l) => l.msg === 'serving /healthz, /readyz and /metrics');

    const dataset = (name: string): Dataset => ({ apiVersion, kind: 'Dataset', metadata: { name }, spec: { versions: [{ name: 'v1', source: { pvc: { claimName: 'shared-data' } } }] } });
    await create(plane, octopus.Dataset, dataset('before'));
    await waitFor<Dataset>(plane, octopus.Dataset, 'before', 'Ready', isReady);
    const eventsBefore = await readyEvents('before');
    expect(new Set(eventsBefore.map((e) => e.reportingInstance))).toEqual(new Set([leader.instance]));
    expect(standby.hasLogged((l) => l.msg === 'controller started' || l.msg === 'became leader')).toBe(false);

    // The leader's last renewal, as the Lease records it, right up to the kill.
    const lastRenew = Date.parse((await readLease('assets')).spec!.renewTime!);
    const killedAt = Date.now();
    await leader.kill('SIGKILL');
    const taken = await eventually(
      'the standby to take the Lease',
      async () => {
        const lease = await readLease('assets');
        return lease.spec?.holderIdentity?.startsWith(`${standby.instance}_`) ? lease : undefined;
      },
      60_000,
    );
    const acquiredAt = Date.parse(taken.spec!.acquireTime!);
    const handover = { fromKillMs: acquiredAt - killedAt, fromLastRenewalMs: acquiredAt - lastRenew };
    console.log(`leader hand-over: ${handover.fromKillMs} ms after SIGKILL, ${handover.fromLastRenewalMs} ms after the last renewal (lease ${leaseDurationMs} ms; a candidate retries every ≤ ${maxRetryWaitMs} ms)`);
    // The standby sees the last renewal at its next attempt, waits a lease duration from then, and notices at the attempt after.
    expect(handover.fromKillMs).toBeLessThanOrEqual(leaseDurationMs + 2 * maxRetryWaitMs + 1_000);
    expect(taken.spec?.leaseTransitions).toBeGreaterThanOrEqual(1);

    await standby.waitForLog('its controllers starting', (l) => l.msg === 'controller started' && l.controller === 'dataset');
    await create(plane, octopus.Dataset, dataset('after'));
    await waitFor<Dataset>(plane, octopus.Dataset, 'after', 'Ready', isReady);
    const eventsAfter = await readyEvents('after');
    expect(new Set(eventsAfter.map((e) => e.reportingInstance))).toEqual(new Set([standby.instance]));
  });
});
