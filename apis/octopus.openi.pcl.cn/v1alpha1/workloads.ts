/** Workloads: training Job, Notebook, ModelService. */
import { ImageSelector, Ingress, PodMetadata, ResourceList, ResourceRequirements, S3Destination, StorageRequest, assetReference, command, env, statusBasics, versionName } from './common.js';
import { ageColumn, defineKind, type ObjectOf } from './kind.js';
import { arr, bool, describe, dnsLabel, dnsSubdomain, enumOf, int, map, obj, opt, quantity, str, type CelRule } from './schema.js';

const oneResourceSource: CelRule = {
  rule: 'has(self.resourceSpec) != has(self.resources)',
  message: 'exactly one of resourceSpec or resources must be set',
};

const datasetMounts = arr(
  obj(
    {
      name: dnsSubdomain('Name of the Dataset.'),
      namespace: opt(dnsLabel("Namespace of the Dataset; defaults to this object's namespace. Across namespaces the Dataset must be Public.")),
      version: opt(dnsLabel('Version; defaults to the latest Ready version.')),
    },
    { description: 'A dataset version mounted read-only at /dataset/<name>.' },
  ),
  {
    description: 'Datasets mounted read-only at /dataset/<name>.',
    maxItems: 16,
    validations: [{ rule: 'self.all(a, self.exists_one(b, b.name == a.name))', message: 'dataset names must be unique: each mounts at /dataset/<name>' }],
  },
);

const poolName = dnsSubdomain('ResourcePool the pods run in.');
const resourceSpecName = dnsSubdomain('A ResourceSpec preset (e.g. gpu-1x); exclusive with resources.');
const priorityClassName = dnsSubdomain(
  'A WorkloadPriorityClass the Workspace allows (spec.priorityClasses): its value orders the queue within the workspace and decides who may preempt whom. Unset means value 0.',
);
/** Where a waiting workload stands, written by the admission controller. */
const queuePosition = int({
  description: "Place in its pool's queue at the last admission cycle (1 = considered next); refreshed at once near the head, at most every minute further back.",
  minimum: 1,
});

// ---------------------------------------------------------------- Job

export const JobPhases = ['Queued', 'Admitted', 'Running', 'Restarting', 'Succeeded', 'Failed', 'Stopped'] as const;
export type JobPhase = (typeof JobPhases)[number];
export const Distributions = ['PyTorch', 'TensorFlow', 'MPI', 'None'] as const;
export type Distribution = (typeof Distributions)[number];
export const tensorflowRoles = ['chief', 'ps', 'worker', 'evaluator'] as const;

export const JobConditions = {
  ReferencesResolved: 'ReferencesResolved',
  Admitted: 'Admitted',
  Running: 'Running',
  Succeeded: 'Succeeded',
  Failed: 'Failed',
  Stopped: 'Stopped',
  /** True after the job was preempted (cleared when admitted again): names the preemptor and the reason. */
  Preempted: 'Preempted',
} as const;

export const JobReasons = {
  // ReferencesResolved
  Resolved: 'Resolved',
  ImageNotFound: 'ImageNotFound',
  ImageNotReady: 'ImageNotReady',
  AlgorithmNotFound: 'AlgorithmNotFound',
  DatasetNotFound: 'DatasetNotFound',
  ModelNotFound: 'ModelNotFound',
  VersionNotReady: 'VersionNotReady',
  NotPublic: 'NotPublic',
  NotShareable: 'NotShareable',
  PoolNotFound: 'PoolNotFound',
  PoolNotInWorkspace: 'PoolNotInWorkspace',
  PoolNotForTraining: 'PoolNotForTraining',
  ResourceSpecNotFound: 'ResourceSpecNotFound',
  StoragePolicyDenied: 'StoragePolicyDenied',
  // Admitted
  Pending: 'Pending',
  QuotaExceeded: 'QuotaExceeded',
  BudgetExhausted: 'BudgetExhausted',
  NoQuota: 'NoQuota',
  InsufficientCapacity: 'InsufficientCapacity',
  DevicePolicyDenied: 'DevicePolicyDenied',
  QuotaReserved: 'QuotaReserved',
  PodsReadyTimeout: 'PodsReadyTimeout',
  Evicted: 'Evicted',
  PriorityClassNotFound: 'PriorityClassNotFound',
  /** Waiting for the pods of the workloads it preempted to terminate. */
  Preempting: 'Preempting',
  // Preempted
  /** A higher-priority workload of the same workspace needed the room. */
  LowerPriority: 'LowerPriority',
  /** The victim ran on quota borrowed from its cohort and the lender needed it back. */
  QuotaReclaimed: 'QuotaReclaimed',
  Readmitted: 'Readmitted',
  // Running / terminal
  PodsRunning: 'PodsRunning',
  Restarting: 'Restarting',
  Completed: 'Completed',
  TaskFailed: 'TaskFailed',
  MaxRetriesExceeded: 'MaxRetriesExceeded',
  DeadlineExceeded: 'DeadlineExceeded',
  Suspended: 'Suspended',
} as const;

