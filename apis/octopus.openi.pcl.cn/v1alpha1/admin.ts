/** What admins manage: Quota (per workspace), Workspace, ResourcePool, ResourceSpec, DevicePolicy, WorkloadPriorityClass. */
import { ResourceList, ResourceRequirements, Toleration, description, resourceName, statusBasics } from './common.js';
import { ageColumn, defineKind, type ObjectOf } from './kind.js';
import { arr, bool, describe, dnsLabel, dnsSubdomain, enumOf, int, map, obj, opt, quantity, str, type Static } from './schema.js';

const decimal = (what: string) => str({ description: what, pattern: '^[0-9]+(\\.[0-9]{1,6})?$', maxLength: 32 });
const usedOfHard = (what: string) => opt(str({ description: `${what} used / hard, e.g. 4/8.`, maxLength: 64 }));

// ---------------------------------------------------------------- Quota

export const QuotaConditions = {
  /** False when the budget is spent: new jobs are denied, running ones continue. */
  BudgetAvailable: 'BudgetAvailable',
} as const;
export const QuotaReasons = { WithinBudget: 'WithinBudget', BudgetExhausted: 'BudgetExhausted', NoBudget: 'NoBudget' } as const;

export const QuotaSpec = obj(
  {
    hard: describe(ResourceList, 'Limits on what admitted jobs, notebooks and model services, and running import and build pods, may hold at once, e.g. {nvidia.com/gpu: 8, cpu: 64}. A resource not listed is not limited by this Quota; with the Workspace spec.requireQuota (the default) a workload asking for a resource no Quota names waits with NoQuota.'),
    pools: opt(
      arr(obj({ name: dnsSubdomain('ResourcePool name.'), hard: ResourceList }, { description: 'Limits inside one pool.' }), {
        description: 'Tighter limits per pool.',
        maxItems: 32,
        listType: 'map',
        listMapKeys: ['name'],
      }),
    ),
    cohort: opt(
      dnsLabel(
        'Quotas naming the same cohort lend each other unused hard limits (spec.hard, not per-pool limits): a workload may run on borrowed quota, and is preempted when the lender needs it back.',
      ),
    ),
    borrowingLimit: opt(describe(ResourceList, 'Most this Quota may borrow from its cohort above spec.hard, per resource; a resource not listed may borrow whatever the cohort lends.')),
    lendingLimit: opt(describe(ResourceList, 'Most of its unused spec.hard this Quota lends to its cohort, per resource; a resource not listed lends all of it.')),
    weight: opt(
      int({
        description: "Fair-sharing weight: the admission queue orders workspaces by dominant-resource share (used / hard of the most-used resource) divided by this weight, lowest first.",
        minimum: 1,
        maximum: 1000,
        default: 1,
      }),
    ),
    budget: opt(
      obj(
        {
          resourceHours: opt(describe(ResourceList, 'Resource-hours the workspace may consume in total, e.g. {nvidia.com/gpu: 1000}.')),
          cost: opt(decimal('Total cost the workspace may consume, in the units of ResourceSpec prices.')),
        },
        { description: 'A spending limit; once consumed, new workloads are denied until it is raised.' },
      ),
    ),
  },
  {
    description: 'Desired limits of the workspace.',
    validations: [
      { rule: '!has(self.borrowingLimit) || has(self.cohort)', message: 'borrowingLimit needs a cohort to borrow from', fieldPath: '.borrowingLimit' },
      { rule: '!has(self.lendingLimit) || has(self.cohort)', message: 'lendingLimit needs a cohort to lend to', fieldPath: '.lendingLimit' },
    ],
  },
);

