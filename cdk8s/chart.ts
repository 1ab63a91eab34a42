/**
 * The objects of charts/octopus/templates: controller and webhooks Deployments, their
 * Services, least-privilege RBAC, PodDisruptionBudgets, webhook configurations, a
 * NetworkPolicy, and optional monitoring and default pools/specs/policy. Each object keeps
 * a stable name (no hashes): the webhook process finds its Service and configurations by name.
 */
import { ApiObject, JsonPatch, type ApiObjectProps } from 'cdk8s';
import type { V1Deployment } from '@kubernetes/client-node';
import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { allKinds, apiVersion, group } from '../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { buildsNamespace } from '../controllers/image/build.js';
import { userClusterRoles } from '../controllers/workspace/roles.js';
import { buildMutatingWebhookConfiguration, buildValidatingWebhookConfiguration, type WebhookKind } from '../webhooks/registration.js';
import { fileBlock, rawValue, releaseNamespace, value, yamlBlock } from './helm.js';

export const names = {
  controller: 'octopus-controller',
  webhooks: 'octopus-webhooks',
  webhookConfig: 'octopus-webhooks',
  webhookSecret: 'octopus-webhook-tls',
  metricsPort: 8080,
} as const;

const image = `{{ .Values.global.image.repository.address }}/{{ .Values.global.image.repository.pathname }}:{{ .Values.global.image.tag | default .Chart.AppVersion }}`;

function commonLabels(component: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'octopus',
    'app.kubernetes.io/instance': '{{ .Release.Name }}',
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': 'octopus',
    'app.kubernetes.io/managed-by': '{{ .Release.Service }}',
    'helm.sh/chart': 'octopus-{{ .Chart.Version }}',
  };
}

function selector(component: string): Record<string, string> {
  return { 'app.kubernetes.io/name': 'octopus', 'app.kubernetes.io/component': component };
}

const restrictedPod = { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } };
const restrictedContainer = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } };

const octopusResources = allKinds.map((k) => k.plural);

/** octopus-admin, -edit and -view: what Workspace members get, aggregated into the built-in roles too. */
export class UserRoles extends Construct {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    for (const role of userClusterRoles()) {
      new ApiObject(this, role.metadata!.name!, { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { ...role.metadata, labels: { ...commonLabels('rbac'), ...role.metadata?.labels } }, rules: role.rules } as ApiObjectProps);
    }
  }
}

