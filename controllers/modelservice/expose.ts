/**
 * Exposing a workload over HTTP — a Service and, when asked, an Ingress — and the URL users open.
 * Shared by ModelServices and Notebooks: both serve HTTP from a container port named `http`. The
 * Service and Ingress stay while the workload is stopped, so its URL never changes.
 *
 * Hosts are the platform's to give: a workload's host is derived, `<name>-<namespace>.<domain>`
 * (one label naming both, so no derived host is another's or the platform's own), unless its
 * Workspace's spec.hosts grants the host it names. Hosts under the platform domain are only ever
 * derived. Two workloads never route the same host and path: the webhook refuses the second, and
 * before applying an Ingress the controller checks that no Ingress of someone else's routes them.
 * The IngressClass is the platform's too.
 */
import type { KubernetesObject, V1Ingress, V1Service } from '@kubernetes/client-node';
import type { ModelService, Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { core, octopus } from '../resources.js';
import { applyOwnedChild, controllerReference, isControlledBy, type ChildProblem, type Informer, type Manager, type ObjectClient } from '../runtime/index.js';

/** spec.ingress of a ModelService or a Notebook (one shape). */
export type IngressSpec = NonNullable<ModelService['spec']['ingress']>;

/** The container port the Service and the Ingress forward to. */
export const httpPortName = 'http';

/** Domain of derived hosts when none is configured; the controller's and the webhook server's flags default to it. */
export const defaultIngressDomain = 'octopus.local';

interface Named extends KubernetesObject {
  metadata: { name?: string; namespace?: string; uid?: string };
}

function names(owner: Named): { name: string; namespace: string } {
  return { name: owner.metadata.name!, namespace: owner.metadata.namespace! };
}

export function ingressEnabled(ingress: IngressSpec | undefined): ingress is IngressSpec {
  return ingress?.enabled === true;
}

/** The host the platform gives a workload: <name>-<namespace>.<domain>. */
export function derivedHost(owner: Named, domain: string): string {
  const { name, namespace } = names(owner);
  return `${name}-${namespace}.${domain}`;
}

/** The Ingress host: as given, else derived. */
export function ingressHost(owner: Named, ingress: IngressSpec, domain: string): string {
  return ingress.host ?? derivedHost(owner, domain);
}

/** A path prefix as Prefix matching compares it: by whole segments, a trailing slash not counting. */
export function normalizedPath(path: string | undefined): string {
  const trimmed = (path ?? '/').replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

/** Whether a Workspace's spec.hosts grants `host`: an entry equal to it, or an entry `.suffix` it ends with (whole labels; not the suffix itself). */
export function hostGranted(host: string, grants: readonly string[]): boolean {
  return grants.some((g) => (g.startsWith('.') ? host.endsWith(g) && host.length > g.length : host === g));
}

const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Why a workload may not claim a host, as a field error. */
export interface HostRefusal {
  path: 'spec.ingress.host' | 'metadata.name';
  message: string;
}

/**
 * Why `owner` may not route its ingress host, or undefined when it may: the derived host always (when
 * it is a valid host name), a host under the platform domain never otherwise, any other host only
 * when `grants` (the Workspace's spec.hosts) grants it.
 */
export function hostRefusal(owner: Named, ingress: IngressSpec, domain: string, grants: readonly string[] | undefined): HostRefusal | undefined {
  const { name, namespace } = names(owner);
  const derived = derivedHost(owner, domain);
  const host = ingressHost(owner, ingress, domain);
  if (host === derived) {
    if (dnsLabel.test(`${name}-${namespace}`)) return undefined;
    return { path: 'metadata.name', message: `${name} cannot be exposed: its derived host ${derived} needs <name>-<namespace> to be one DNS label of at most 63 characters` };
  }
  if (host === domain || host.endsWith(`.${domain}`)) {
    return { path: 'spec.ingress.host', message: `${host} is not allowed in workspace ${namespace} (hosts under the platform domain ${domain} are only derived ones: this workload's is ${derived})` };
  }
  if (hostGranted(host, grants ?? [])) return undefined;
  const granted = grants?.length ? `its spec.hosts grants only ${grants.join(', ')}` : 'its spec.hosts grants no host';
  return { path: 'spec.ingress.host', message: `${host} is not allowed in workspace ${namespace} (${granted}; the derived host is ${derived})` };
}

/** Whether `ingress` routes `host` with the path prefix `path` (normalized). */
export function routes(ingress: V1Ingress, host: string, path: string): boolean {
  return (ingress.spec?.rules ?? []).some((r) => r.host === host && (r.http?.paths ?? []).some((p) => normalizedPath(p.path) === path));
}

/** Where users open it: through the Ingress when enabled, else the Service's in-cluster name. */
export function serviceUrl(owner: Named, ingress: IngressSpec | undefined, domain: string): string {
  const { name, namespace } = names(owner);
  if (!ingressEnabled(ingress)) return `http://${name}.${namespace}.svc/`;
  return `http://${ingressHost(owner, ingress, domain)}${ingress.path ?? '/'}`;
}

/** A ClusterIP Service on port 80, named like its owner, forwarding to the pods' `http` port. */
export function desiredService(owner: Named, labels: Record<string, string>, selector: Record<string, string>): V1Service {
  const { name, namespace } = names(owner);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, labels, ownerReferences: [controllerReference(owner)] },
    spec: { selector, ports: [{ name: httpPortName, port: 80, targetPort: httpPortName, protocol: 'TCP' }] },
  };
}