export const Quota = defineKind({
  kind: 'Quota',
  plural: 'quotas',
  shortNames: ['oquota'],
  scope: 'Namespaced',
  description: "A workspace's limits: resources its admitted workloads may hold at once, optionally per pool, and a budget in resource-hours or cost.",
  spec: QuotaSpec,
  status: obj(
    {
      ...statusBasics,
      used: opt(describe(ResourceList, 'Reserved now by admitted workloads and running import and build pods.')),
      pools: opt(
        arr(obj({ name: dnsSubdomain('Pool.'), used: ResourceList }, { description: 'Reserved in one pool.' }), {
          description: 'Reserved now, per pool.',
          maxItems: 64,
          listType: 'map',
          listMapKeys: ['name'],
        }),
      ),
      admitted: opt(int({ description: 'Workloads holding a reservation.', minimum: 0 })),
      queued: opt(int({ description: 'Workloads waiting for admission.', minimum: 0 })),
      headOfLine: opt(str({ description: 'The waiting workload of this workspace considered first (Kind/name).', maxLength: 320 })),
      borrowed: opt(describe(ResourceList, 'Reserved above spec.hard, on quota lent by the cohort.')),
      share: opt(decimal('Dominant-resource share divided by the weight: the fair-sharing order of this workspace (lower goes first).')),
      consumed: opt(describe(ResourceList, 'Resource-hours consumed by every reservation so far.')),
      cost: opt(decimal('Cost consumed so far.')),
      costPerHour: opt(decimal('Cost per hour of the reservations in status.used.')),
      accountedAt: opt(str({ description: 'Until when consumed and cost are accounted; the reservations in status.used run on from here.', format: 'date-time' })),
      summary: opt(
        obj(
          { cpu: usedOfHard('CPU'), memory: usedOfHard('Memory'), accelerators: usedOfHard('Accelerators (every device resource)') },
          { description: 'Used/hard of the main resources, for kubectl.' },
        ),
      ),
    },
    { description: 'Observed use of the quota.' },
  ),
  printerColumns: [
    { name: 'Accelerators', type: 'string', jsonPath: '.status.summary.accelerators', description: 'Accelerators used/hard.' },
    { name: 'CPU', type: 'string', jsonPath: '.status.summary.cpu', description: 'CPU used/hard.' },
    { name: 'Memory', type: 'string', jsonPath: '.status.summary.memory', description: 'Memory used/hard.' },
    { name: 'Admitted', type: 'integer', jsonPath: '.status.admitted', description: 'Workloads holding a reservation.' },
    { name: 'Queued', type: 'integer', jsonPath: '.status.queued', description: 'Workloads waiting.' },
    { name: 'Cohort', type: 'string', jsonPath: '.spec.cohort', description: 'Cohort it lends to and borrows from.', priority: 1 },
    { name: 'Share', type: 'string', jsonPath: '.status.share', description: 'Weighted dominant-resource share.', priority: 1 },
    ageColumn,
  ],
});
export type Quota = ObjectOf<typeof Quota>;

// ---------------------------------------------------------------- Workspace

export const WorkspaceRoles = ['owner', 'member', 'viewer'] as const;
export type WorkspaceRole = (typeof WorkspaceRoles)[number];
export const WorkspaceConditions = { Ready: 'Ready' } as const;
export const WorkspaceReasons = { NamespaceReady: 'NamespaceReady', NamespaceConflict: 'NamespaceConflict', Terminating: 'Terminating' } as const;
/** Label on namespaces a Workspace owns. */
export const workspaceLabel = 'octopus.openi.pcl.cn/workspace';

export const WorkspaceMember = obj(
  {
    kind: opt(enumOf(['User', 'Group', 'ServiceAccount'] as const, { description: 'Subject kind.', default: 'User' })),
    name: str({ description: 'User, group or ServiceAccount name.', minLength: 1, maxLength: 253 }),
    namespace: opt(dnsLabel('Namespace of a ServiceAccount.')),
    role: enumOf(WorkspaceRoles, { description: 'owner → octopus-admin, member → octopus-edit, viewer → octopus-view in the namespace.' }),
  },
  {
    description: 'A member and their role.',
    validations: [
      { rule: "self.kind != 'ServiceAccount' || has(self.namespace)", message: 'a ServiceAccount member needs a namespace', fieldPath: '.namespace' },
      { rule: "self.kind == 'ServiceAccount' || !has(self.namespace)", message: 'namespace applies only to ServiceAccount members', fieldPath: '.namespace' },
    ],
  },
);

