/**
 * Options of the octopus-controller process. Every option is a flag and an environment
 * variable (OCTOPUS_<FLAG_IN_CAPS>), so the chart can set them either way. No image is
 * hard-coded without an override.
 */
import { parseArgs } from 'node:util';

export interface ControllerOptions {
  /** Path to a kubeconfig; empty means in-cluster (service account). */
  kubeconfig: string;
  leaseNamespace: string;
  leaseName: string;
  /** Leader election off: for a single local replica. */
  leaderElect: boolean;
  metricsPort: number;
  /** Workers per controller. */
  workers: number;
  /** Workers of the Job controller, whose reconciles wait on the most API round trips. */
  jobWorkers: number;
  /** Client-side limit of API requests per second (watches excepted); 0 = none. */
  kubeApiQps: number;
  /** Requests allowed at once above the QPS limit. */
  kubeApiBurst: number;
  logLevel: string;
  /** Node label that ties nodes to ResourcePools (the seed chart's Common.resourceTagKey). */
  resourceTagKey: string;
  /** Prefix of resource tag values (Common.resourceTagValuePrefix). */
  resourceTagValuePrefix: string;
  /** Image of import Jobs (s3/http/git → claim); it gets the source in OCTOPUS_IMPORT_* env. */
  importerImage: string;
  /** Command of import Jobs, space-separated; empty runs the image's own entrypoint. */
  importerCommand: string;
  /** Kaniko-style executor image for Image builds; it builds into a tarball and never sees the push credential. */
  builderImage: string;
  /** crane-style image that pushes a build's tarball (`push <tar> <destination> --image-refs=<file>`). */
  pusherImage: string;
  /** Registry builds push to, e.g. registry.example.com/octopus: a workspace pushes only under <registry>/<namespace>/; empty disables builds. */
  buildRegistry: string;
  /** Push secret (dockerconfigjson) for builds, in the builds namespace; the admin supplies it. */
  buildPushSecret: string;
  /** Namespace build pods run in (Pod Security `privileged`, no workspace members): never a workspace's. */
  buildNamespace: string;
  /** CPU of a build pod, requested and limited. */
  buildCpu: string;
  /** Memory of a build pod, requested and limited. */
  buildMemory: string;
  /** Size of import claims when a spec names none. */
  importStorageSize: string;
  /** StorageClass of import claims when a spec names none; empty uses the cluster default. */
  importStorageClass: string;
  /** CPU of an import pod, requested and limited (counted against the workspace Quota while it runs). */
  importCpu: string;
  /** Memory of an import pod, requested and limited. */
  importMemory: string;
  /** Default S3 endpoint when a source names none. */
  s3Endpoint: string;
  /** UID/GID workload pods run as (restricted pod security needs a non-root user). */
  runAsUser: number;
  /** Domain of Notebook/ModelService ingress hosts: <name>-<namespace>.<domain>. */
  ingressDomain: string;
  /** IngressClass of every Notebook/ModelService Ingress; empty leaves it to the cluster default. */
  ingressClass: string;
  /** Namespace of the ingress controller, whose pods workspace NetworkPolicies admit. */
  ingressNamespace: string;
  /** Namespace of the platform's metrics scraper, whose pods workspace NetworkPolicies admit. */
  monitoringNamespace: string;
}

interface Flag {
  key: keyof ControllerOptions;
  flag: string;
  type: 'string' | 'number' | 'boolean';
  default: string | number | boolean;
  help: string;
}

