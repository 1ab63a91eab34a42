import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AppsV1Api, CoreV1Api, EventsV1Api, NetworkingV1Api, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { apiVersion, type Model, type ModelService } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { installCrds } from '../../e2e/harness/crds.js';
import { createNamespaced, createPool, getNamespaced, job, patchNamespaced, sim, type TestPool } from '../../e2e/harness/fixtures.js';
import { createTestNamespace, deleteNamespace, eventually, testKubeConfig } from '../../e2e/harness/kube.js';
import { startOctopus, type RunningOctopus } from '../../e2e/harness/octopus.js';
import { sharedClaimName } from '../assets/share.js';
import { CountingProxy } from '../assets/testing/counting-proxy.js';
import { assetLookups } from '../job/controller.js';
import { desiredHashAnnotation, holdsDesired, withDesiredHash } from '../runtime/index.js';
import { desiredIngress, desiredService } from './expose.js';
import { modelServiceLabel } from '../admission/workloads.js';
import { childLabels, desiredDeployment, modelVersionAnnotation, quantityEquivalent, resolveServing, selectorLabels } from './serving.js';

let kc: KubeConfig;
let octopus: RunningOctopus;
let proxy: CountingProxy;
let pool: TestPool;
let ns: string;
const namespaces: string[] = [];

async function namespace(prefix: string): Promise<string> {
  const name = await createTestNamespace(kc, prefix);
  namespaces.push(name);
  return name;
}

/** A training Job whose success registers its /model as version `<job name>` of Model resnet. */
async function train(name: string): Promise<void> {
  // CPU only: DevicePolicies on the shared plane may restrict accelerators to other pools.
  await job(ns, name)
    .pool(pool.name)
    .task({ name: 'w', resources: { requests: { cpu: 1, memory: '1Gi' } }, podMetadata: { annotations: sim('Succeed', { duration: '1s' }) } })
    .with({ output: { model: { name: 'resnet' } } })
    .create(kc);
}

beforeAll(async () => {
  kc = testKubeConfig();
  await installCrds(kc);
  pool = await createPool(kc, { nodes: 1 });
  // Every request the controllers make passes through the proxy, so a test can see what they cost.
  proxy = await CountingProxy.start(kc);
  octopus = await startOctopus(proxy.kubeConfig());
  ns = await namespace('oms');
  await train('train-1');
  await train('train-2');
  await eventually(
    'both Jobs registered their Model versions',
    async () => {
      const m = await getNamespaced<Model>(kc, 'models', ns, 'resnet');
      const ready = (m.status?.versions ?? []).filter((v) => v.origin === 'Job' && v.phase === 'Ready').map((v) => v.name);
      return ready.includes('train-1') && ready.includes('train-2') ? true : undefined;
    },
    90_000,
  );
});

afterAll(async () => {
  await octopus?.stop();
  await proxy?.stop();
  for (const name of namespaces) await deleteNamespace(kc, name);
  await pool?.cleanup();
});

function modelService(namespace: string, name: string, spec: Partial<ModelService['spec']> = {}): ModelService {
  return {
    apiVersion,
    kind: 'ModelService',
    metadata: { name, namespace },
    spec: {
      model: { name: 'resnet', version: 'train-1' },
      image: { reference: 'docker.io/pytorch/torchserve:0.12.0-cpu' },
      args: ['torchserve', '--start', '--model-store', '/model', '--foreground'],
      port: 8080,
      readinessPath: '/ping',
      replicas: 2,
      pool: pool.name,
      // We write 1G as 1000000000; the apiserver stores it as 1G.
      resources: { requests: { cpu: '500m', memory: '1G' } },
      // kwok plays the kubelet: the serving pods run until deleted.
      podMetadata: { annotations: sim('Run') },
      ...spec,
    },
  };
}

const getService = (namespace: string, name: string) => getNamespaced<ModelService>(kc, 'modelservices', namespace, name);
const readDeployment = (namespace: string, name: string) => kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name, namespace });
const condition = (ms: ModelService, type: string) => ms.status?.conditions?.find((c) => c.type === type);

async function waitFor(namespace: string, name: string, what: string, check: (ms: ModelService) => boolean): Promise<ModelService> {
  return eventually(`${namespace}/${name} ${what}`, async () => {
    const ms = await getService(namespace, name);
    return check(ms) ? ms : undefined;
  }, 90_000);
}