/** In-place storage a workspace's assets may use; each list is empty (nothing allowed) unless an admin fills it. */
export const WorkspaceStorage = obj(
  {
    nfs: opt(
      arr(
        obj(
          {
            server: str({ description: 'NFS server host name or IP, exactly as sources name it.', minLength: 1, maxLength: 253 }),
            pathPrefix: str({ description: 'Exported paths at or below this one are allowed (whole path segments: /data/team-a allows /data/team-a/x, not /data/team-ab).', pattern: '^/', maxLength: 1024 }),
          },
          { description: 'An NFS server and the export paths under a prefix.' },
        ),
        { description: 'NFS exports sources may name (nfs: {server, path}).', maxItems: 64 },
      ),
    ),
    csiDrivers: opt(arr(str({ description: 'CSI driver name, e.g. nfs.csi.k8s.io.', maxLength: 253, minLength: 1 }), { description: 'CSI drivers whose volumes may back claims used in place or shared.', maxItems: 64, listType: 'set' })),
    storageClasses: opt(arr(str({ description: 'StorageClass name.', maxLength: 253, minLength: 1 }), { description: 'StorageClasses that storage requests (import claims, notebook homes, outputs) may name; the cluster default is always allowed.', maxItems: 64, listType: 'set' })),
    hostPaths: opt(arr(str({ description: 'Host path prefix (whole path segments).', pattern: '^/', maxLength: 1024 }), { description: 'Host paths whose volumes may back claims used in place or shared (local planes only).', maxItems: 16, listType: 'set' })),
  },
  { description: "In-place storage the workspace's Datasets, Algorithms and Models may use. Default: none; the webhook refuses anything else and the controller re-checks." },
);
export type WorkspaceStorage = Static<typeof WorkspaceStorage>;

export const WorkspaceNetwork = obj(
  {
    isolation: opt(
      enumOf(['Isolated', 'None'] as const, {
        description: "Isolated: a NetworkPolicy admits traffic from the namespace itself, the ingress controller and the platform's metrics scraper only. None: no policy.",
        default: 'Isolated',
      }),
    ),
    allowFromNamespaces: opt(arr(dnsLabel('Namespace name.'), { description: 'Further namespaces whose pods may reach this workspace (e.g. a shared gateway).', maxItems: 64, listType: 'set' })),
  },
  { description: "Who may reach the workspace's pods over the network." },
);