export const Task = obj(
  {
    name: dnsLabel('Role name, unique within the job; pods are named <job>-<task>-<index>.', { maxLength: 15 }),
    replicas: opt(int({ description: 'Number of pods in this role.', minimum: 1, maximum: 1024, default: 1 })),
    resourceSpec: opt(resourceSpecName),
    resources: opt(ResourceRequirements),
    command: opt(describe(command, "Entrypoint; defaults to the algorithm's entrypoint, then the image's.")),
    args: opt(describe(command, 'Arguments to the entrypoint.')),
    env: opt(env),
    workingDir: opt(str({ description: 'Working directory; defaults to /code when an algorithm is mounted.', maxLength: 1024 })),
    completion: opt(
      obj(
        {
          minSucceeded: opt(int({ description: 'Pods that must succeed for the role to succeed; defaults to replicas.', minimum: 1 })),
          maxFailed: opt(int({ description: 'Failed pods the role tolerates before it fails.', minimum: 0, default: 0 })),
        },
        { description: 'When this role succeeds or fails.' },
      ),
    ),
    main: opt(bool({ description: 'This role alone decides the job (e.g. a launcher or chief); otherwise every role must succeed.', default: false })),
    podMetadata: opt(PodMetadata),
    shmSize: opt(quantity({ description: "Size of /dev/shm; defaults to the ResourceSpec's." })),
  },
  {
    description: 'A role of the gang: identical pods sharing a command and resources.',
    validations: [
      oneResourceSource,
      {
        rule: '!has(self.completion) || !has(self.completion.minSucceeded) || self.completion.minSucceeded <= self.replicas',
        message: 'completion.minSucceeded must not exceed replicas',
        fieldPath: '.completion.minSucceeded',
      },
    ],
  },
);

export const JobPolicy = obj(
  {
    maxRetries: opt(int({ description: 'Whole-gang restarts after a failed attempt; evictions and preemptions do not count.', minimum: 0, maximum: 100, default: 0 })),
    activeDeadlineSeconds: opt(int({ description: 'Running time limit across attempts; exceeded → Failed (DeadlineExceeded).', minimum: 1, format: 'int64' })),
    podsReadyTimeoutSeconds: opt(int({ description: 'Time for every pod to run after admission; exceeded → reservation released and the job requeued with backoff.', minimum: 1, maximum: 86400, default: 300 })),
    ttlSecondsAfterFinished: opt(int({ description: 'Delete the job this long after it finished; unset keeps it.', minimum: 0, format: 'int64' })),
  },
  { description: 'Retry, time limits and clean-up.' },
);

