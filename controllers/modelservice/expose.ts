/**
 * Exposing a workload over HTTP — a Service and, when asked, an Ingress — and the URL users open.
 * Shared by ModelServices and Notebooks: both serve HTTP from a container port named `http`. The
 * Service and Ingress stay while the workload is stopped, so its URL never changes.
 */
import type { KubernetesObject, V1Ingress, V1Service } from '@kubernetes/client-node';
import type { ModelService } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { core } from '../resources.js';
import { applyOwnedChild, controllerReference, isControlledBy, type ChildProblem, type Informer, type Manager, type ObjectClient } from '../runtime/index.js';

/** spec.ingress of a ModelService or a Notebook (one shape). */
export type IngressSpec = NonNullable<ModelService['spec']['ingress']>;

/** The container port the Service and the Ingress forward to. */
export const httpPortName = 'http';

interface Named extends KubernetesObject {
  metadata: { name?: string; namespace?: string; uid?: string };
}

function names(owner: Named): { name: string; namespace: string } {
  return { name: owner.metadata.name!, namespace: owner.metadata.namespace! };
}

export function ingressEnabled(ingress: IngressSpec | undefined): ingress is IngressSpec {
  return ingress?.enabled === true;
}

/** The Ingress host: as given, else <name>.<namespace>.<domain>. */
export function ingressHost(owner: Named, ingress: IngressSpec, domain: string): string {
  const { name, namespace } = names(owner);
  return ingress.host ?? `${name}.${namespace}.${domain}`;
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

/** An Ingress routing the host and path prefix to the Service. */
export function desiredIngress(owner: Named, labels: Record<string, string>, ingress: IngressSpec, domain: string): V1Ingress {
  const { name, namespace } = names(owner);
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace, labels, ownerReferences: [controllerReference(owner)] },
    spec: {
      rules: [
        {
          host: ingressHost(owner, ingress, domain),
          http: { paths: [{ path: ingress.path ?? '/', pathType: 'Prefix', backend: { service: { name, port: { name: httpPortName } } } }] },
        },
      ],
    },
  };
}

/** The informers of exposed workloads' Services and Ingresses, selected on the workload's label. */
export interface ExposureCaches {
  services: Informer<V1Service>;
  ingresses: Informer<V1Ingress>;
}

export function exposureCaches(manager: Manager, labelSelector: string): ExposureCaches {
  return { services: manager.informer<V1Service>(core.Service, { labelSelector }), ingresses: manager.informer<V1Ingress>(core.Ingress, { labelSelector }) };
}

export interface Exposure {
  owner: Named;
  labels: Record<string, string>;
  /** Labels selecting the pods that serve. */
  selector: Record<string, string>;
  ingress: IngressSpec | undefined;
  domain: string;
}

/**
 * Applies the Service and, when enabled, the Ingress (each only when it differs from what is
 * wanted); an Ingress no longer wanted is deleted. Returns the first child that could not be written.
 */
export async function expose(client: ObjectClient, caches: ExposureCaches, e: Exposure): Promise<ChildProblem | undefined> {
  const key = `${e.owner.metadata.namespace}/${e.owner.metadata.name}`;
  const service = await applyOwnedChild(client, e.owner, desiredService(e.owner, e.labels, e.selector), caches.services.get(key));
  const ingress = caches.ingresses.get(key);
  if (ingressEnabled(e.ingress)) {
    const applied = await applyOwnedChild(client, e.owner, desiredIngress(e.owner, e.labels, e.ingress, e.domain), ingress);
    return service.problem ?? applied.problem;
  }
  if (ingress && isControlledBy(ingress, e.owner)) await client.deleteIgnoreNotFound(ingress);
  return service.problem;
}
