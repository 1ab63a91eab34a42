/**
 * Ingress hosts are the platform's to give (controllers/modelservice/expose.ts says how): a Notebook
 * or ModelService gets its derived host `<name>-<namespace>.<domain>`, or a host its Workspace's
 * spec.hosts grants, and never a host and path another Notebook or ModelService routes. The
 * controller checks the same before it applies an Ingress; here the user hears it at `kubectl apply`.
 * An UPDATE that keeps the host and path is not judged again, so narrowing spec.hosts does not
 * block other edits of workloads already exposed (the controller still withdraws their Ingress).
 */
import type { ModelService, Notebook } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { hostRefusal, ingressEnabled, ingressHost, normalizedPath, type IngressSpec } from '../../controllers/modelservice/expose.js';
import type { Check } from './check.js';

type Exposed = Notebook | ModelService;

/** The host and normalized path `w`, named `name` in `namespace`, routes when its ingress is enabled. */
function claim(w: Exposed, name: string, namespace: string, domain: string): { ingress: IngressSpec; host: string; path: string } | undefined {
  const ingress = w.spec.ingress;
  if (!ingressEnabled(ingress)) return undefined;
  return { ingress, host: ingressHost({ metadata: { name, namespace } }, ingress, domain), path: normalizedPath(ingress.path) };
}

/** The Check for the platform domain `domain` (the webhook server's --ingress-domain, the controller's too). */
export function validateIngressHost(domain: string): Check<Exposed> {
  return (ctx, lookups) => {
    const { namespace, object: w } = ctx;
    // The request names the object even when the object itself carries no metadata.
    const name = w.metadata?.name || ctx.name;
    if (namespace === undefined || !name) return { errors: [] };
    const wanted = claim(w, name, namespace, domain);
    if (wanted === undefined) return { errors: [] };
    if (ctx.operation === 'UPDATE') {
      const before = claim(ctx.oldObject, name, namespace, domain);
      if (before?.host === wanted.host && before.path === wanted.path) return { errors: [] };
    }
    const refused = hostRefusal({ metadata: { name, namespace } }, wanted.ingress, domain, lookups.workspaceHosts(namespace));
    if (refused) return { errors: [refused] };
    const self = (o: Exposed) => o.kind === w.kind && o.metadata.namespace === namespace && o.metadata.name === name;
    const holder = lookups.ingressClaims(wanted.host, domain).find((o) => !self(o) && claim(o, o.metadata.name!, o.metadata.namespace!, domain)?.path === wanted.path);
    if (holder === undefined) return { errors: [] };
    // Another tenant's workload is not named to this one.
    const who = holder.metadata.namespace === namespace ? `${holder.kind} ${holder.metadata.name}` : 'a workload in another namespace';
    return { errors: [{ path: 'spec.ingress.host', message: `${wanted.host} path ${wanted.path} is already routed by ${who}: no two workloads may claim the same host and path` }] };
  };
}
