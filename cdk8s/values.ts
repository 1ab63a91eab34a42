/**
 * The chart's values: one TypeBox declaration gives the defaults (values.yaml) and the
 * schema Helm validates user values against (values.schema.json). Names keep the seed
 * chart's where they still mean something (global.image.repository.*, global.nodeSelector,
 * Common.resourceTagKey, Common.resourceTagValuePrefix, ingress.*).
 */
import { Type, type TSchema } from '@sinclair/typebox';

const d = <T extends TSchema>(schema: T, description: string): T => ({ ...schema, description });

const quantities = Type.Record(Type.String(), Type.Union([Type.String(), Type.Number()]));
const resources = Type.Object(
  { requests: Type.Optional(quantities), limits: Type.Optional(quantities) },
  { additionalProperties: false, description: 'Container resources, as in core/v1.' },
);

export const valuesSchema = Type.Object(
  {
    global: Type.Object(
      {
        image: Type.Object(
          {
            repository: Type.Object(
              {
                address: d(Type.String({ default: 'ghcr.io' }), 'Registry host (and port) of the Octopus image.'),
                pathname: d(Type.String({ default: 'openi-octopus/octopus' }), 'Repository path of the Octopus image in the registry.'),
              },
              { additionalProperties: false },
            ),
            tag: d(Type.String({ default: '' }), 'Image tag; empty uses the chart appVersion.'),
            pullPolicy: d(Type.Union([Type.Literal('Always'), Type.Literal('IfNotPresent'), Type.Literal('Never')], { default: 'IfNotPresent' }), 'Image pull policy.'),
          },
          { additionalProperties: false },
        ),
        imagePullSecrets: d(Type.Array(Type.Object({ name: Type.String() }), { default: [] }), 'Pull secrets for the Octopus image.'),
        nodeSelector: d(Type.Record(Type.String(), Type.String(), { default: { 'octopus.openi.pcl.cn/node': 'server' } }), 'Where the controller and webhooks run.'),
      },
      { additionalProperties: false },
    ),
    Common: Type.Object(
      {
        resourceTagKey: d(Type.String({ default: 'octopus.pcl.ac.cn/resource', minLength: 1 }), 'Node label whose value ties a node to a ResourcePool.'),
        resourceTagValuePrefix: d(Type.String({ default: '' }), 'Prefix of resource tag values.'),
      },
      { additionalProperties: false },
    ),
    controller: Type.Object(
      {
        replicas: d(Type.Integer({ default: 2, minimum: 1 }), 'Controller replicas; one leads (Lease), the others stand by with warm caches.'),
        workers: d(Type.Integer({ default: 4, minimum: 1 }), 'Workers per controller.'),
        jobWorkers: d(Type.Integer({ default: 16, minimum: 1 }), 'Workers of the Job controller: its reconciles create pods and write statuses, each mostly waiting on the apiserver, so it needs more than the others.'),
        kubeApiQps: d(Type.Integer({ default: 300, minimum: 0 }), 'API requests per second the controller makes at most, client side (watches excepted); 0 = unlimited.'),
        kubeApiBurst: d(Type.Integer({ default: 500, minimum: 1 }), 'API requests the controller may make at once above kubeApiQps.'),
        logLevel: d(Type.Union(['trace', 'debug', 'info', 'warn', 'error'].map((l) => Type.Literal(l)), { default: 'info' }), 'Log level.'),
        resources: { ...resources, default: { requests: { cpu: '200m', memory: '256Mi' }, limits: { memory: '512Mi' } } },
        heapLimitMiB: d(
          Type.Integer({ default: 256, minimum: 64 }),
          'Node.js old-space limit (--max-old-space-size). Without it V8 sizes the heap by the machine, not the container, and lets garbage pile up to several times the live data. About 64 MiB is live per 2,000 jobs and 7,500 pods: raise it with resources.limits.memory, keeping it at about half of that.',
        ),
        semiSpaceMiB: d(
          Type.Integer({ default: 8, minimum: 1 }),
          "Node.js young-generation semi-space limit (--max-semi-space-size). V8's default (16 MiB on 64-bit) suits throughput-bound programs; the controller's garbage is short-lived bursts per reconcile and admission cycle, and a smaller young generation holds less of it at a peak: at 200 nodes / 2,000 jobs, 8 MiB gave a peak RSS of 194 MiB against 205-209 MiB with the default, at no measurable CPU cost.",
        ),
        importerImage: d(Type.String({ default: '' }), 'Image of dataset/algorithm/model import Jobs; empty means the Octopus image itself, whose octopus-data implements the importer contract (controllers/assets/README.md).'),
        importerCommand: d(Type.String({ default: 'octopus-data import' }), "Command of import Jobs, space-separated; empty runs the importer image's entrypoint."),
        builderImage: d(Type.String({ default: 'gcr.io/kaniko-project/executor:v1.23.2' }), 'Kaniko-style executor building Images into a tarball; it never sees the push credential.'),
        pusherImage: d(Type.String({ default: 'gcr.io/go-containerregistry/crane:v0.20.2' }), 'crane-style image pushing a built tarball with the push secret.'),
        buildRegistry: d(Type.String({ default: '' }), 'Registry prefix builds push under: a workspace pushes only to <buildRegistry>/<namespace>/. Empty turns builds off.'),
        buildPushSecret: d(Type.String({ default: 'octopus-registry-push' }), 'Push secret (dockerconfigjson) in the builds namespace; supply it, none is created. Never in a workspace namespace.'),
        buildNamespace: d(Type.String({ default: 'octopus-builds', minLength: 1 }), 'Namespace build pods run in, created by the chart with Pod Security privileged; no workspace member has access to it.'),
        buildCpu: d(Type.String({ default: '2' }), 'CPU of a build pod, requested and limited; counted against the workspace Quota while it runs.'),
        buildMemory: d(Type.String({ default: '4Gi' }), 'Memory of a build pod, requested and limited; counted against the workspace Quota while it runs.'),
        importStorageSize: d(Type.String({ default: '10Gi' }), 'Default size of import claims.'),
        importStorageClass: d(Type.String({ default: '' }), 'StorageClass of import claims; empty uses the cluster default.'),
        importCpu: d(Type.String({ default: '500m' }), 'CPU of a dataset/algorithm/model import pod, requested and limited; counted against the workspace Quota while it runs.'),
        importMemory: d(Type.String({ default: '1Gi' }), 'Memory of an import pod, requested and limited; counted against the workspace Quota while it runs.'),
        runAsUser: d(Type.Integer({ default: 1000, minimum: 1 }), 'UID/GID workload pods run as.'),
      },
      { additionalProperties: false },
    ),
    webhooks: Type.Object(
      {
        replicas: d(Type.Integer({ default: 2, minimum: 1 }), 'Webhook server replicas.'),
        port: d(Type.Integer({ default: 9443, minimum: 1024, maximum: 65535 }), 'Port the webhook server listens on.'),
        resources: { ...resources, default: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } } },
      },
      { additionalProperties: false },
    ),
    ingress: Type.Object(
      {
        domain: d(Type.String({ default: 'octopus.local', minLength: 1 }), 'Domain of Notebook and ModelService hosts: <name>-<namespace>.<domain>. Hosts under it are only ever derived; any other host a workload names must be granted by its Workspace spec.hosts.'),
        className: d(Type.String({ default: '' }), 'IngressClass of every Notebook/ModelService Ingress (workloads cannot choose one); empty uses the cluster default.'),
        namespace: d(Type.String({ default: 'ingress-nginx' }), 'Namespace of the ingress controller: workspace NetworkPolicies admit traffic from its pods.'),
      },
      { additionalProperties: false },
    ),
    objectStorage: Type.Object(
      {
        endpoint: d(Type.String({ default: '' }), 'Default S3 endpoint of dataset/model sources that name none.'),
      },
      { additionalProperties: false, description: 'Credentials are never part of the values: each source names its own Secret.' },
    ),
    monitoring: Type.Object(
      {
        serviceMonitor: Type.Object(
          {
            enabled: d(Type.Boolean({ default: false }), 'Create a Prometheus Operator ServiceMonitor.'),
            interval: d(Type.String({ default: '30s' }), 'Scrape interval.'),
            labels: d(Type.Record(Type.String(), Type.String(), { default: {} }), 'Labels the Prometheus selects ServiceMonitors by.'),
          },
          { additionalProperties: false },
        ),
        grafanaDashboard: Type.Object(
          {
            enabled: d(Type.Boolean({ default: false }), 'Ship the Grafana dashboard as a ConfigMap.'),
            labels: d(Type.Record(Type.String(), Type.String(), { default: { grafana_dashboard: '1' } }), 'Labels the Grafana sidecar discovers dashboards by.'),
          },
          { additionalProperties: false },
        ),
        namespace: d(Type.String({ default: 'monitoring' }), "Namespace of the platform's metrics scraper (Prometheus): workspace NetworkPolicies admit traffic from its pods."),
      },
      { additionalProperties: false },
    ),
    networkPolicy: Type.Object(
      { enabled: d(Type.Boolean({ default: true }), 'Restrict ingress to the webhook and metrics ports.') },
      { additionalProperties: false },
    ),
    defaults: Type.Object(
      { enabled: d(Type.Boolean({ default: false }), 'Install default ResourcePools (gpu, npu, cpu), ResourceSpecs and a DevicePolicy.') },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);


/** Default values, read off the schema's defaults. */
export function defaultValues(schema: TSchema = valuesSchema): unknown {
  if (schema.type === 'object' && schema.properties && schema.default === undefined) {
    return Object.fromEntries(Object.entries(schema.properties as Record<string, TSchema>).map(([k, v]) => [k, defaultValues(v)]));
  }
  return schema.default;
}

/** values.schema.json: plain JSON Schema (draft 7, what Helm validates with). */
export function valuesJsonSchema(): Record<string, unknown> {
  return { $schema: 'http://json-schema.org/draft-07/schema#', title: 'Octopus chart values', ...(JSON.parse(JSON.stringify(valuesSchema)) as Record<string, unknown>) };
}
