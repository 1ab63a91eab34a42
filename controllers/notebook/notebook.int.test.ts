import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, CustomObjectsApi, EventsV1Api, NetworkingV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type EventsV1Event } from '@kubernetes/client-node';
import { apiVersion, group, lastActivityAnnotation, version, type Notebook, type Quota } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { installCrds } from '../../e2e/harness/crds.js';
import { createNamespaced, createPool, createQuota, createSpec, deleteCluster, getNamespaced, patchNamespaced, sim, type TestPool } from '../../e2e/harness/fixtures.js';
import { createTestNamespace, deleteNamespace, eventually, testKubeConfig } from '../../e2e/harness/kube.js';
import { startOctopus, type RunningOctopus } from '../../e2e/harness/octopus.js';
import { notebookLabel } from '../admission/workloads.js';
import { desiredIngress, desiredService } from '../modelservice/expose.js';
import { holdsDesired, withDesiredHash } from '../runtime/index.js';
import { notebookLabels } from './pod.js';

let kc: KubeConfig;
let octopus: RunningOctopus;
let pool: TestPool;
let cpu2: string;
const namespaces: string[] = [];

beforeAll(async () => {
  kc = testKubeConfig();
  await installCrds(kc);
  pool = await createPool(kc, { nodes: 1 });
  // CPU only: DevicePolicies on the shared plane may restrict accelerators to other pools.
  cpu2 = await createSpec(kc, { cpu: 2, memory: '4Gi' });
  octopus = await startOctopus(kc);
});

afterAll(async () => {
  await octopus?.stop();
  for (const ns of namespaces) await deleteNamespace(kc, ns);
  if (cpu2) await deleteCluster(kc, 'resourcespecs', cpu2);
  await pool?.cleanup();
});

async function namespace(prefix: string): Promise<string> {
  const ns = await createTestNamespace(kc, prefix);
  namespaces.push(ns);
  return ns;
}

function notebook(namespace: string, name: string, extra: Partial<Notebook['spec']> = {}): Notebook {
  return {
    apiVersion,
    kind: 'Notebook',
    metadata: { name, namespace },
    // kwok plays the kubelet: the pod runs until deleted.
    spec: { image: { reference: 'quay.io/jupyter/base-notebook:2024-12-02' }, pool: pool.name, resourceSpec: cpu2, podMetadata: { annotations: sim('Run') }, ...extra },
  };
}

const getNotebook = (ns: string, name: string) => getNamespaced<Notebook>(kc, 'notebooks', ns, name);
const condition = (nb: Notebook, type: string) => nb.status?.conditions?.find((c) => c.type === type);

async function waitPhase(ns: string, name: string, phase: string): Promise<Notebook> {
  return eventually(`${ns}/${name} ${phase}`, async () => {
    const nb = await getNotebook(ns, name);
    return nb.status?.phase === phase ? nb : undefined;
  }, 60_000);
}

async function podGone(ns: string, name: string): Promise<void> {
  await eventually(`pod ${name} gone`, async () => ((await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns, labelSelector: `${notebookLabel}=${name}` })).items.length === 0 ? true : undefined));
}

/** Events about the notebook with this reason (the recorder writes them in the background). */
async function events(ns: string, name: string, reason: string, atLeast = 1): Promise<EventsV1Event[]> {
  return eventually(`${atLeast} ${reason} event(s) for ${name}`, async () => {
    const list = (await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns })).items.filter((e) => e.regarding?.kind === 'Notebook' && e.regarding.name === name && e.reason === reason);
    return list.length >= atLeast ? list : undefined;
  });
}

async function cpuUsed(ns: string, want: string | undefined): Promise<void> {
  await eventually(`quota in ${ns} using ${want ?? 'nothing'}`, async () => ((await getNamespaced<Quota>(kc, 'quotas', ns, 'default')).status?.used?.cpu === want ? true : undefined));
}