/** An Ingress of the platform's class (the cluster default when `className` is empty) routing the host and path prefix to the Service. */
export function desiredIngress(owner: Named, labels: Record<string, string>, ingress: IngressSpec, domain: string, className = ''): V1Ingress {
  const { name, namespace } = names(owner);
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace, labels, ownerReferences: [controllerReference(owner)] },
    spec: {
      ...(className ? { ingressClassName: className } : {}),
      rules: [
        {
          host: ingressHost(owner, ingress, domain),
          http: { paths: [{ path: ingress.path ?? '/', pathType: 'Prefix', backend: { service: { name, port: { name: httpPortName } } } }] },
        },
      ],
    },
  };
}

/**
 * The informers exposing reads: workloads' Services (selected on the workload's label), every Ingress
 * of the cluster (a workload's own by name, and who else routes a host), and the Workspaces granting hosts.
 */
export interface ExposureCaches {
  services: Informer<V1Service>;
  ingresses: Informer<V1Ingress>;
  workspaces: Informer<Workspace>;
}

/** Index of the Ingress cache: the hosts an Ingress routes. */
const byHost = 'host';
const indexedIngresses = new WeakMap<Manager, Informer<V1Ingress>>();

function ingressesByHost(manager: Manager): Informer<V1Ingress> {
  let ingresses = indexedIngresses.get(manager);
  if (!ingresses) {
    ingresses = manager.informer<V1Ingress>(core.Ingress);
    ingresses.addIndex(byHost, (ing) => [...new Set((ing.spec?.rules ?? []).flatMap((r) => (r.host ? [r.host] : [])))]);
    indexedIngresses.set(manager, ingresses);
  }
  return ingresses;
}

export function exposureCaches(manager: Manager, labelSelector: string): ExposureCaches {
  return { services: manager.informer<V1Service>(core.Service, { labelSelector }), ingresses: ingressesByHost(manager), workspaces: manager.informer<Workspace>(octopus.Workspace) };
}

export interface Exposure {
  owner: Named;
  labels: Record<string, string>;
  /** Labels selecting the pods that serve. */
  selector: Record<string, string>;
  ingress: IngressSpec | undefined;
  domain: string;
  /** The platform's IngressClass; empty leaves it to the cluster default. */
  className: string;
}

/**
 * Why the Ingress of `e` may not be applied: a host its Workspace does not grant, or a host and path
 * an Ingress of someone else's routes already. An Ingress of ours routing them was there first and keeps them.
 */
function claimProblem(caches: ExposureCaches, e: Exposure & { ingress: IngressSpec }, ours: V1Ingress | undefined): ChildProblem | undefined {
  const namespace = e.owner.metadata.namespace!;
  const refused = hostRefusal(e.owner, e.ingress, e.domain, caches.workspaces.get(namespace)?.spec.hosts);
  if (refused) return { reason: 'HostNotAllowed', message: `${refused.path}: ${refused.message}` };
  const host = ingressHost(e.owner, e.ingress, e.domain);
  const path = normalizedPath(e.ingress.path);
  if (ours && routes(ours, host, path)) return undefined;
  const other = caches.ingresses.byIndex(byHost, host).find((ing) => !isControlledBy(ing, e.owner) && routes(ing, host, path));
  if (!other) return undefined;
  const holder = other.metadata?.namespace === namespace ? `Ingress ${other.metadata?.name}` : 'an Ingress in another namespace';
  return { reason: 'HostConflict', message: `spec.ingress.host: ${host} path ${path} is routed by ${holder} already` };
}

/**
 * Applies the Service and, when enabled and its host is this workload's to claim, the Ingress (each
 * only when it differs from what is wanted); an Ingress no longer wanted, or no longer allowed, is
 * deleted. Returns the first child that could not be written, or why the Ingress may not be.
 */
export async function expose(client: ObjectClient, caches: ExposureCaches, e: Exposure): Promise<ChildProblem | undefined> {
  const key = `${e.owner.metadata.namespace}/${e.owner.metadata.name}`;
  const service = await applyOwnedChild(client, e.owner, desiredService(e.owner, e.labels, e.selector), caches.services.get(key));
  const ingress = caches.ingresses.get(key);
  const ours = ingress && isControlledBy(ingress, e.owner) ? ingress : undefined;
  if (ingressEnabled(e.ingress)) {
    const claim = claimProblem(caches, { ...e, ingress: e.ingress }, ours);
    if (!claim) {
      const applied = await applyOwnedChild(client, e.owner, desiredIngress(e.owner, e.labels, e.ingress, e.domain, e.className), ingress);
      return service.problem ?? applied.problem;
    }
    if (ours) await client.deleteIgnoreNotFound(ours);
    return service.problem ?? claim;
  }
  if (ours) await client.deleteIgnoreNotFound(ours);
  return service.problem;
}
