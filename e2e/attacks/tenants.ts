/**
 * The attack suite's world: the platform running as `npm run up` runs it (webhook server and
 * controller as their own processes), the admin examples (pools, specs, device policy, priority
 * classes), and two tenants; the attacker's workspace allows the classes low and standard only. The attacker, `mallory`, is a member of `atk-a` and holds only `octopus-edit` there
 * (through the Workspace's RoleBinding); `atk-b` belongs to someone else. Every attack is performed
 * with the attacker's own identity (API impersonation), never the admin's.
 */
import { spawnSync } from 'node:child_process';
import { CoreV1Api, CustomObjectsApi, KubeConfig, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { apiVersion, group, version, type Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { deleteUserRoles, startOctopus, stopOctopus } from '../../hack/platform.js';
import { validExamples, type KubeManifest } from '../harness/examples.js';
import { apiErrorMessage, eventually, testKubeConfig } from '../harness/kube.js';

export const attacker = 'mallory';
export const attackerNamespace = 'atk-a';
export const victimNamespace = 'atk-b';
/** The priority classes of the admin examples both workspaces list; urgent and production they do not. */
export const attackerPriorityClasses = ['low', 'standard'];

export interface AttackWorld {
  /** The cluster admin (setup, and reading what an attack left behind). */
  admin: KubeConfig;
  /** The attacker: every request made as `mallory`. */
  member: KubeConfig;
  /** The attacker's namespace, and another tenant's. */
  ns: string;
  victimNs: string;
  /** Creates (server-side applies) an object as the attacker; resolves to the refusal message, or undefined when accepted. */
  tryApply(obj: KubernetesObject): Promise<string | undefined>;
  /** `kubectl` as the attacker, for attacks a user would type; returns {status, output}. */
  kubectl(args: string[], stdin?: string): { status: number; output: string };
  /** Reads an object as the admin; undefined when it does not exist. */
  read<T extends KubernetesObject>(obj: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }): Promise<T | undefined>;
}

/** The same cluster and credentials, with every request impersonating `user`. */
export function impersonating(admin: KubeConfig, user: string): KubeConfig {
  const kc = new KubeConfig();
  const current = admin.getCurrentUser()!;
  kc.loadFromOptions({
    clusters: admin.getClusters(),
    users: [{ ...current, name: `${current.name}-as-${user}`, impersonateUser: user }],
    contexts: [{ name: 'attack', cluster: admin.getCurrentCluster()!.name, user: `${current.name}-as-${user}` }],
    currentContext: 'attack',
  });
  return kc;
}

function tenant(name: string, members: NonNullable<Workspace['spec']['members']>, priorityClasses: string[]): Workspace {
  return {
    apiVersion: `${group}/${version}`,
    kind: 'Workspace',
    metadata: { name },
    spec: {
      members,
      pools: ['gpu-a100', 'cpu'],
      priorityClasses,
      quota: { hard: { 'nvidia.com/gpu': 16, cpu: 64, memory: '256Gi' } },
      deletionPolicy: 'Delete',
    },
  };
}

/** The admin examples (pools, specs, device policy, priority classes): cluster-scoped, no Workspace. */
function adminExamples(): KubeManifest[] {
  return validExamples()
    .filter((f) => f.file.startsWith('examples/00-admin/'))
    .flatMap((f) => f.documents)
    .filter((d) => d.kind !== 'Workspace');
}

async function serverSideApply(kc: KubeConfig, obj: KubernetesObject, manager: string): Promise<void> {
  await KubernetesObjectApi.makeApiClient(kc).patch(obj, undefined, undefined, manager, true, PatchStrategy.ServerSideApply);
}

export async function setUpAttackWorld(): Promise<AttackWorld> {
  const admin = testKubeConfig();
  await startOctopus(admin, () => {});
  for (const doc of adminExamples()) await serverSideApply(admin, doc as KubernetesObject, 'octopus-attacks');
  await serverSideApply(admin, tenant(attackerNamespace, [{ name: attacker, role: 'member' }], attackerPriorityClasses) as KubernetesObject, 'octopus-attacks');
  await serverSideApply(admin, tenant(victimNamespace, [{ name: 'victoria', role: 'owner' }], attackerPriorityClasses) as KubernetesObject, 'octopus-attacks');
  const member = impersonating(admin, attacker);
  // Ready once the attacker's RoleBinding works: the attacker can list Jobs in their namespace.
  await eventually(`${attacker} may use ${attackerNamespace}`, async () => {
    await member.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group, version, namespace: attackerNamespace, plural: 'jobs' });
    await admin.makeApiClient(CoreV1Api).readNamespacedServiceAccount({ name: 'default', namespace: victimNamespace });
    return true;
  }, 60_000);
  const kubeconfigFile = `${process.env.OCTOPUS_TEST_KUBECONFIG}`;
  return {
    admin,
    member,
    ns: attackerNamespace,
    victimNs: victimNamespace,
    async tryApply(obj) {
      try {
        await serverSideApply(member, obj, 'kubectl');
        return undefined;
      } catch (err) {
        return apiErrorMessage(err);
      }
    },
    kubectl(args, stdin) {
      // Both streams: kubectl prints the webhook's warnings on stderr even when it succeeds.
      const run = spawnSync('kubectl', [`--kubeconfig=${kubeconfigFile}`, `--as=${attacker}`, ...args], { input: stdin ?? '', encoding: 'utf8' });
      return { status: run.status ?? 1, output: `${run.stdout ?? ''}${run.stderr ?? ''}` };
    },
    async read<T extends KubernetesObject>(obj: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }) {
      try {
        return (await KubernetesObjectApi.makeApiClient(admin).read(obj)) as T;
      } catch (err) {
        if ((err as { code?: number }).code === 404) return undefined;
        throw err;
      }
    },
  };
}

export async function tearDownAttackWorld(world: AttackWorld | undefined): Promise<void> {
  const admin = world?.admin ?? testKubeConfig();
  const objects = KubernetesObjectApi.makeApiClient(admin);
  const custom = admin.makeApiClient(CustomObjectsApi);
  for (const name of [attackerNamespace, victimNamespace]) {
    await custom.deleteClusterCustomObject({ group, version, plural: 'workspaces', name }).catch(() => undefined);
  }
  // Deleted while the controller still runs: only it lifts the Workspaces' finalizers.
  for (const name of [attackerNamespace, victimNamespace]) {
    await eventually(`Workspace ${name} deleted`, () => custom.getClusterCustomObject({ group, version, plural: 'workspaces', name }).then(() => undefined, (err: { code?: number }) => (err.code === 404 ? true : undefined)), 90_000);
  }
  for (const doc of adminExamples().reverse()) await objects.delete(doc as KubernetesObject).catch(() => undefined);
  await stopOctopus(admin, () => {});
  await deleteUserRoles(admin);
}

/** An Octopus Job of the attacker's namespace, as `AttackWorld.read` takes it. */
export const jobRef = (w: AttackWorld, name: string) => ({ apiVersion, kind: 'Job', metadata: { name, namespace: w.ns } });

/** Deletes an attack's Job as admin and waits until it is gone, so the next attack starts clean. */
export async function deleteJob(w: AttackWorld, name: string): Promise<void> {
  await w.admin
    .makeApiClient(CustomObjectsApi)
    .deleteNamespacedCustomObject({ group, version, plural: 'jobs', namespace: w.ns, name })
    .catch((err: { code?: number }) => {
      if (err.code !== 404) throw err;
    });
  await eventually(`Job ${w.ns}/${name} gone`, async () => ((await w.read(jobRef(w, name))) === undefined ? true : undefined), 60_000);
}