export const flags: Flag[] = [
  { key: 'kubeconfig', flag: 'kubeconfig', type: 'string', default: '', help: 'kubeconfig path; empty = in-cluster' },
  { key: 'leaseNamespace', flag: 'lease-namespace', type: 'string', default: 'octopus-system', help: 'namespace of the leader-election Lease' },
  { key: 'leaseName', flag: 'lease-name', type: 'string', default: 'octopus-controller', help: 'name of the leader-election Lease' },
  { key: 'leaderElect', flag: 'leader-elect', type: 'boolean', default: true, help: 'run controllers only while holding the Lease' },
  { key: 'metricsPort', flag: 'metrics-port', type: 'number', default: 8080, help: 'port of /metrics, /healthz, /readyz (0 = any free port)' },
  { key: 'workers', flag: 'workers', type: 'number', default: 4, help: 'workers per controller' },
  // Kueue's defaults, so a side-by-side gives both the same limit.
  { key: 'jobWorkers', flag: 'job-workers', type: 'number', default: 16, help: 'workers of the Job controller (it makes most of the API calls; each mostly waits on the apiserver)' },
  { key: 'kubeApiQps', flag: 'kube-api-qps', type: 'number', default: 300, help: 'API requests per second, client side (watches excepted); 0 = unlimited' },
  { key: 'kubeApiBurst', flag: 'kube-api-burst', type: 'number', default: 500, help: 'API requests at once above --kube-api-qps' },
  { key: 'logLevel', flag: 'log-level', type: 'string', default: 'info', help: 'pino level: trace, debug, info, warn, error' },
  { key: 'resourceTagKey', flag: 'resource-tag-key', type: 'string', default: 'octopus.pcl.ac.cn/resource', help: 'node label selecting pool nodes' },
  { key: 'resourceTagValuePrefix', flag: 'resource-tag-value-prefix', type: 'string', default: '', help: 'prefix of resource tag values' },
  { key: 'importerImage', flag: 'importer-image', type: 'string', default: 'docker.io/library/octopus:0.1.0', help: 'image of import Jobs: the operator image, whose octopus-data implements the importer contract (the chart passes the image it deploys)' },
  { key: 'importerCommand', flag: 'importer-command', type: 'string', default: 'octopus-data import', help: 'command of import Jobs, space-separated; empty = the image\'s entrypoint' },
  { key: 'builderImage', flag: 'builder-image', type: 'string', default: 'gcr.io/kaniko-project/executor:v1.23.2', help: 'image of Image build Jobs' },
  { key: 'pusherImage', flag: 'pusher-image', type: 'string', default: 'gcr.io/go-containerregistry/crane:v0.20.2', help: 'image pushing a build\'s tarball' },
  { key: 'buildRegistry', flag: 'build-registry', type: 'string', default: '', help: 'registry prefix builds push under (<registry>/<namespace>/); empty = no builds' },
  { key: 'buildPushSecret', flag: 'build-push-secret', type: 'string', default: 'octopus-registry-push', help: 'dockerconfigjson Secret for pushes, in the builds namespace' },
  { key: 'buildNamespace', flag: 'build-namespace', type: 'string', default: 'octopus-builds', help: 'namespace build pods run in' },
  { key: 'buildCpu', flag: 'build-cpu', type: 'string', default: '2', help: 'CPU of a build pod (request = limit)' },
  { key: 'buildMemory', flag: 'build-memory', type: 'string', default: '4Gi', help: 'memory of a build pod (request = limit)' },
  { key: 'importStorageSize', flag: 'import-storage-size', type: 'string', default: '10Gi', help: 'default size of import claims' },
  { key: 'importStorageClass', flag: 'import-storage-class', type: 'string', default: '', help: 'default StorageClass of import claims' },
  { key: 'importCpu', flag: 'import-cpu', type: 'string', default: '500m', help: 'CPU of an import pod (request = limit)' },
  { key: 'importMemory', flag: 'import-memory', type: 'string', default: '1Gi', help: 'memory of an import pod (request = limit)' },
  { key: 's3Endpoint', flag: 's3-endpoint', type: 'string', default: '', help: 'default S3 endpoint' },
  { key: 'runAsUser', flag: 'run-as-user', type: 'number', default: 1000, help: 'UID/GID of workload pods' },
  { key: 'ingressDomain', flag: 'ingress-domain', type: 'string', default: 'octopus.local', help: 'domain of Notebook/ModelService hosts: <name>-<namespace>.<domain>' },
  { key: 'ingressClass', flag: 'ingress-class', type: 'string', default: '', help: 'IngressClass of Notebook/ModelService Ingresses; empty = cluster default' },
  { key: 'ingressNamespace', flag: 'ingress-namespace', type: 'string', default: 'ingress-nginx', help: 'namespace of the ingress controller (admitted by workspace NetworkPolicies)' },
  { key: 'monitoringNamespace', flag: 'monitoring-namespace', type: 'string', default: 'monitoring', help: 'namespace of the metrics scraper (admitted by workspace NetworkPolicies)' },
];

function envName(flag: string): string {
  return `OCTOPUS_${flag.toUpperCase().replace(/-/g, '_')}`;
}

function convert(f: Flag, raw: string | boolean): string | number | boolean {
  if (f.type === 'boolean') return raw === true || raw === 'true' || raw === '1';
  if (f.type === 'number') {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${f.flag} must be a non-negative integer, got "${String(raw)}"`);
    return n;
  }
  return String(raw);
}

/** Flags win over environment variables, which win over defaults. */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): ControllerOptions {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(flags.map((f) => [f.flag, { type: f.type === 'boolean' ? 'boolean' : 'string' } as const])),
    allowNegative: true,
    strict: true,
  });
  const out: Record<string, string | number | boolean> = {};
  for (const f of flags) {
    const raw = (values as Record<string, string | boolean | undefined>)[f.flag] ?? env[envName(f.flag)];
    out[f.key] = raw === undefined ? f.default : convert(f, raw);
  }
  return out as unknown as ControllerOptions;
}

export function usage(): string {
  return flags.map((f) => `  --${f.flag.padEnd(28)} ${f.help} (env ${envName(f.flag)}, default ${JSON.stringify(f.default)})`).join('\n');
}