export class ControllerRbac extends Construct {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    new k8s.KubeServiceAccount(this, 'sa', { metadata: { name: names.controller, namespace: releaseNamespace, labels: commonLabels('controller') } });
    new k8s.KubeClusterRole(this, 'role', {
      metadata: { name: names.controller, labels: commonLabels('controller') },
      rules: [
        { apiGroups: [group], resources: octopusResources, verbs: ['get', 'list', 'watch', 'update', 'patch'] },
        { apiGroups: [group], resources: octopusResources.map((r) => `${r}/status`), verbs: ['get', 'update', 'patch'] },
        // Owner references with blockOwnerDeletion need this where OwnerReferencesPermissionEnforcement is on.
        { apiGroups: [group], resources: octopusResources.map((r) => `${r}/finalizers`), verbs: ['update'] },
        // Jobs register their output in a Model created if absent; finished Jobs go after their TTL;
        // a Workspace creates (and removes) its Quota.
        { apiGroups: [group], resources: ['models'], verbs: ['create'] },
        { apiGroups: [group], resources: ['jobs'], verbs: ['delete'] },
        { apiGroups: [group], resources: ['quotas'], verbs: ['create', 'delete'] },
        { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'create', 'delete'] },
        { apiGroups: [''], resources: ['services', 'configmaps', 'persistentvolumeclaims'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
        // NFS datasets: a PersistentVolume per version; workspaces own their namespaces.
        { apiGroups: [''], resources: ['persistentvolumes', 'namespaces'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
        { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
        { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
        { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
        // Workloads' Ingresses; each Workspace's NetworkPolicy.
        { apiGroups: ['networking.k8s.io'], resources: ['ingresses', 'networkpolicies'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
        { apiGroups: ['rbac.authorization.k8s.io'], resources: ['rolebindings'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
        // Binding members to the user roles without holding every permission they grant.
        { apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['bind'], resourceNames: ['octopus-admin', 'octopus-edit', 'octopus-view'] },
      ],
    });
    new k8s.KubeClusterRoleBinding(this, 'binding', {
      metadata: { name: names.controller, labels: commonLabels('controller') },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: names.controller },
      subjects: [{ kind: 'ServiceAccount', name: names.controller, namespace: releaseNamespace }],
    });
    new k8s.KubeRole(this, 'leases', {
      metadata: { name: `${names.controller}-leader-election`, namespace: releaseNamespace, labels: commonLabels('controller') },
      rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'] }],
    });
    new k8s.KubeRoleBinding(this, 'leases-binding', {
      metadata: { name: `${names.controller}-leader-election`, namespace: releaseNamespace, labels: commonLabels('controller') },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${names.controller}-leader-election` },
      subjects: [{ kind: 'ServiceAccount', name: names.controller, namespace: releaseNamespace }],
    });
  }
}

export class WebhooksRbac extends Construct {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    new k8s.KubeServiceAccount(this, 'sa', { metadata: { name: names.webhooks, namespace: releaseNamespace, labels: commonLabels('webhooks') } });
    new k8s.KubeClusterRole(this, 'role', {
      metadata: { name: names.webhooks, labels: commonLabels('webhooks') },
      rules: [
        // Quota, policy and visibility decisions read from caches of these.
        { apiGroups: [group], resources: octopusResources, verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['admissionregistration.k8s.io'], resources: ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations'], verbs: ['get', 'patch'], resourceNames: [names.webhookConfig] },
      ],
    });
    new k8s.KubeClusterRoleBinding(this, 'binding', {
      metadata: { name: names.webhooks, labels: commonLabels('webhooks') },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: names.webhooks },
      subjects: [{ kind: 'ServiceAccount', name: names.webhooks, namespace: releaseNamespace }],
    });
    new k8s.KubeRole(this, 'secret', {
      metadata: { name: `${names.webhooks}-tls`, namespace: releaseNamespace, labels: commonLabels('webhooks') },
      rules: [
        { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'update', 'patch'], resourceNames: [names.webhookSecret] },
        // create cannot be limited by name; the namespace is the release's own.
        { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      ],
    });
    new k8s.KubeRoleBinding(this, 'secret-binding', {
      metadata: { name: `${names.webhooks}-tls`, namespace: releaseNamespace, labels: commonLabels('webhooks') },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${names.webhooks}-tls` },
      subjects: [{ kind: 'ServiceAccount', name: names.webhooks, namespace: releaseNamespace }],
    });
  }
}

interface WorkloadProps {
  component: 'controller' | 'webhooks';
  args: string[];
  port: { name: string; containerPort: number };
  probeScheme: 'HTTP' | 'HTTPS';
  /** Node.js flags before the entry point. */
  nodeOptions?: string[];
}

/** A Deployment of the Octopus image, restricted, spread across nodes, with a PDB. */
export class OctopusWorkload extends Construct {
  constructor(scope: Construct, id: string, props: WorkloadProps) {
    super(scope, id);
    const name = props.component === 'controller' ? names.controller : names.webhooks;
    const probe = (path: string, initialDelaySeconds: number) => ({
      httpGet: { path, port: props.port.name, scheme: props.probeScheme },
      initialDelaySeconds,
      periodSeconds: 10,
    });
    // A plain ApiObject typed by client-node's V1Deployment: cdk8s's typed L1 classes convert
    // fields after patches apply, and would choke on the Helm markers patched in below.
    const manifest: V1Deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: releaseNamespace, labels: commonLabels(props.component) },
      spec: {
        replicas: 0,
        selector: { matchLabels: selector(props.component) },
        template: {
          metadata: { labels: { ...commonLabels(props.component), ...selector(props.component) } },
          spec: {
            serviceAccountName: name,
            securityContext: restrictedPod,
            nodeSelector: {},
            imagePullSecrets: [],
            affinity: {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selector(props.component) } } },
                ],
              },
            },
            containers: [
              {
                name: props.component,
                image,
                imagePullPolicy: value('global.image.pullPolicy'),
                command: ['node', ...(props.nodeOptions ?? []), `dist/${props.component === 'controller' ? 'controllers' : 'webhooks'}/main.js`],
                args: props.args,
                env: [
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                ],
                ports: [props.port],
                livenessProbe: probe('/healthz', 15),
                readinessProbe: probe('/readyz', 5),
                securityContext: restrictedContainer,
                resources: {},
              },
            ],
          },
        },
      },
    };
    const deployment = new ApiObject(this, 'deployment', manifest as ApiObjectProps);
    const values = props.component;
    deployment.addJsonPatch(
      JsonPatch.replace('/spec/replicas', rawValue(`${values}.replicas`)),
      JsonPatch.replace('/spec/template/spec/nodeSelector', yamlBlock('global.nodeSelector')),
      JsonPatch.replace('/spec/template/spec/imagePullSecrets', yamlBlock('global.imagePullSecrets')),
      JsonPatch.replace('/spec/template/spec/containers/0/resources', yamlBlock(`${values}.resources`)),
    );
    new k8s.KubePodDisruptionBudget(this, 'pdb', {
      metadata: { name, namespace: releaseNamespace, labels: commonLabels(props.component) },
      spec: { minAvailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: selector(props.component) } },
    });
  }
}