describe('Notebook controller on the real plane', () => {
  it('never mounts a home claim it does not own: a claim planted under its name fails the notebook, and no pod runs', async () => {
    const ns = await namespace('onb-planted');
    // Any member may create claims, with any labels: this one poses as the notebook's home.
    await kc.makeApiClient(CoreV1Api).createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: { metadata: { name: 'victim-home', labels: { [notebookLabel]: 'victim' } }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } },
    });
    await createNamespaced(kc, 'notebooks', notebook(ns, 'victim'));
    const failed = await waitPhase(ns, 'victim', 'Failed');
    expect(condition(failed, 'Ready')).toMatchObject({ reason: 'NameConflict', message: 'PersistentVolumeClaim victim-home exists and is not owned by Notebook victim; it is not used as /userhome' });
    expect((await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns, labelSelector: `${notebookLabel}=victim` })).items).toEqual([]);
    const claim = await kc.makeApiClient(CoreV1Api).readNamespacedPersistentVolumeClaim({ name: 'victim-home', namespace: ns });
    expect(claim.metadata?.ownerReferences).toBeUndefined();
  });

  it('runs JupyterLab with the Job mounts and /userhome; suspend stops it, keeping its home; resume starts it again', async () => {
    const ns = await namespace('nb-run');
    await createQuota(kc, ns, { cpu: 2 });
    await createNamespaced(kc, 'notebooks', notebook(ns, 'dev', { ingress: { enabled: true } }));

    const running = await waitPhase(ns, 'dev', 'Running');
    expect(running.status?.url).toBe(`http://dev-${ns}.octopus.local/`);
    expect(running.status?.admission).toMatchObject({ pool: pool.name, resources: { cpu: '2', memory: '4Gi' } });
    expect(condition(running, 'Ready')).toMatchObject({ status: 'True', reason: 'PodRunning' });
    const pod = await kc.makeApiClient(CoreV1Api).readNamespacedPod({ name: 'dev-0', namespace: ns });
    expect(pool.nodes).toContain(pod.spec?.nodeName);
    expect(pod.metadata?.labels?.[notebookLabel]).toBe('dev');
    expect(pod.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'Notebook', name: 'dev', uid: running.metadata.uid, controller: true })]);
    expect(pod.spec?.containers[0]?.volumeMounts?.map((m) => [m.mountPath, m.subPath])).toEqual([
      ['/dev/shm', undefined],
      ['/userhome', undefined],
      ['/model', 'model'],
    ]);
    expect(pod.spec?.volumes?.find((v) => v.name === 'userhome')?.persistentVolumeClaim?.claimName).toBe('dev-home');
    expect(pod.spec?.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    const service = await kc.makeApiClient(CoreV1Api).readNamespacedService({ name: 'dev', namespace: ns });
    expect(service.spec?.selector).toEqual({ [notebookLabel]: 'dev' });
    const ingress = await kc.makeApiClient(NetworkingV1Api).readNamespacedIngress({ name: 'dev', namespace: ns });
    expect(ingress.spec?.rules?.[0]?.host).toBe(`dev-${ns}.octopus.local`);
    // Steady, the Service and Ingress cost no writes: the apiserver already holds what the controller wants.
    expect(holdsDesired(withDesiredHash(desiredService(running, notebookLabels(running), { [notebookLabel]: 'dev' })), service)).toBe(true);
    expect(holdsDesired(withDesiredHash(desiredIngress(running, notebookLabels(running), running.spec.ingress!, octopus.options.ingressDomain)), ingress)).toBe(true);
    await cpuUsed(ns, '2');
    await events(ns, 'dev', 'Started');

    await patchNamespaced(kc, 'notebooks', ns, 'dev', { spec: { suspend: true } });
    const stopped = await waitPhase(ns, 'dev', 'Stopped');
    expect(stopped.status?.admission).toBeUndefined();
    expect(condition(stopped, 'Stopped')).toMatchObject({ status: 'True', reason: 'Suspended' });
    await podGone(ns, 'dev');
    await cpuUsed(ns, undefined);
    await events(ns, 'dev', 'Suspended');
    expect((await kc.makeApiClient(CoreV1Api).readNamespacedPersistentVolumeClaim({ name: 'dev-home', namespace: ns })).metadata?.deletionTimestamp).toBeUndefined();

    await patchNamespaced(kc, 'notebooks', ns, 'dev', { spec: { suspend: false } });
    const again = await waitPhase(ns, 'dev', 'Running');
    expect(Date.parse(again.status!.startTime!)).toBeGreaterThan(Date.parse(running.status!.startTime!));
    // One Started event per run: their notes name the run's start time.
    await events(ns, 'dev', 'Started', 2);
    await events(ns, 'dev', 'Resumed');
  });

  it('autoStopSeconds stops a notebook that has run that long', async () => {
    const ns = await namespace('nb-auto');
    await createNamespaced(kc, 'notebooks', notebook(ns, 'auto', { autoStopSeconds: 60 }));
    const running = await waitPhase(ns, 'auto', 'Running');
    // The schema's minimum is 60 s. The controller measures from status.startTime, so moving the
    // start back two minutes through the status subresource is the same as two minutes passing,
    // without a suite that waits a minute.
    const startTime = new Date(Date.parse(running.status!.startTime!) - 120_000).toISOString().replace(/\.\d+Z$/, 'Z');
    await kc
      .makeApiClient(CustomObjectsApi)
      .patchNamespacedCustomObjectStatus({ group, version, plural: 'notebooks', namespace: ns, name: 'auto', body: { status: { startTime } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    const stopped = await waitPhase(ns, 'auto', 'Stopped');
    expect(condition(stopped, 'Stopped')).toMatchObject({ status: 'True', reason: 'AutoStopped', message: 'ran for 60s (autoStopSeconds)' });
    expect(stopped.status?.admission).toBeUndefined();
    await podGone(ns, 'auto');
    await events(ns, 'auto', 'AutoStopped');
  });

  it('idle culling stops a notebook whose pod reports no activity for idleTimeoutSeconds', async () => {
    const ns = await namespace('nb-idle');
    await createNamespaced(kc, 'notebooks', notebook(ns, 'idle', { idleTimeoutSeconds: 3600 }));
    await waitPhase(ns, 'idle', 'Running');
    // What JupyterLab's activity reporter would write: the last activity, two hours ago.
    const lastActivity = new Date(Date.now() - 2 * 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    await kc.makeApiClient(CoreV1Api).patchNamespacedPod({ name: 'idle-0', namespace: ns, body: { metadata: { annotations: { [lastActivityAnnotation]: lastActivity } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    const stopped = await waitPhase(ns, 'idle', 'Stopped');
    expect(condition(stopped, 'Stopped')?.reason).toBe('Idle');
    expect(stopped.status?.lastActivityTime).toBe(lastActivity);
    await podGone(ns, 'idle');
    await events(ns, 'idle', 'Idle');
  });

  it('a notebook over quota stays Pending with the admission reason, and starts once quota is free', async () => {
    const ns = await namespace('nb-quota');
    await createQuota(kc, ns, { cpu: 2 });
    await createNamespaced(kc, 'notebooks', notebook(ns, 'first'));
    await waitPhase(ns, 'first', 'Running');
    await createNamespaced(kc, 'notebooks', notebook(ns, 'second'));
    const waiting = await eventually('second waits for quota', async () => {
      const nb = await getNotebook(ns, 'second');
      return condition(nb, 'Admitted')?.reason === 'QuotaExceeded' ? nb : undefined;
    });
    expect(waiting.status?.phase).toBe('Pending');
    expect(waiting.status?.admission).toBeUndefined();
    expect(condition(waiting, 'Admitted')?.message).toContain('cpu 2 in use + 2 requested > 2 hard');
    expect((await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns, labelSelector: `${notebookLabel}=second` })).items).toHaveLength(0);

    await patchNamespaced(kc, 'notebooks', ns, 'first', { spec: { suspend: true } });
    await waitPhase(ns, 'second', 'Running');
  });
});