export const JobSpec = obj(
  {
    image: ImageSelector,
    algorithm: opt(assetReference('Algorithm')),
    datasets: opt(datasetMounts),
    pretrainedModel: opt(describe(assetReference('Model'), 'A model version mounted read-only at /pretrainmodel.')),
    pool: poolName,
    priorityClassName: opt(priorityClassName),
    preemptible: opt(
      bool({
        description: 'false asks never to be preempted; allowed only where the priority class says allowNonPreemptible. A workload that cannot be preempted never borrows quota from its cohort.',
        default: true,
      }),
    ),
    distribution: opt(enumOf(Distributions, { description: 'How pods find each other: PyTorch (MASTER_ADDR, RANK…), TensorFlow (TF_CONFIG), MPI (hostfile) or None.', default: 'None' })),
    tasks: arr(Task, {
      description: 'The roles of the gang; admitted and started all together.',
      minItems: 1,
      maxItems: 8,
      listType: 'map',
      listMapKeys: ['name'],
      validations: [{ rule: 'self.filter(t, has(t.main) && t.main).size() <= 1', message: 'at most one task may be main' }],
    }),
    policy: opt(JobPolicy),
    suspend: opt(bool({ description: 'true stops the job (pods deleted, quota released); false again requeues it.', default: false })),
    output: opt(
      obj(
        {
          model: opt(
            obj(
              {
                name: dnsSubdomain('Model that receives a new version when the job succeeds; created if absent.'),
                version: opt(describe(versionName, 'Version name; defaults to <job name>.')),
                storage: opt(StorageRequest),
                s3: opt(S3Destination),
              },
              { description: 'Register what the job wrote to /model as a Model version; with s3, also upload it there once the job succeeded.' },
            ),
          ),
        },
        { description: 'What the job produces.' },
      ),
    ),
    shmSize: opt(quantity({ description: 'Default size of /dev/shm for every task.' })),
  },
  {
    description: 'Desired state of the training job.',
    validations: [
      { rule: "self.distribution != 'MPI' || self.tasks.exists(t, t.name == 'launcher')", message: "an MPI job needs a task named 'launcher'", fieldPath: '.tasks' },
      {
        rule: "self.distribution != 'TensorFlow' || self.tasks.all(t, t.name in ['chief', 'ps', 'worker', 'evaluator'])",
        message: 'TensorFlow task names must be chief, ps, worker or evaluator',
        fieldPath: '.tasks',
      },
    ],
  },
);

const taskStatus = obj(
  {
    name: dnsLabel('Task name.'),
    replicas: int({ description: 'Pods in the role.', minimum: 0 }),
    active: opt(int({ description: 'Pods not finished.', minimum: 0 })),
    ready: opt(int({ description: 'Pods running and ready.', minimum: 0 })),
    succeeded: opt(int({ description: 'Pods succeeded in this attempt.', minimum: 0 })),
    failed: opt(int({ description: 'Pods failed in this attempt.', minimum: 0 })),
  },
  { description: 'Pod counts of one role in the current attempt.' },
);

export const JobAdmission = obj(
  {
    pool: dnsSubdomain('Pool the gang was admitted to.'),
    admittedAt: str({ description: 'When quota was reserved.', format: 'date-time' }),
    podSets: arr(
      obj(
        {
          task: dnsLabel('Task name.'),
          count: int({ description: 'Pods.', minimum: 0 }),
          resources: describe(ResourceList, 'Requests of one pod, resolved from resources or the ResourceSpec.'),
          shmSize: opt(str({ description: 'Resolved /dev/shm size.', maxLength: 64 })),
          pricePerHour: opt(str({ description: "Price of one pod-hour at admission: the ResourceSpec's, or the pool's prices of inline resources.", maxLength: 32 })),
          nodeSelector: opt(map(str({ description: 'Label value.', maxLength: 63 }), { description: 'Node labels the pods need beyond the pool\'s (added by DevicePolicies).', maxProperties: 16 })),
        },
        { description: 'One role as admitted.' },
      ),
      { description: 'Resources frozen at admission, per role.', maxItems: 8, listType: 'map', listMapKeys: ['task'] },
    ),
    total: describe(ResourceList, 'Total reserved for the gang.'),
    priority: opt(int({ description: 'Value of its priority class when admitted; preemption compares these.', minimum: -1000000, maximum: 1000000 })),
    borrowed: opt(bool({ description: "Admitted beyond the workspace's hard limits, on quota lent by its cohort: preempted when a lender needs it back." })),
  },
  { description: 'The reservation made when the job was admitted; frozen until released.' },
);

