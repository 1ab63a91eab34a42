import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, CustomObjectsApi, NetworkingV1Api, PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions, type KubeConfig, type KubernetesObject, type V1Namespace } from '@kubernetes/client-node';
import { apiVersion, group, version, workspaceLabel, type Job, type Quota, type Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { installCrds } from '../../e2e/harness/crds.js';
import { createCluster, createPool, deleteCluster, getNamespaced, job, uniqueName } from '../../e2e/harness/fixtures.js';
import { apiErrorMessage, createTestNamespace, deleteNamespace, eventually, testKubeConfig } from '../../e2e/harness/kube.js';
import { startOctopus, type RunningOctopus } from '../../e2e/harness/octopus.js';
import { core } from '../resources.js';
import { holdsDesired, isNotFound, withDesiredHash } from '../runtime/index.js';
import { desiredNamespace, desiredNetworkPolicy, desiredQuota, desiredRoleBindings, networkPolicyName, workspaceFinalizer, type NetworkPolicy } from './children.js';
import { deleteUserRoles, installUserRoles } from '../../hack/platform.js';

const run = promisify(execFile);

let kc: KubeConfig;
let octopus: RunningOctopus;
const namespaces: string[] = [];
const workspaces: string[] = [];

beforeAll(async () => {
  kc = testKubeConfig();
  await installCrds(kc);
  // What the chart ships; applied here because no chart is installed on the test plane.
  await installUserRoles(kc);
  // The Quota summary comes from the Quota controller, so every controller runs.
  octopus = await startOctopus(kc);
});

afterAll(async () => {
  await octopus?.stop();
  // A finalizer nobody serves any more would keep a Workspace forever.
  for (const name of workspaces) {
    await kc.makeApiClient(CustomObjectsApi).patchClusterCustomObject({ group, version, plural: 'workspaces', name, body: { metadata: { finalizers: null } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)).catch(() => undefined);
    await deleteCluster(kc, 'workspaces', name);
  }
  for (const ns of namespaces) await deleteNamespace(kc, ns);
  // The chart test's Helm release must be able to own these roles.
  await deleteUserRoles(kc);
});

function workspace(name: string, spec: Workspace['spec']): Workspace {
  return { apiVersion, kind: 'Workspace', metadata: { name }, spec };
}

async function createWorkspace(spec: Workspace['spec']): Promise<string> {
  const name = uniqueName('ws');
  workspaces.push(name);
  namespaces.push(name);
  await createCluster(kc, 'workspaces', workspace(name, spec));
  return name;
}

const getWorkspace = async (name: string) => (await kc.makeApiClient(CustomObjectsApi).getClusterCustomObject({ group, version, plural: 'workspaces', name })) as Workspace;
const readNamespace = (name: string) => kc.makeApiClient(CoreV1Api).readNamespace({ name });
/** The workspace's NetworkPolicy as the API has it (client-node's typed model renames `from`); undefined when absent. */
const readPolicy = (namespace: string) => octopus.manager.client.get<NetworkPolicy>(core.NetworkPolicy, networkPolicyName, namespace).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
/** The namespaces a policy admits, by name; `(own)` for its own namespace's pods. */
const admitted = (p: NetworkPolicy | undefined) => p?.spec.ingress.flatMap((rule) => rule.from.map((peer) => peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] ?? (peer.podSelector ? '(own)' : '?')));
const ready = (ws: Workspace) => ws.status?.conditions?.find((c) => c.type === 'Ready');

async function waitReady(name: string, generation = 1): Promise<Workspace> {
  return eventually(`workspace ${name} Ready at generation ${generation}`, async () => {
    const ws = await getWorkspace(name);
    return ready(ws)?.status === 'True' && (ws.status?.observedGeneration ?? 0) >= generation ? ws : undefined;
  });
}

async function patchWorkspace(name: string, patch: unknown): Promise<void> {
  await kc.makeApiClient(CustomObjectsApi).patchClusterCustomObject({ group, version, plural: 'workspaces', name, body: patch }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
}

/** The real apiserver's answer, as a user would ask it. */
async function canI(verb: string, resource: string, namespace: string, as: { user: string; group?: string }): Promise<boolean> {
  const args = ['--kubeconfig', process.env.OCTOPUS_TEST_KUBECONFIG!, 'auth', 'can-i', verb, resource, '-n', namespace, `--as=${as.user}`, ...(as.group ? [`--as-group=${as.group}`] : [])];
  try {
    const { stdout } = await run('kubectl', args);
    return stdout.trim() === 'yes';
  } catch (err) {
    // can-i exits 1 when the answer is no.
    if ((err as { code?: number; stdout?: string }).code === 1 && (err as { stdout?: string }).stdout?.trim() === 'no') return false;
    throw err;
  }
}

async function waitGone(what: string, read: () => Promise<unknown>, timeoutMs = 60_000): Promise<void> {
  await eventually(
    what,
    async () => {
      try {
        await read();
        return undefined;
      } catch (err) {
        if ((err as { code?: number }).code === 404) return true;
        throw err;
      }
    },
    timeoutMs,
  );
}

describe('Workspace controller on the real plane', () => {
  it('creates the namespace, RoleBindings and Quota; members may create Jobs in their workspace and not in another', async () => {
    const a = await createWorkspace({
      members: [
        { name: 'alice', role: 'owner' },
        { name: 'bob', role: 'member' },
        { kind: 'Group', name: 'vision-interns', role: 'viewer' },
        { kind: 'ServiceAccount', name: 'ci', namespace: 'ci-system', role: 'member' },
      ],
      quota: { hard: { 'nvidia.com/gpu': 4 } },
      pools: ['no-such-pool'],
    });
    const b = await createWorkspace({ members: [{ name: 'carol', role: 'member' }], podSecurity: 'baseline' });

    const ws = await waitReady(a);
    expect(ws.status).toMatchObject({ namespace: a, memberCount: 4 });
    expect(ready(ws)?.message).toContain('not found yet: no-such-pool');
    expect(ws.metadata.finalizers).toContain(workspaceFinalizer);
    const ns = await readNamespace(a);
    expect(ns.metadata?.labels).toMatchObject({
      [workspaceLabel]: a,
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/audit': 'restricted',
      'pod-security.kubernetes.io/warn': 'restricted',
    });
    expect(ns.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'Workspace', name: a, uid: ws.metadata.uid, controller: true })]);
    expect((await readNamespace(b)).metadata?.labels?.['pod-security.kubernetes.io/enforce']).toBe('baseline');

    const bindings = (await kc.makeApiClient(RbacAuthorizationV1Api).listNamespacedRoleBinding({ namespace: a })).items.filter((rb) => rb.metadata?.labels?.[workspaceLabel] === a);
    const byName = Object.fromEntries(bindings.map((rb) => [rb.metadata!.name!, { role: rb.roleRef.name, subjects: rb.subjects }]));
    expect(byName).toEqual({
      'octopus-admin': { role: 'octopus-admin', subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'alice' }] },
      'octopus-edit': {
        role: 'octopus-edit',
        subjects: [
          { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'bob' },
          { kind: 'ServiceAccount', name: 'ci', namespace: 'ci-system' },
        ],
      },
      'octopus-view': { role: 'octopus-view', subjects: [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'vision-interns' }] },
    });
    const quota = await getNamespaced<Quota>(kc, 'quotas', a, 'default');
    expect(quota.spec.hard).toEqual({ 'nvidia.com/gpu': 4 });
    // Steady, the children cost no writes: the apiserver already holds what the controller wants.
    // List items come without apiVersion and kind; the controller's informer fills them in.
    const live = new Map<string, KubernetesObject>([['namespace', ns], ['quota', quota], ...bindings.map((rb): [string, KubernetesObject] => [rb.metadata!.name!, { ...rb, apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' }])]);
    const wanted = new Map<string, KubernetesObject>([['namespace', desiredNamespace(ws)], ['quota', desiredQuota(ws)!], ...desiredRoleBindings(ws).map((rb): [string, KubernetesObject] => [rb.metadata!.name!, rb])]);
    expect([...wanted.keys()].sort()).toEqual([...live.keys()].sort());
    expect([...wanted].filter(([key, want]) => !holdsDesired(withDesiredHash(want), live.get(key))).map(([key]) => key)).toEqual([]);
    // The Quota controller summarizes; the Workspace shows its accelerators.
    await eventually('quota summary in the workspace status', async () => ((await getWorkspace(a)).status?.quota === '0/4' ? true : undefined));

    expect(await canI('create', 'jobs.octopus.openi.pcl.cn', a, { user: 'bob' })).toBe(true);
    expect(await canI('create', 'jobs.octopus.openi.pcl.cn', b, { user: 'bob' })).toBe(false);
    expect(await canI('create', 'jobs.octopus.openi.pcl.cn', b, { user: 'carol' })).toBe(true);
    expect(await canI('create', 'jobs.octopus.openi.pcl.cn', a, { user: 'system:serviceaccount:ci-system:ci' })).toBe(true);
    expect(await canI('get', 'notebooks.octopus.openi.pcl.cn', a, { user: 'dave', group: 'vision-interns' })).toBe(true);
    expect(await canI('create', 'notebooks.octopus.openi.pcl.cn', a, { user: 'dave', group: 'vision-interns' })).toBe(false);
    // Nobody raises their own limits: the Quota comes from the Workspace.
    expect(await canI('update', 'quotas.octopus.openi.pcl.cn', a, { user: 'alice' })).toBe(false);
    expect(await canI('delete', 'pods', a, { user: 'alice' })).toBe(true);
    expect(await canI('delete', 'pods', a, { user: 'bob' })).toBe(false);

    // Pod Security Admission enforces the label the Workspace set.
    const privileged = kc.makeApiClient(CoreV1Api).createNamespacedPod({
      namespace: a,
      body: { metadata: { name: 'root' }, spec: { containers: [{ name: 'c', image: 'busybox', securityContext: { privileged: true } }] } },
    });
    await expect(privileged.catch((err: unknown) => Promise.reject(new Error(apiErrorMessage(err))))).rejects.toThrow(/violates PodSecurity "restricted:latest"/);
  });

  it('follows spec changes: a removed member loses their binding, a changed quota is applied, an unset quota is deleted', async () => {
    const name = await createWorkspace({ members: [{ name: 'alice', role: 'owner' }, { name: 'bob', role: 'member' }], quota: { hard: { cpu: 8 } } });
    await waitReady(name);
    expect(await canI('create', 'jobs.octopus.openi.pcl.cn', name, { user: 'bob' })).toBe(true);

    await patchWorkspace(name, { spec: { members: [{ name: 'alice', role: 'owner' }], quota: { hard: { cpu: 16 } } } });
    await waitReady(name, 2);
    await waitGone('binding octopus-edit removed', () => kc.makeApiClient(RbacAuthorizationV1Api).readNamespacedRoleBinding({ name: 'octopus-edit', namespace: name }));
    expect(await canI('create', 'jobs.octopus.openi.pcl.cn', name, { user: 'bob' })).toBe(false);
    expect((await getNamespaced<Quota>(kc, 'quotas', name, 'default')).spec.hard).toEqual({ cpu: 16 });

    await patchWorkspace(name, { spec: { quota: null } });
    await waitReady(name, 3);
    await waitGone('Quota default removed', () => getNamespaced(kc, 'quotas', name, 'default'));
  });

  it('isolates the namespace with a NetworkPolicy that follows spec.network, comes back when deleted and goes with isolation None', async () => {
    const name = await createWorkspace({ members: [{ name: 'alice', role: 'owner' }] });
    const ws = await waitReady(name);
    const policy = (await readPolicy(name))!;
    expect(policy.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'Workspace', name, uid: ws.metadata.uid, controller: true })]);
    expect(policy.spec.podSelector).toEqual({});
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    // The controller's defaults: the ingress controller's and the scraper's namespaces.
    expect(admitted(policy)).toEqual(['(own)', octopus.options.ingressNamespace, octopus.options.monitoringNamespace]);
    // Steady, it costs no writes.
    expect(holdsDesired(withDesiredHash(desiredNetworkPolicy(ws, octopus.options)!), policy)).toBe(true);

    await patchWorkspace(name, { spec: { network: { allowFromNamespaces: ['shared-gateway'] } } });
    await eventually('the allowed namespace admitted', async () => (admitted(await readPolicy(name))?.includes('shared-gateway') ? true : undefined));

    // Someone with more rights than a member deletes it: the Workspace puts it back.
    await kc.makeApiClient(NetworkingV1Api).deleteNamespacedNetworkPolicy({ name: networkPolicyName, namespace: name });
    await eventually('the policy recreated', async () => (admitted(await readPolicy(name))?.includes('shared-gateway') ? true : undefined));

    await patchWorkspace(name, { spec: { network: { isolation: 'None' } } });
    await eventually('NetworkPolicy removed with isolation None', async () => ((await readPolicy(name)) === undefined ? true : undefined));
    expect(ready(await waitReady(name, 3))?.status).toBe('True');

    await patchWorkspace(name, { spec: { network: { isolation: 'Isolated' } } });
    await eventually('the policy back with isolation Isolated', async () => ((await readPolicy(name)) ? true : undefined));
  });

  it('keeps a Job in a pool its Workspace does not list waiting, until spec.pools lists it', async () => {
    const cpu = await createPool(kc, { nodes: 1, nodeClass: 'cpu' });
    try {
      // Its Quota names what the job asks for: the Workspace fails closed (requireQuota) otherwise.
      const name = await createWorkspace({ members: [{ name: 'alice', role: 'owner' }], pools: ['gpu-a100'], quota: { hard: { cpu: 8, memory: '16Gi' } } });
      await waitReady(name);
      await job(name, 'train').pool(cpu.name).task({ name: 'w', resources: { requests: { cpu: 1 } } }).create(kc);
      const resolved = (j: Job) => j.status?.conditions?.find((c) => c.type === 'ReferencesResolved');
      const waiting = await eventually('PoolNotInWorkspace', async () => {
        const j = await getNamespaced<Job>(kc, 'jobs', name, 'train');
        return resolved(j)?.reason === 'PoolNotInWorkspace' ? j : undefined;
      });
      expect(resolved(waiting)).toMatchObject({ status: 'False', message: `ResourcePool ${cpu.name} is not one Workspace ${name} may use (spec.pools: gpu-a100)` });
      expect(waiting.status?.phase).toBe('Queued');

      await patchWorkspace(name, { spec: { pools: ['gpu-a100', cpu.name] } });
      const admitted = await eventually(
        'admitted once the pool is listed',
        async () => {
          const j = await getNamespaced<Job>(kc, 'jobs', name, 'train');
          return j.status?.conditions?.some((c) => c.type === 'Admitted' && c.status === 'True') ? j : undefined;
        },
        60_000,
      );
      expect(resolved(admitted)?.status).toBe('True');
    } finally {
      await cpu.cleanup();
    }
  });

  it("keeps a Job whose output names a StorageClass the Workspace does not list waiting, and makes no claim of it", async () => {
    const cpu = await createPool(kc, { nodes: 1, nodeClass: 'cpu' });
    try {
      const name = await createWorkspace({ members: [{ name: 'alice', role: 'owner' }], quota: { hard: { cpu: 8, memory: '16Gi' } }, storage: { storageClasses: ['standard'] } });
      await waitReady(name);
      // What the webhook would refuse at apply time: written here straight to the apiserver, as if the policy narrowed later.
      await job(name, 'train')
        .pool(cpu.name)
        .task({ name: 'w', resources: { requests: { cpu: 1, memory: '1Gi' } } })
        .with({ output: { model: { name: 'm', storage: { storageClassName: 'premium' } } } })
        .create(kc);
      const denied = await eventually('StoragePolicyDenied', async () => {
        const j = await getNamespaced<Job>(kc, 'jobs', name, 'train');
        return j.status?.conditions?.find((c) => c.type === 'ReferencesResolved' && c.reason === 'StoragePolicyDenied') ? j : undefined;
      });
      expect(denied.status?.conditions?.find((c) => c.type === 'ReferencesResolved')?.message).toBe(
        `spec.output.model.storage.storageClassName: StorageClass "premium" is not allowed in workspace ${name} (its spec.storage.storageClasses allows standard)`,
      );
      expect(denied.status?.phase).toBe('Queued');
      expect(denied.status?.admission).toBeUndefined();
      const claims = await kc.makeApiClient(CoreV1Api).listNamespacedPersistentVolumeClaim({ namespace: name });
      expect(claims.items.map((c) => c.metadata?.name)).toEqual([]);
    } finally {
      await cpu.cleanup();
    }
  });

  it('never takes over a namespace it did not create, and never deletes it', async () => {
    const name = await createTestNamespace(kc, 'ws-taken');
    namespaces.push(name);
    workspaces.push(name);
    await createCluster(kc, 'workspaces', workspace(name, { members: [{ name: 'mallory', role: 'owner' }], deletionPolicy: 'Delete' }));
    const ws = await eventually('NamespaceConflict', async () => {
      const w = await getWorkspace(name);
      return ready(w)?.reason === 'NamespaceConflict' ? w : undefined;
    });
    expect(ready(ws)?.status).toBe('False');
    expect(ws.status?.namespace).toBeUndefined();
    const ns = await readNamespace(name);
    expect(ns.metadata?.ownerReferences).toBeUndefined();
    expect(ns.metadata?.labels?.[workspaceLabel]).toBeUndefined();
    expect((await kc.makeApiClient(RbacAuthorizationV1Api).listNamespacedRoleBinding({ namespace: name })).items).toHaveLength(0);

    await deleteCluster(kc, 'workspaces', name);
    await waitGone('workspace deleted', () => getWorkspace(name));
    expect((await readNamespace(name)).metadata?.deletionTimestamp).toBeUndefined();
  });

  it('Retain: deleting the Workspace keeps the namespace, its bindings and its Quota, no longer owned', async () => {
    const name = await createWorkspace({ members: [{ name: 'alice', role: 'owner' }], quota: { hard: { cpu: 4 } }, deletionPolicy: 'Retain' });
    await waitReady(name);
    await deleteCluster(kc, 'workspaces', name);
    await waitGone('workspace deleted', () => getWorkspace(name));

    const ns: V1Namespace = await readNamespace(name);
    expect(ns.metadata?.deletionTimestamp).toBeUndefined();
    expect(ns.metadata?.ownerReferences ?? []).toEqual([]);
    expect(ns.metadata?.labels?.[workspaceLabel]).toBeUndefined();
    expect(ns.metadata?.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    const binding = await kc.makeApiClient(RbacAuthorizationV1Api).readNamespacedRoleBinding({ name: 'octopus-admin', namespace: name });
    expect(binding.metadata?.ownerReferences ?? []).toEqual([]);
    const quota = await getNamespaced<Quota>(kc, 'quotas', name, 'default');
    expect(quota.metadata.ownerReferences ?? []).toEqual([]);
    // The retained namespace stays isolated.
    const policy = await readPolicy(name);
    expect(policy).toBeDefined();
    expect(policy?.metadata?.ownerReferences ?? []).toEqual([]);
    // No owner reference is left for the garbage collector to follow: members keep working.
    expect(await canI('create', 'jobs.octopus.openi.pcl.cn', name, { user: 'alice' })).toBe(true);
  });

  it('Delete: deleting the Workspace deletes its namespace, and the Workspace goes once the namespace is gone', async () => {
    const name = await createWorkspace({ members: [{ name: 'alice', role: 'owner' }], deletionPolicy: 'Delete' });
    await waitReady(name);
    await deleteCluster(kc, 'workspaces', name);
    await waitGone('workspace deleted', () => getWorkspace(name), 90_000);
    await waitGone('namespace deleted', () => readNamespace(name));
  });
});