/**
 * The namespace Image builds run in (see controllers/image/build.ts): Pod Security `privileged`,
 * no RoleBinding for anyone but the controller's ClusterRole, and nothing may connect to a build
 * pod. The push Secret there is the admin's to create.
 */
export class Builds extends Construct {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    const namespace = value('controller.buildNamespace');
    const ns = buildsNamespace(namespace);
    new ApiObject(this, 'namespace', { ...ns, metadata: { ...ns.metadata, labels: { ...commonLabels('builds'), ...ns.metadata?.labels } } } as ApiObjectProps);
    new k8s.KubeNetworkPolicy(this, 'deny-ingress', {
      metadata: { name: 'octopus-builds', namespace, labels: commonLabels('builds') },
      spec: { podSelector: {}, policyTypes: ['Ingress'] },
    });
  }
}

export class Controller extends Construct {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    new ControllerRbac(this, 'rbac');
    new Builds(this, 'builds');
    new OctopusWorkload(this, 'workload', {
      component: 'controller',
      port: { name: 'metrics', containerPort: names.metricsPort },
      probeScheme: 'HTTP',
      nodeOptions: [`--max-old-space-size=${value('controller.heapLimitMiB')}`, `--max-semi-space-size=${value('controller.semiSpaceMiB')}`],
      args: [
        `--lease-namespace=${releaseNamespace}`,
        `--metrics-port=${names.metricsPort}`,
        `--workers=${value('controller.workers')}`,
        `--job-workers=${value('controller.jobWorkers')}`,
        `--kube-api-qps=${value('controller.kubeApiQps')}`,
        `--kube-api-burst=${value('controller.kubeApiBurst')}`,
        `--log-level=${value('controller.logLevel')}`,
        `--resource-tag-key=${value('Common.resourceTagKey')}`,
        `--resource-tag-value-prefix=${value('Common.resourceTagValuePrefix')}`,
        // The operator image itself by default: its octopus-data implements the importer contract.
        `--importer-image={{ .Values.controller.importerImage | default (printf "%s/%s:%s" .Values.global.image.repository.address .Values.global.image.repository.pathname (.Values.global.image.tag | default .Chart.AppVersion)) }}`,
        `--importer-command=${value('controller.importerCommand')}`,
        `--builder-image=${value('controller.builderImage')}`,
        `--pusher-image=${value('controller.pusherImage')}`,
        `--build-registry=${value('controller.buildRegistry')}`,
        `--build-push-secret=${value('controller.buildPushSecret')}`,
        `--build-namespace=${value('controller.buildNamespace')}`,
        `--build-cpu=${value('controller.buildCpu')}`,
        `--build-memory=${value('controller.buildMemory')}`,
        `--import-storage-size=${value('controller.importStorageSize')}`,
        `--import-storage-class=${value('controller.importStorageClass')}`,
        `--import-cpu=${value('controller.importCpu')}`,
        `--import-memory=${value('controller.importMemory')}`,
        `--s3-endpoint=${value('objectStorage.endpoint')}`,
        `--run-as-user=${value('controller.runAsUser')}`,
        `--ingress-domain=${value('ingress.domain')}`,
        `--ingress-class=${value('ingress.className')}`,
        `--ingress-namespace=${value('ingress.namespace')}`,
        `--monitoring-namespace=${value('monitoring.namespace')}`,
      ],
    });
    new k8s.KubeService(this, 'metrics', {
      metadata: { name: `${names.controller}-metrics`, namespace: releaseNamespace, labels: commonLabels('controller') },
      spec: { selector: selector('controller'), ports: [{ name: 'metrics', port: names.metricsPort, targetPort: k8s.IntOrString.fromString('metrics') }] },
    });
  }
}

export interface WebhooksProps {
  /** Kinds with a validating webhook. */
  readonly validated: readonly WebhookKind[];
  /** Kinds with a mutating webhook. */
  readonly mutated: readonly WebhookKind[];
}