describe('ModelService controller on the real plane', () => {
  it('serves a Model version a Job produced, rolls to a newer version, and scales to zero when suspended', async () => {
    await createNamespaced(kc, 'modelservices', modelService(ns, 'serve', { ingress: { enabled: true } }));
    const available = await waitFor(ns, 'serve', 'Available serving train-1', (ms) => ms.status?.phase === 'Available' && ms.status.modelVersion === 'train-1' && ms.status.readyReplicas === 2);
    expect(available.status).toMatchObject({ replicas: 2, url: `http://serve-${ns}.octopus.local/`, labels: { [modelServiceLabel]: 'serve' } });
    expect(condition(available, 'Available')).toMatchObject({ status: 'True', reason: 'ReplicasReady' });

    const deployment = await readDeployment(ns, 'serve');
    expect(deployment.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'ModelService', name: 'serve', uid: available.metadata.uid, controller: true })]);
    const template = deployment.spec!.template;
    expect(template.metadata?.annotations?.[modelVersionAnnotation]).toBe('train-1');
    const pod = template.spec!;
    expect(pod.volumes?.find((v) => v.name === 'model')?.persistentVolumeClaim).toEqual({ claimName: 'train-1-output', readOnly: true });
    expect(pod.containers[0]?.volumeMounts?.find((m) => m.mountPath === '/model')?.readOnly).toBe(true);
    expect(pod.containers[0]?.readinessProbe?.httpGet).toMatchObject({ path: '/ping', port: 'http' });
    expect(pod.nodeSelector).toEqual({ 'octopus.pcl.ac.cn/resource': pool.name });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    const service = await kc.makeApiClient(CoreV1Api).readNamespacedService({ name: 'serve', namespace: ns });
    expect(service.spec?.selector).toEqual({ [modelServiceLabel]: 'serve' });
    expect(service.spec?.ports?.[0]).toMatchObject({ port: 80, targetPort: 'http' });
    const ingress = await kc.makeApiClient(NetworkingV1Api).readNamespacedIngress({ name: 'serve', namespace: ns });
    expect(ingress.spec?.rules?.[0]?.host).toBe(`serve-${ns}.octopus.local`);

    // A steady service costs no writes. What the controller wants already is what the apiserver
    // holds (defaulted, canonicalized: it stores our memory "1000000000" as "1G")…
    const { options } = octopus;
    const resolved = resolveServing(available, assetLookups(octopus.manager), { key: options.resourceTagKey, valuePrefix: options.resourceTagValuePrefix });
    if (!resolved.ok) throw new Error(resolved.message);
    const wanted: [KubernetesObject, KubernetesObject][] = [
      [desiredDeployment(available, resolved.refs, available.status!.admission!, options.runAsUser), deployment],
      [desiredService(available, childLabels(available), selectorLabels(available)), service],
      [desiredIngress(available, childLabels(available), available.spec.ingress!, options.ingressDomain), ingress],
    ];
    for (const [want, live] of wanted) expect(holdsDesired(withDesiredHash(want), live, quantityEquivalent)).toBe(true);
    // …so reconciling it again (after a metadata-only edit) sends the apiserver nothing but reads.
    const seen = proxy.requests.length;
    const reconciles = async () => (await octopus.manager.registry.getSingleMetric('octopus_reconcile_total')!.get()).values.filter((v) => v.labels.controller === 'modelservice').reduce((n, v) => n + v.value, 0);
    const counted = await reconciles();
    await patchNamespaced(kc, 'modelservices', ns, 'serve', { metadata: { annotations: { 'example.com/touched': 'yes' } } });
    await eventually('a reconcile after the edit', async () => ((await reconciles()) > counted ? true : undefined));
    expect(proxy.requests.slice(seen).filter((r) => r.method !== 'GET' && r.path.includes(`/namespaces/${ns}/`))).toEqual([]);

    await patchNamespaced(kc, 'modelservices', ns, 'serve', { spec: { model: { version: 'train-2' } } });
    const rolled = await waitFor(ns, 'serve', 'serving train-2', (ms) => ms.status?.modelVersion === 'train-2' && ms.status.phase === 'Available');
    expect(rolled.status?.readyReplicas).toBe(2);
    const after = await readDeployment(ns, 'serve');
    expect(after.spec?.template.metadata?.annotations?.[modelVersionAnnotation]).toBe('train-2');
    expect(after.spec?.template.spec?.volumes?.find((v) => v.name === 'model')?.persistentVolumeClaim?.claimName).toBe('train-2-output');
    expect(after.metadata?.annotations?.[desiredHashAnnotation]).not.toBe(deployment.metadata?.annotations?.[desiredHashAnnotation]);
    // Kubernetes rolled it: a new ReplicaSet for the new template, the old one scaled down.
    const replicaSets = (await kc.makeApiClient(AppsV1Api).listNamespacedReplicaSet({ namespace: ns, labelSelector: `${modelServiceLabel}=serve` })).items;
    const byVersion = Object.fromEntries(replicaSets.map((rs) => [rs.spec?.template?.metadata?.annotations?.[modelVersionAnnotation], rs.spec?.replicas]));
    expect(byVersion).toEqual({ 'train-1': 0, 'train-2': 2 });
    await eventually('RolledOut event', async () => {
      const events = (await kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns })).items;
      return events.some((e) => e.regarding?.name === 'serve' && e.reason === 'RolledOut' && e.note === 'now serving version train-2 (was train-1)') ? true : undefined;
    });

    await patchNamespaced(kc, 'modelservices', ns, 'serve', { spec: { suspend: true } });
    const stopped = await waitFor(ns, 'serve', 'Stopped', (ms) => ms.status?.phase === 'Stopped' && ms.status.replicas === 0);
    expect(condition(stopped, 'Stopped')).toMatchObject({ status: 'True', reason: 'Suspended' });
    expect(stopped.status?.modelVersion).toBeUndefined();
    expect((await readDeployment(ns, 'serve')).spec?.replicas).toBe(0);
  });

  it('waits with a reason for a version that does not exist yet, and serves it once a Job produces it', async () => {
    await createNamespaced(kc, 'modelservices', modelService(ns, 'later', { model: { name: 'resnet', version: 'train-3' }, replicas: 1 }));
    const waiting = await waitFor(ns, 'later', 'waiting for train-3', (ms) => condition(ms, 'ReferencesResolved')?.status === 'False');
    expect(condition(waiting, 'ReferencesResolved')?.message).toBe(`Model ${ns}/resnet has no version train-3`);
    expect(waiting.status?.phase).toBe('Preparing');
    await expect(readDeployment(ns, 'later')).rejects.toMatchObject({ code: 404 });

    await train('train-3');
    await waitFor(ns, 'later', 'Available serving train-3', (ms) => ms.status?.phase === 'Available' && ms.status.modelVersion === 'train-3');
  });

  it('serves a Model of another namespace only when Public, through a read-only claim shared into its own', async () => {
    const other = await namespace('oms-other');
    await createNamespaced(kc, 'modelservices', modelService(other, 'borrow', { model: { name: 'resnet', namespace: ns, version: 'train-1' } }));
    const refused = await waitFor(other, 'borrow', 'NotPublic', (ms) => condition(ms, 'ReferencesResolved')?.reason === 'NotPublic');
    expect(condition(refused, 'ReferencesResolved')?.message).toBe(`Model ${ns}/resnet is not Public, so it cannot be used from namespace ${other}`);
    await expect(readDeployment(other, 'borrow')).rejects.toMatchObject({ code: 404 });

    await patchNamespaced(kc, 'models', ns, 'resnet', { spec: { visibility: 'Public' } });
    await waitFor(other, 'borrow', 'resolved', (ms) => condition(ms, 'ReferencesResolved')?.status === 'True');
    const model = await getNamespaced<Model>(kc, 'models', ns, 'resnet');
    const sourceClaim = model.status!.versions!.find((v) => v.name === 'train-1')!.claimName!;
    const deployment = await eventually('Deployment in the other namespace', () => readDeployment(other, 'borrow').catch(() => undefined));
    const volumes = deployment.spec!.template.spec!.volumes!;
    expect(volumes.map((v) => v.persistentVolumeClaim?.claimName)).toContain(sharedClaimName({ namespace: ns, claimName: sourceClaim }));
    const claim = await kc.makeApiClient(CoreV1Api).readNamespacedPersistentVolumeClaim({ name: sharedClaimName({ namespace: ns, claimName: sourceClaim }), namespace: other });
    expect(claim.spec?.accessModes).toEqual(['ReadOnlyMany']);
    expect(claim.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'ModelService', name: 'borrow' })]);
  });

  it('is admitted against the Quota like a gang of its replicas: waits when they do not fit, scales up when admitted, gives back at once', async () => {
    const limited = await namespace('oms-quota');
    await createNamespaced(kc, 'quotas', { apiVersion, kind: 'Quota', metadata: { name: 'default', namespace: limited }, spec: { hard: { cpu: '1500m' } } });
    await patchNamespaced(kc, 'models', ns, 'resnet', { spec: { visibility: 'Public' } });
    const fromShared = { model: { name: 'resnet', namespace: ns, version: 'train-1' } };
    // 4 × 500m is more than 1500m: nothing runs, the service says why.
    await createNamespaced(kc, 'modelservices', modelService(limited, 'big', { ...fromShared, replicas: 4, resources: { requests: { cpu: '500m', memory: '1Gi' } } }));
    const waiting = await waitFor(limited, 'big', 'waiting for quota', (ms) => condition(ms, 'Admitted')?.reason === 'QuotaExceeded' && ms.status?.phase === 'Preparing');
    expect(condition(waiting, 'Admitted')?.message).toBe('waiting for Quota default: cpu 0 in use + 2 requested > 1500m hard');
    expect(condition(waiting, 'Available')).toMatchObject({ reason: 'WaitingForAdmission' });
    expect(waiting.status?.admission).toBeUndefined();
    await expect(readDeployment(limited, 'big')).rejects.toMatchObject({ code: 404 });

    // Two replicas fit: admitted, the Deployment runs exactly those, the Quota counts them.
    await patchNamespaced(kc, 'modelservices', limited, 'big', { spec: { replicas: 2 } });
    const admitted = await waitFor(limited, 'big', 'two replicas admitted and ready', (ms) => ms.status?.admission?.replicas === 2 && ms.status.readyReplicas === 2);
    expect(admitted.status?.admission).toMatchObject({ pool: pool.name, resources: { cpu: '500m', memory: '1Gi' }, total: { cpu: '1', memory: '2Gi' } });
    expect((await readDeployment(limited, 'big')).spec?.replicas).toBe(2);
    await eventually('Quota counts the service', async () => {
      const q = await getNamespaced<{ status?: { used?: Record<string, string> } }>(kc, 'quotas', limited, 'default');
      return q.status?.used?.cpu === '1' ? true : undefined;
    });

    // A scale-up to 4 waits for its 2 added replicas; the 2 admitted keep serving.
    await patchNamespaced(kc, 'modelservices', limited, 'big', { spec: { replicas: 4 } });
    const scaling = await waitFor(limited, 'big', 'scale-up waiting', (ms) => condition(ms, 'Admitted')?.reason === 'QuotaExceeded');
    expect(condition(scaling, 'Admitted')?.message).toBe('waiting for Quota default: cpu 1 in use + 1 requested > 1500m hard');
    expect(scaling.status?.admission?.replicas).toBe(2);
    expect((await readDeployment(limited, 'big')).spec?.replicas).toBe(2);

    // Scaling down to 1 releases at once, and the Quota shows it.
    await patchNamespaced(kc, 'modelservices', limited, 'big', { spec: { replicas: 1 } });
    await waitFor(limited, 'big', 'one replica held', (ms) => ms.status?.admission?.replicas === 1);
    await eventually('Deployment at one replica', async () => ((await readDeployment(limited, 'big')).spec?.replicas === 1 ? true : undefined));
    await eventually('Quota released', async () => {
      const q = await getNamespaced<{ status?: { used?: Record<string, string> } }>(kc, 'quotas', limited, 'default');
      return q.status?.used?.cpu === '500m' ? true : undefined;
    });
    // Suspended: the reservation goes, the Deployment runs nothing.
    await patchNamespaced(kc, 'modelservices', limited, 'big', { spec: { suspend: true } });
    const released = await waitFor(limited, 'big', 'released', (ms) => ms.status?.admission === undefined && ms.status?.phase === 'Stopped');
    expect(condition(released, 'Admitted')).toMatchObject({ status: 'False', reason: 'Released' });
    await eventually('Deployment at zero', async () => ((await readDeployment(limited, 'big')).spec?.replicas === 0 ? true : undefined));
  });
});