export const Job = defineKind({
  kind: 'Job',
  plural: 'jobs',
  shortNames: ['ojob'],
  scope: 'Namespaced',
  description:
    'A distributed training job: a gang of pods admitted all-or-nothing against the workspace Quota, the pool capacity and the DevicePolicy. batch/v1 also owns "jobs": use `kubectl get ojob` or jobs.octopus.openi.pcl.cn.',
  spec: JobSpec,
  status: obj(
    {
      ...statusBasics,
      phase: opt(enumOf(JobPhases, { description: 'Queued, Admitted, Running, Restarting, Succeeded, Failed or Stopped.' })),
      admission: opt(JobAdmission),
      attempt: opt(int({ description: 'Current attempt, 0 first; pods carry it in the attempt label.', minimum: 0 })),
      retries: opt(int({ description: 'Failed attempts restarted so far.', minimum: 0 })),
      requeues: opt(int({ description: 'Times the reservation was released and the job requeued (pods-ready timeout, eviction).', minimum: 0 })),
      preemptions: opt(int({ description: 'Times the job was preempted and requeued; neither failures nor retries.', minimum: 0 })),
      position: opt(queuePosition),
      tasks: opt(arr(taskStatus, { description: 'Per-role pod counts.', maxItems: 8, listType: 'map', listMapKeys: ['name'] })),
      pods: opt(str({ description: 'Ready pods / gang size, e.g. 3/4.', maxLength: 32 })),
      accelerators: opt(str({ description: 'Accelerators reserved, e.g. 8 nvidia.com/gpu.', maxLength: 128 })),
      queuedAt: opt(str({ description: 'When the job last entered the queue.', format: 'date-time' })),
      backoffUntil: opt(str({ description: 'After a requeue, the job is not considered for admission before this time (exponential backoff).', format: 'date-time' })),
      startTime: opt(str({ description: 'When the first attempt started running.', format: 'date-time' })),
      attemptStartTime: opt(str({ description: 'When the current attempt was admitted or restarted; the pods-ready timeout counts from here.', format: 'date-time' })),
      completionTime: opt(str({ description: 'When the job finished.', format: 'date-time' })),
      usage: opt(describe(ResourceList, 'Resource-seconds reserved by all attempts so far, e.g. nvidia.com/gpu: 28800.')),
      output: opt(obj({ model: dnsSubdomain('Model name.'), version: versionName }, { description: 'The Model version this job registered.' })),
    },
    { description: 'Observed state of the training job.' },
  ),
  // Pod names are <job>-<task>-<index>: 40 + 1 + 15 + 1 + 4 fits a 63-character DNS label.
  name: { maxLength: 40, description: 'Job name, at most 40 characters so pod names stay valid DNS labels.' },
  printerColumns: [
    { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Lifecycle phase.' },
    { name: 'Pods', type: 'string', jsonPath: '.status.pods', description: 'Ready pods / gang size.' },
    { name: 'Pool', type: 'string', jsonPath: '.spec.pool', description: 'ResourcePool.' },
    { name: 'Accelerators', type: 'string', jsonPath: '.status.accelerators', description: 'Accelerators reserved.' },
    { name: 'Retries', type: 'integer', jsonPath: '.status.retries', description: 'Failed attempts restarted.' },
    { name: 'Position', type: 'integer', jsonPath: '.status.position', description: "Place in its pool's queue while waiting." },
    { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Admitted")].reason', description: 'Admission reason.', priority: 1 },
    ageColumn,
  ],
});
export type Job = ObjectOf<typeof Job>;

// ---------------------------------------------------------------- Notebook

export const NotebookPhases = ['Pending', 'Running', 'Stopped', 'Failed'] as const;
export type NotebookPhase = (typeof NotebookPhases)[number];
export const NotebookConditions = { ReferencesResolved: 'ReferencesResolved', Admitted: 'Admitted', Ready: 'Ready', Stopped: 'Stopped' } as const;
export const NotebookReasons = {
  Resolved: 'Resolved',
  QuotaExceeded: 'QuotaExceeded',
  InsufficientCapacity: 'InsufficientCapacity',
  Suspended: 'Suspended',
  AutoStopped: 'AutoStopped',
  Idle: 'Idle',
  PodRunning: 'PodRunning',
  PodFailed: 'PodFailed',
} as const;
/** The Jupyter pod reports its last activity here (RFC 3339); idle culling reads it. */
export const lastActivityAnnotation = 'notebooks.octopus.openi.pcl.cn/last-activity';

export const Notebook = defineKind({
  kind: 'Notebook',
  plural: 'notebooks',
  shortNames: ['onb'],
  scope: 'Namespaced',
  description: 'A JupyterLab development environment with the same mounts as a Job, admitted against the Quota like a one-pod gang.',
  spec: obj(
    {
      image: ImageSelector,
      algorithm: opt(assetReference('Algorithm')),
      datasets: opt(datasetMounts),
      pretrainedModel: opt(describe(assetReference('Model'), 'A model version mounted read-only at /pretrainmodel.')),
      pool: poolName,
      priorityClassName: opt(priorityClassName),
      resourceSpec: opt(resourceSpecName),
      resources: opt(ResourceRequirements),
      env: opt(env),
      suspend: opt(bool({ description: 'true stops the notebook (pod deleted, quota released, /userhome kept); false starts it again.', default: false })),
      autoStopSeconds: opt(int({ description: 'Stop after running this long.', minimum: 60, format: 'int64' })),
      idleTimeoutSeconds: opt(int({ description: `Stop after this long without activity (reported by the pod in ${lastActivityAnnotation}).`, minimum: 60, format: 'int64' })),
      homeStorage: opt(describe(StorageRequest, 'The /userhome claim, kept across stops.')),
      ingress: opt(Ingress),
      podMetadata: opt(PodMetadata),
    },
    { description: 'Desired state of the notebook.', validations: [oneResourceSource] },
  ),
  status: obj(
    {
      ...statusBasics,
      phase: opt(enumOf(NotebookPhases, { description: 'Pending, Running, Stopped or Failed.' })),
      url: opt(str({ description: 'Where to open JupyterLab.', maxLength: 2048 })),
      startTime: opt(str({ description: 'When the current run started.', format: 'date-time' })),
      lastActivityTime: opt(str({ description: 'Last activity reported by the pod.', format: 'date-time' })),
      position: opt(queuePosition),
      admission: opt(
        obj(
          {
            pool: dnsSubdomain('Pool.'),
            admittedAt: str({ description: 'When quota was reserved.', format: 'date-time' }),
            resources: describe(ResourceList, 'Reserved for the pod.'),
            shmSize: opt(str({ description: 'Resolved /dev/shm size.', maxLength: 64 })),
            pricePerHour: opt(str({ description: "Price of one hour at admission: the ResourceSpec's, or the pool's prices of inline resources.", maxLength: 32 })),
            nodeSelector: opt(map(str({ description: 'Label value.', maxLength: 63 }), { description: 'Node labels added by DevicePolicies.', maxProperties: 16 })),
          },
          { description: 'The reservation written by the admission controller while the notebook may run; removed when it stops.' },
        ),
      ),
    },
    { description: 'Observed state of the notebook.' },
  ),
  // The name becomes a Service name and a label value: a DNS label starting with a letter.
  name: { maxLength: 63, pattern: '^[a-z]([-a-z0-9]*[a-z0-9])?$', description: 'Notebook name: a DNS label starting with a letter (it names the Service and pod).' },
  printerColumns: [
    { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Pending, Running, Stopped or Failed.' },
    { name: 'Pool', type: 'string', jsonPath: '.spec.pool', description: 'ResourcePool.' },
    { name: 'URL', type: 'string', jsonPath: '.status.url', description: 'Where to open it.' },
    ageColumn,
  ],
});
export type Notebook = ObjectOf<typeof Notebook>;

// ---------------------------------------------------------------- ModelService

export const ModelServicePhases = ['Preparing', 'Available', 'Failed', 'Stopped'] as const;
export type ModelServicePhase = (typeof ModelServicePhases)[number];
export const ModelServiceConditions = { ReferencesResolved: 'ReferencesResolved', Admitted: 'Admitted', Available: 'Available', Stopped: 'Stopped' } as const;

export const ModelService = defineKind({
  kind: 'ModelService',
  plural: 'modelservices',
  shortNames: ['oms'],
  scope: 'Namespaced',
  description: 'Serves a Model version: a Deployment with the version mounted read-only at /model, a Service, and optionally an Ingress.',
  spec: obj(
    {
      model: obj(
        {
          name: dnsSubdomain('Model name.'),
          namespace: opt(dnsLabel("Model namespace; defaults to this object's. Across namespaces the Model must be Public.")),
          version: versionName,
        },
        { description: 'The model version to serve; change it to roll out a new version.' },
      ),
      image: describe(ImageSelector, 'The serving runtime image, e.g. Triton, TorchServe or your own.'),
      command: opt(command),
      args: opt(describe(command, 'Arguments to the serving runtime.')),
      env: opt(env),
      port: opt(int({ description: 'Port the runtime listens on.', minimum: 1, maximum: 65535, default: 8080 })),
      readinessPath: opt(str({ description: 'HTTP path probed for readiness; unset probes the TCP port.', pattern: '^/', maxLength: 1024 })),
      replicas: opt(int({ description: 'Serving pods.', minimum: 0, maximum: 100, default: 1 })),
      pool: describe(poolName, 'ResourcePool the serving pods run in; the service is admitted against the Quota there like a gang of its replicas.'),
      priorityClassName: opt(priorityClassName),
      resourceSpec: opt(resourceSpecName),
      resources: opt(ResourceRequirements),
      suspend: opt(bool({ description: 'true scales to zero and keeps the object.', default: false })),
      ingress: opt(Ingress),
      podMetadata: opt(PodMetadata),
    },
    { description: 'Desired state of the model service.', validations: [oneResourceSource] },
  ),
  status: obj(
    {
      ...statusBasics,
      phase: opt(enumOf(ModelServicePhases, { description: 'Preparing, Available, Failed or Stopped.' })),
      url: opt(str({ description: 'Where the service answers.', maxLength: 2048 })),
      modelVersion: opt(str({ description: 'The version the ready pods serve.', maxLength: 63 })),
      replicas: opt(int({ description: 'Pods.', minimum: 0 })),
      readyReplicas: opt(int({ description: 'Ready pods.', minimum: 0 })),
      labels: opt(map(str({ description: 'Value.', maxLength: 63 }), { description: 'Labels selecting the serving pods.', maxProperties: 8 })),
      position: opt(queuePosition),
      admission: opt(
        obj(
          {
            pool: dnsSubdomain('Pool.'),
            admittedAt: str({ description: 'When quota was last reserved (first admission or a scale-up).', format: 'date-time' }),
            replicas: int({ description: 'Serving pods reserved for; the Deployment runs at most this many.', minimum: 0 }),
            resources: describe(ResourceList, 'Requests of one serving pod, resolved from resources or the ResourceSpec.'),
            total: describe(ResourceList, 'Reserved for all replicas.'),
            shmSize: opt(str({ description: 'Resolved /dev/shm size.', maxLength: 64 })),
            pricePerHour: opt(str({ description: 'Price of one pod-hour at admission.', maxLength: 32 })),
            nodeSelector: opt(map(str({ description: 'Label value.', maxLength: 63 }), { description: 'Node labels added by DevicePolicies.', maxProperties: 16 })),
          },
          { description: 'The reservation written by the admission controller; scaling up is admitted again, scaling down or stopping releases at once.' },
        ),
      ),
    },
    { description: 'Observed state of the model service.' },
  ),
  name: { maxLength: 63, pattern: '^[a-z]([-a-z0-9]*[a-z0-9])?$', description: 'ModelService name: a DNS label starting with a letter (it names the Deployment and Service).' },
  printerColumns: [
    { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Preparing, Available, Failed or Stopped.' },
    { name: 'Model', type: 'string', jsonPath: '.spec.model.name', description: 'Model served.' },
    { name: 'Version', type: 'string', jsonPath: '.status.modelVersion', description: 'Version the ready pods serve.' },
    { name: 'Ready', type: 'integer', jsonPath: '.status.readyReplicas', description: 'Ready pods.' },
    { name: 'URL', type: 'string', jsonPath: '.status.url', description: 'Where it answers.' },
    ageColumn,
  ],
});
export type ModelService = ObjectOf<typeof ModelService>;