export class Webhooks extends Construct {
  constructor(scope: Construct, id: string, props: WebhooksProps) {
    super(scope, id);
    new WebhooksRbac(this, 'rbac');
    new OctopusWorkload(this, 'workload', {
      component: 'webhooks',
      port: { name: 'https', containerPort: 9443 },
      probeScheme: 'HTTPS',
      args: ['--mode=cluster', `--namespace=${releaseNamespace}`, `--service-name=${names.webhooks}`, '--service-port=443', `--port=${value('webhooks.port')}`, `--ingress-domain=${value('ingress.domain')}`, `--build-registry=${value('controller.buildRegistry')}`],
    });
    new k8s.KubeService(this, 'service', {
      metadata: { name: names.webhooks, namespace: releaseNamespace, labels: commonLabels('webhooks') },
      spec: { selector: selector('webhooks'), ports: [{ name: 'https', port: 443, targetPort: k8s.IntOrString.fromString('https') }] },
    });
    // caBundle is left out: the webhook process generates the CA and patches it in at start-up.
    const target = { service: { namespace: releaseNamespace, name: names.webhooks, port: 443 } };
    for (const config of [
      props.validated.length ? buildValidatingWebhookConfiguration({ name: names.webhookConfig, kinds: props.validated, target }) : undefined,
      props.mutated.length ? buildMutatingWebhookConfiguration({ name: names.webhookConfig, kinds: props.mutated, target }) : undefined,
    ]) {
      if (!config) continue;
      new ApiObject(this, config.kind!, { apiVersion: config.apiVersion!, kind: config.kind!, metadata: { ...config.metadata, name: names.webhookConfig, labels: commonLabels('webhooks') }, webhooks: config.webhooks } as never);
    }
  }
}

export class OctopusNetworkPolicy extends Construct {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    new k8s.KubeNetworkPolicy(this, 'policy', {
      metadata: { name: 'octopus', namespace: releaseNamespace, labels: commonLabels('network') },
      spec: {
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'octopus' } },
        policyTypes: ['Ingress'],
        // The apiserver's source address is cluster-specific: the webhook port stays open; only it and metrics are.
        ingress: [
          { ports: [{ port: k8s.IntOrString.fromString('https'), protocol: 'TCP' }] },
          { ports: [{ port: k8s.IntOrString.fromString('metrics'), protocol: 'TCP' }] },
        ],
      },
    });
  }
}

export class Monitoring extends Construct {
  readonly serviceMonitor: ApiObject;
  readonly dashboard: ApiObject;

  constructor(scope: Construct, id: string, dashboardFile: string) {
    super(scope, id);
    this.serviceMonitor = new ApiObject(this, 'servicemonitor', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name: names.controller, namespace: releaseNamespace, labels: commonLabels('controller') },
      spec: { selector: { matchLabels: commonLabels('controller') }, endpoints: [{ port: 'metrics', interval: value('monitoring.serviceMonitor.interval') }] },
    });
    this.serviceMonitor.addJsonPatch(JsonPatch.replace('/metadata/labels', yamlBlock('monitoring.serviceMonitor.labels')));
    this.dashboard = new ApiObject(this, 'dashboard', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'octopus-dashboard', namespace: releaseNamespace },
      data: { 'octopus.json': fileBlock(dashboardFile) },
    });
    this.dashboard.addJsonPatch(JsonPatch.add('/metadata/labels', yamlBlock('monitoring.grafanaDashboard.labels')));
  }
}

/** Optional defaults matching the local plane's simulated nodes; tags honour resourceTagValuePrefix. */
export class DefaultResources extends Construct {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    const pools = [
      { name: 'gpu', tag: 'gpu-a100', types: ['Train', 'Notebook', 'Serving'] },
      { name: 'npu', tag: 'npu-910', types: ['Train'] },
      { name: 'cpu', tag: 'cpu', types: ['Train', 'Notebook', 'Serving'] },
    ];
    for (const p of pools) {
      new ApiObject(this, `pool-${p.name}`, { apiVersion, kind: 'ResourcePool', metadata: { name: p.name }, spec: { resourceTag: `{{ .Values.Common.resourceTagValuePrefix }}${p.tag}`, jobTypes: p.types } });
    }
    const specs = [
      { name: 'cpu-4c', requests: { cpu: 4, memory: '16Gi' }, pools: ['cpu', 'gpu'] },
      { name: 'gpu-1x', requests: { 'nvidia.com/gpu': 1, cpu: 8, memory: '64Gi' }, shm: '16Gi', pools: ['gpu'] },
      { name: 'gpu-8x', requests: { 'nvidia.com/gpu': 8, cpu: 60, memory: '480Gi' }, shm: '64Gi', pools: ['gpu'] },
      { name: 'npu-1x', requests: { 'huawei.com/Ascend910': 1, cpu: 24, memory: '128Gi' }, shm: '16Gi', pools: ['npu'] },
    ];
    for (const s of specs) {
      new ApiObject(this, `spec-${s.name}`, { apiVersion, kind: 'ResourceSpec', metadata: { name: s.name }, spec: { resources: { requests: s.requests }, ...(s.shm ? { shmSize: s.shm } : {}), pools: s.pools } });
    }
    new ApiObject(this, 'devicepolicy', {
      apiVersion,
      kind: 'DevicePolicy',
      metadata: { name: 'default' },
      spec: {
        rules: [
          { resource: 'nvidia.com/gpu', maxPerPod: 8, pools: ['gpu'] },
          { resource: 'huawei.com/Ascend910', maxPerPod: 8, pools: ['npu'] },
        ],
      },
    });
  }
}
