/**
 * What a workspace member may write into their pods' labels and annotations (podMetadata of Job tasks,
 * Notebooks, ModelServices, image builds and asset imports). Pods are the platform's record of who runs
 * what, and other controllers act on their metadata: a copied `octopus.openi.pcl.cn/job` label makes a
 * pod count as another job's, `sidecar.istio.io/inject: "false"` leaves the mesh, a scheduler's group
 * annotation joins another gang, `cluster-autoscaler.kubernetes.io/safe-to-evict` pins a node. So keys
 * under the platform's prefixes and under the prefixes of the components that read pod metadata are
 * refused, whatever their value; anything else (team, cost centre, app.kubernetes.io/name) passes.
 *
 * The one exception under the platform's prefixes is `sim.octopus.openi.pcl.cn/*` annotations: the local
 * plane's simulated kubelet (kwok) picks a pod's outcome from them, and a real kubelet ignores them.
 *
 * Messages carry the value, so the ratchet of kindValidator (an UPDATE may keep an error the old object
 * had) keeps an entry written before this rule only while its key and value are unchanged.
 */
import type { Dataset, Image, Job, ModelService, Notebook } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { FieldError } from '../admission.js';
import type { Check } from './check.js';

/** The platform's own domain: labels and annotations under it, and under its subdomains, are set by Octopus only. */
export const platformDomain = 'octopus.openi.pcl.cn';
/** kwok's stages on the local plane read pod outcomes from these annotations (README "Simulated pods"). */
export const simulationPrefix = `sim.${platformDomain}`;

/** Domains (with their subdomains) whose keys steer components that read pod metadata, and why each is refused. */
export const deniedDomains: readonly { domain: string; why: string }[] = [
  { domain: 'kubernetes.io', why: "Kubernetes' own components (autoscaler, kubelet, security profiles) act on them" },
  { domain: 'k8s.io', why: "Kubernetes' own components (schedulers, autoscaler) act on them" },
  { domain: 'x-k8s.io', why: 'queueing and gang schedulers (Kueue, scheduler-plugins) act on them; Octopus admits and places pods' },
  { domain: 'volcano.sh', why: 'the Volcano scheduler acts on them; a pool names the scheduler' },
  { domain: 'yunikorn.apache.org', why: 'the YuniKorn scheduler acts on them; a pool names the scheduler' },
  { domain: 'karpenter.sh', why: 'the Karpenter autoscaler acts on them' },
  { domain: 'istio.io', why: "the service mesh acts on them; the workspace's network is the platform's" },
  { domain: 'linkerd.io', why: "the service mesh acts on them; the workspace's network is the platform's" },
];

/** Keys under a denied domain that only describe the application (Kubernetes' recommended labels). */
export const allowedKeys: ReadonlySet<string> = new Set(['name', 'instance', 'version', 'component', 'part-of'].map((k) => `app.kubernetes.io/${k}`));

const under = (prefix: string, domain: string): boolean => prefix === domain || prefix.endsWith(`.${domain}`);

/** Why `key` may not be passed to pods as a label or annotation (`what`), or undefined when it may. */
export function refusal(key: string, what: 'label' | 'annotation'): string | undefined {
  const slash = key.indexOf('/');
  if (slash < 0 || allowedKeys.has(key)) return undefined;
  const prefix = key.slice(0, slash).toLowerCase();
  if (under(prefix, platformDomain)) {
    if (what === 'annotation' && prefix === simulationPrefix) return undefined;
    return `the platform sets this ${what}`;
  }
  const denied = deniedDomains.find((d) => under(prefix, d.domain));
  return denied && `${what}s under ${denied.domain} are not passed to pods: ${denied.why}`;
}

interface PodMetadata {
  labels?: Readonly<Record<string, string>>;
  annotations?: Readonly<Record<string, string>>;
}

type WithPodMetadata = Job | Notebook | ModelService | Image | Dataset;

/** Where a kind keeps the metadata it passes to pods. Algorithm and Model share the Dataset's spec.import. */
function podMetadataOf(kind: string, obj: WithPodMetadata): { path: string; value: PodMetadata | undefined }[] {
  switch (kind) {
    case 'Job':
      return (obj as Job).spec.tasks.map((t, i) => ({ path: `spec.tasks[${i}].podMetadata`, value: t.podMetadata }));
    case 'Notebook':
    case 'ModelService':
      return [{ path: 'spec.podMetadata', value: (obj as Notebook | ModelService).spec.podMetadata }];
    case 'Image':
      return [{ path: 'spec.build.podMetadata', value: (obj as Image).spec.build?.podMetadata }];
    case 'Dataset':
    case 'Algorithm':
    case 'Model':
      return [{ path: 'spec.import.podMetadata', value: (obj as Dataset).spec.import?.podMetadata }];
    default:
      return [];
  }
}

const shown = (value: string): string => JSON.stringify(value.length > 32 ? `${value.slice(0, 32)}…` : value);

export const validatePodMetadata: Check<WithPodMetadata> = (ctx) => {
  const errors: FieldError[] = [];
  for (const { path, value } of podMetadataOf(ctx.kind.kind, ctx.object)) {
    for (const [field, what] of [['labels', 'label'], ['annotations', 'annotation']] as const) {
      for (const [key, v] of Object.entries(value?.[field] ?? {})) {
        const why = refusal(key, what);
        if (why) errors.push({ path: `${path}.${field}[${key}]`, message: `Invalid value: ${shown(String(v))}: ${why}` });
      }
    }
  }
  return { errors };
};