export const Workspace = defineKind({
  kind: 'Workspace',
  plural: 'workspaces',
  shortNames: ['ows'],
  scope: 'Cluster',
  description: "A team's workspace: creates and owns a namespace of the same name, members' RoleBindings, its Quota, and the pools it may use.",
  spec: obj(
    {
      displayName: opt(str({ description: 'Human-friendly name.', maxLength: 256 })),
      description: opt(description),
      members: opt(arr(WorkspaceMember, { description: 'Who may work here.', maxItems: 256 })),
      quota: opt(describe(QuotaSpec, 'The workspace Quota (named "default" in the namespace).')),
      pools: opt(arr(dnsSubdomain('Pool name.'), { description: 'ResourcePools the workspace may use; empty allows every pool.', maxItems: 64, listType: 'set' })),
      podSecurity: opt(enumOf(['restricted', 'baseline', 'privileged'] as const, { description: 'Pod Security Admission level enforced in the namespace.', default: 'restricted' })),
      storage: opt(WorkspaceStorage),
      hosts: opt(
        arr(str({ description: 'A host name (models.team-a.example.com) or a suffix starting with a dot (.team-a.example.com).', maxLength: 253, pattern: '^\\.?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$' }), {
          description: "Ingress hosts the workspace's notebooks and model services may claim besides the derived <name>-<namespace>.<platform domain>; unset allows only derived hosts.",
          maxItems: 64,
          listType: 'set',
        }),
      ),
      priorityClasses: opt(
        arr(dnsSubdomain('WorkloadPriorityClass name.'), {
          description: "WorkloadPriorityClasses the workspace's workloads may name in spec.priorityClassName; unset allows none (every workload has value 0).",
          maxItems: 32,
          listType: 'set',
        }),
      ),
      requireQuota: opt(
        bool({
          description: 'Fail closed: a workload requesting a resource that no Quota of the namespace names waits with NoQuota instead of running unlimited. On by default.',
          default: true,
        }),
      ),
      network: opt(WorkspaceNetwork),
      deletionPolicy: opt(enumOf(['Retain', 'Delete'] as const, { description: 'What happens to the namespace when the Workspace is deleted.', default: 'Retain' })),
    },
    { description: 'Desired state of the workspace.' },
  ),
  status: obj(
    {
      ...statusBasics,
      namespace: opt(dnsLabel('The namespace.')),
      memberCount: opt(int({ description: 'Members.', minimum: 0 })),
      quota: opt(str({ description: 'Accelerators used/hard in the workspace Quota.', maxLength: 64 })),
      pools: opt(arr(dnsSubdomain('Pool name.'), { description: 'The pools in spec.pools that exist; empty spec.pools means every pool.', maxItems: 64, listType: 'set' })),
    },
    { description: 'Observed state of the workspace.' },
  ),
  name: { maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', description: 'Workspace name; also the name of its namespace, so a DNS label.' },
  printerColumns: [
    { name: 'Namespace', type: 'string', jsonPath: '.status.namespace', description: 'Namespace.' },
    { name: 'Members', type: 'integer', jsonPath: '.status.memberCount', description: 'Members.' },
    { name: 'Quota', type: 'string', jsonPath: '.status.quota', description: 'Accelerators used/hard.' },
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Namespace and bindings in place.' },
    ageColumn,
  ],
});
export type Workspace = ObjectOf<typeof Workspace>;

// ---------------------------------------------------------------- ResourcePool

export const JobTypes = ['Train', 'Notebook', 'Serving'] as const;
export type JobType = (typeof JobTypes)[number];
export const ResourcePoolConditions = { Ready: 'Ready' } as const;
export const ResourcePoolReasons = { NodesReady: 'NodesReady', NoNodes: 'NoNodes', NoReadyNodes: 'NoReadyNodes' } as const;

export const ResourcePool = defineKind({
  kind: 'ResourcePool',
  plural: 'resourcepools',
  shortNames: ['opool'],
  scope: 'Cluster',
  description: 'A set of nodes selected by the resource tag label, with the tolerations its pods need and the workload types allowed on it.',
  spec: obj(
    {
      displayName: opt(str({ description: 'Human-friendly name.', maxLength: 256 })),
      description: opt(description),
      resourceTag: opt(str({ description: "Value of the resource tag label (octopus.pcl.ac.cn/resource by default) on the pool's nodes; defaults to the pool name.", maxLength: 63, pattern: '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$' })),
      nodeSelector: opt(map(str({ description: 'Label value.', maxLength: 63 }), { description: 'Further node labels the pool requires.', maxProperties: 16 })),
      tolerations: opt(arr(Toleration, { description: "Tolerations added to pods so they may run on the pool's tainted nodes.", maxItems: 16 })),
      schedulerName: opt(str({ description: "Scheduler of the pool's pods (e.g. volcano); unset uses the cluster default. Workloads cannot choose their own.", maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$' })),
      pricesPerHour: opt(
        map(decimal('Price of one unit of the resource for one hour (memory-like resources: per GiB).'), {
          description: 'Prices of inline resources in the pool, per resource, e.g. {nvidia.com/gpu: "10", cpu: "0.05", memory: "0.01"}; pods with inline resources cost the sum. ResourceSpecs carry their own price.',
          maxProperties: 32,
        }),
      ),
      defaultRequests: opt(
        describe(ResourceList, "cpu and memory given to a pod in this pool that requests none, so no workload pod is BestEffort; a pod without them is refused when the pool sets none."),
      ),
      jobTypes: opt(
        arr(enumOf(JobTypes, { description: 'A workload type.' }), {
          description: 'Workload types allowed: Train (Jobs), Notebook, Serving (ModelServices); unset allows all.',
          maxItems: 3,
          listType: 'set',
        }),
      ),
    },
    { description: 'Desired state of the pool.' },
  ),
  status: obj(
    {
      ...statusBasics,
      nodes: opt(int({ description: 'Nodes selected.', minimum: 0 })),
      readyNodes: opt(int({ description: 'Nodes Ready and schedulable.', minimum: 0 })),
      capacity: opt(describe(ResourceList, 'Sum of node capacity.')),
      allocatable: opt(describe(ResourceList, 'Sum of allocatable on Ready nodes.')),
      inUse: opt(describe(ResourceList, 'Requested by pods running on the nodes.')),
      pending: opt(int({ description: 'Workloads waiting for admission to this pool.', minimum: 0 })),
      headOfLine: opt(str({ description: 'The waiting workload considered first (Kind namespace/name) and why it waits.', maxLength: 1024 })),
      summary: opt(obj({ nodes: opt(str({ description: 'Ready/total nodes.', maxLength: 32 })), accelerators: usedOfHard('Accelerators') }, { description: 'For kubectl.' })),
    },
    { description: 'Observed state of the pool.' },
  ),
  printerColumns: [
    { name: 'Nodes', type: 'string', jsonPath: '.status.summary.nodes', description: 'Ready/total nodes.' },
    { name: 'Accelerators', type: 'string', jsonPath: '.status.summary.accelerators', description: 'Accelerators in use/allocatable.' },
    { name: 'Pending', type: 'integer', jsonPath: '.status.pending', description: 'Workloads waiting.' },
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Has Ready nodes.' },
    ageColumn,
  ],
});
export type ResourcePool = ObjectOf<typeof ResourcePool>;

// ---------------------------------------------------------------- ResourceSpec

export const ResourceSpecConditions = { Ready: 'Ready' } as const;

export const ResourceSpec = defineKind({
  kind: 'ResourceSpec',
  plural: 'resourcespecs',
  shortNames: ['ospec'],
  scope: 'Cluster',
  description: 'A named resource preset for one pod (e.g. gpu-1x: 1 nvidia.com/gpu, 8 CPU, 32Gi), with a price and the pools it applies to.',
  spec: obj(
    {
      displayName: opt(str({ description: 'Human-friendly name.', maxLength: 256 })),
      description: opt(description),
      resources: describe(ResourceRequirements, 'Requests (and optional limits) of one pod.'),
      shmSize: opt(quantity({ description: 'Size of /dev/shm for pods of this spec.' })),
      pricePerHour: opt(decimal('Price of one pod-hour, in the platform currency.')),
      pools: opt(arr(dnsSubdomain('Pool name.'), { description: 'Pools this spec may be used in; unset means every pool.', maxItems: 64, listType: 'set' })),
    },
    {
      description: 'Desired state of the resource spec.',
      validations: [{ rule: 'has(self.resources.requests) && size(self.resources.requests) > 0', message: 'resources.requests must name at least one resource', fieldPath: '.resources.requests' }],
    },
  ),
  status: obj(
    {
      ...statusBasics,
      pools: opt(arr(dnsSubdomain('Pool name.'), { description: 'Existing pools the spec applies to.', maxItems: 256, listType: 'set' })),
      accelerators: opt(str({ description: 'Accelerators per pod, e.g. 1 nvidia.com/gpu.', maxLength: 128 })),
    },
    { description: 'Observed state of the resource spec.' },
  ),
  printerColumns: [
    { name: 'CPU', type: 'string', jsonPath: '.spec.resources.requests.cpu', description: 'CPU per pod.' },
    { name: 'Memory', type: 'string', jsonPath: '.spec.resources.requests.memory', description: 'Memory per pod.' },
    { name: 'Accelerators', type: 'string', jsonPath: '.status.accelerators', description: 'Accelerators per pod.' },
    { name: 'Price', type: 'string', jsonPath: '.spec.pricePerHour', description: 'Price per pod-hour.' },
    ageColumn,
  ],
});
export type ResourceSpec = ObjectOf<typeof ResourceSpec>;

// ---------------------------------------------------------------- DevicePolicy

export const DevicePolicyRule = obj(
  {
    resource: resourceName,
    allowedWorkspaces: opt(arr(dnsLabel('Workspace (namespace) name.'), { description: 'Workspaces that may use the device; unset allows all.', maxItems: 256, listType: 'set' })),
    deniedWorkspaces: opt(arr(dnsLabel('Workspace (namespace) name.'), { description: 'Workspaces that may not use the device; wins over allowedWorkspaces.', maxItems: 256, listType: 'set' })),
    maxPerPod: opt(int({ description: 'Most devices one pod may request.', minimum: 0 })),
    maxPerJob: opt(int({ description: 'Most devices one job (the whole gang) may request.', minimum: 0 })),
    pools: opt(arr(dnsSubdomain('Pool name.'), { description: 'Pools the device may be used in; unset allows all.', maxItems: 64, listType: 'set' })),
    nodeLabels: opt(map(str({ description: 'Label value.', maxLength: 63 }), { description: 'Node labels added to the nodeSelector of pods using the device.', maxProperties: 16 })),
  },
  {
    description: 'Rules for one extended resource.',
    validations: [
      { rule: '!has(self.maxPerPod) || !has(self.maxPerJob) || self.maxPerPod <= self.maxPerJob', message: 'maxPerPod must not exceed maxPerJob', fieldPath: '.maxPerPod' },
    ],
  },
);

export const DevicePolicy = defineKind({
  kind: 'DevicePolicy',
  plural: 'devicepolicies',
  shortNames: ['odp'],
  scope: 'Cluster',
  description: 'Rules per extended resource (nvidia.com/gpu, huawei.com/Ascend910, …): who may use it, how many, where. Every policy applies; a device no rule names is unrestricted.',
  spec: obj(
    {
      description: opt(description),
      rules: arr(DevicePolicyRule, { description: 'One rule per device resource.', minItems: 1, maxItems: 64, listType: 'map', listMapKeys: ['resource'] }),
    },
    { description: 'Desired state of the device policy.' },
  ),
  status: obj(
    { ...statusBasics },
    { description: 'Observed state of the device policy.' },
  ),
  printerColumns: [
    { name: 'Devices', type: 'string', jsonPath: '.spec.rules[*].resource', description: 'Resources governed.' },
    ageColumn,
  ],
});
export type DevicePolicy = ObjectOf<typeof DevicePolicy>;

// ---------------------------------------------------------------- WorkloadPriorityClass

export const PreemptionPolicies = ['PreemptLowerPriority', 'Never'] as const;

/**
 * An Octopus kind rather than scheduling.k8s.io PriorityClass: a pod PriorityClass also makes
 * kube-scheduler evict single pods of other gangs, while Octopus preempts whole gangs itself.
 */
export const WorkloadPriorityClass = defineKind({
  kind: 'WorkloadPriorityClass',
  plural: 'workloadpriorityclasses',
  shortNames: ['opc'],
  scope: 'Cluster',
  description:
    'An admin-defined priority for Jobs, Notebooks and ModelServices: workloads name it in spec.priorityClassName where their Workspace allows it (spec.priorityClasses). Its value orders the queue within a workspace and decides preemption.',
  spec: obj(
    {
      value: int({
        description: 'Higher goes first within a workspace and may preempt lower. A change applies to waiting workloads at once; admitted Jobs keep the value they were admitted with (status.admission.priority).',
        minimum: -1000000,
        maximum: 1000000,
      }),
      description: opt(description),
      preemptionPolicy: opt(
        enumOf(PreemptionPolicies, {
          description: 'PreemptLowerPriority: a workload of this class that does not fit may preempt lower-priority Jobs of its workspace and Jobs running on quota its workspace lent. Never: it only waits.',
          default: 'PreemptLowerPriority',
        }),
      ),
      allowNonPreemptible: opt(bool({ description: 'Workloads of this class may set spec.preemptible: false.', default: false })),
    },
    { description: 'Desired state of the priority class.' },
  ),
  status: obj({ ...statusBasics }, { description: 'Observed state of the priority class.' }),
  printerColumns: [
    { name: 'Value', type: 'integer', jsonPath: '.spec.value', description: 'Priority value.' },
    { name: 'Preemption', type: 'string', jsonPath: '.spec.preemptionPolicy', description: 'May its workloads preempt.' },
    { name: 'NonPreemptible', type: 'boolean', jsonPath: '.spec.allowNonPreemptible', description: 'May its workloads opt out of being preempted.' },
    ageColumn,
  ],
});
export type WorkloadPriorityClass = ObjectOf<typeof WorkloadPriorityClass>;
