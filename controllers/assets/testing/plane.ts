/** Integration-test support for the asset controllers: objects on the real plane, controllers in-process, volumes for claims. */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { beforeAll } from '@jest/globals';
import { installCrds } from '../../../e2e/harness/crds.js';
import { eventually } from '../../../e2e/harness/kube.js';
import type { ControllerSetup } from '../../context.js';
import type { ControllerOptions } from '../../options.js';
import { isNotFound, Manager, ObjectClient, resourcePath, RestClient, type ManagerOptions, type ResourceRef } from '../../runtime/index.js';
import { testLogger } from '../../runtime/testing/fixtures.js';
import { useTestNamespace, type TestPlane } from '../../runtime/testing/suite.js';

export interface AssetPlane extends TestPlane {
  rest: RestClient;
  client: ObjectClient;
}

/** A namespace with the CRDs installed, deleted after the last test. */
export function useAssetPlane(prefix: string): AssetPlane {
  const plane = useTestNamespace(prefix) as AssetPlane;
  beforeAll(async () => {
    await installCrds(plane.kc);
    plane.rest = new RestClient(plane.kc);
    plane.client = new ObjectClient({ rest: plane.rest });
  });
  return plane;
}

/** A manager running `setups` in-process against `kc`, without leader election, started. */
export async function startManager(kc: KubeConfig, setups: ControllerSetup[], options: ControllerOptions, extra: Partial<ManagerOptions> = {}): Promise<Manager> {
  const manager = new Manager({ kubeConfig: kc, logger: testLogger(), instance: 'test', informers: { backoff: { initialMs: 50, maxMs: 1000 } }, ...extra });
  for (const setup of setups) setup({ manager, options });
  await manager.start();
  return manager;
}

export async function create<T extends KubernetesObject>(plane: AssetPlane, resource: ResourceRef, obj: T): Promise<T> {
  return plane.rest.request<T>({ method: 'POST', path: resourcePath(resource, { namespace: plane.namespace }), body: obj });
}

export async function get<T extends KubernetesObject>(plane: AssetPlane, resource: ResourceRef, name: string): Promise<T | undefined> {
  try {
    return await plane.client.get<T>(resource, name, resource.namespaced ? plane.namespace : undefined);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export async function list<T extends KubernetesObject>(plane: AssetPlane, resource: ResourceRef, labelSelector?: string): Promise<T[]> {
  const body = await plane.rest.request<{ items: T[] }>({ method: 'GET', path: resourcePath(resource, { namespace: plane.namespace }), query: { labelSelector } });
  return body.items;
}

/** Waits until the object exists and `check` accepts it; returns it. */
export async function waitFor<T extends KubernetesObject>(plane: AssetPlane, resource: ResourceRef, name: string, what: string, check: (obj: T) => boolean, timeoutMs?: number): Promise<T> {
  return eventually(
    `${resource.kind} ${name}: ${what}`,
    async () => {
      const obj = await get<T>(plane, resource, name);
      return obj && check(obj) ? obj : undefined;
    },
    timeoutMs,
  );
}

export async function waitGone(plane: AssetPlane, resource: ResourceRef, name: string, timeoutMs?: number): Promise<void> {
  await eventually(`${resource.kind} ${name} gone`, async () => ((await get(plane, resource, name)) ? undefined : true), timeoutMs);
}

export interface TestEvent {
  reason: string;
  type: string;
  note: string;
  reportingInstance: string;
  regarding: { kind: string; name: string };
}

const eventsResource: ResourceRef = { group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true };

/** Events about the object `kind/name` in the plane's namespace. */
export async function eventsAbout(plane: AssetPlane, kind: string, name: string): Promise<TestEvent[]> {
  const events = await list<KubernetesObject & TestEvent>(plane, eventsResource);
  return events.filter((e) => e.regarding.kind === kind && e.regarding.name === name);
}

/** Annotations that make a simulated import or build pod end as told (see README "Simulated pods"). */
export function simulated(outcome: 'Succeed' | 'Fail', message: string, duration = '1s'): { annotations: Record<string, string> } {
  return {
    annotations: {
      'sim.octopus.openi.pcl.cn/outcome': outcome,
      'sim.octopus.openi.pcl.cn/message': message,
      'sim.octopus.openi.pcl.cn/duration': duration,
    },
  };
}
