// Property: the webhook's quota and device-policy verdict is admission's. For random Jobs, Notebooks and
// ModelServices — tasks from ResourceSpecs or inline requests, pools with and without default requests —
// against random Quotas (overall and per pool) and DevicePolicies, the validator the webhook serves for
// the kind refuses exactly the errors the pure admission functions (neverFits, deviceViolations) give for
// the gang built here from the generated numbers, and admits exactly when they give none. Each workload
// also names a priority class of a known standing (listed by its Workspace or not, existing or not,
// allowing preemptible: false or not), whose refusal joins the others and never replaces them. Every
// workload passes the CRD schema: it is a request the apiserver forwards to the webhook.
import { describe, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import fc from 'fast-check';
import { kindByName, type DevicePolicy, type Job, type ModelService, type Notebook, type Quota, type ResourcePool, type ResourceSpec, type WorkloadPriorityClass, type Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { validatorFor } from '../../apis/octopus.openi.pcl.cn/v1alpha1/validation.js';
import { parseResources, type Resources } from '../../apis/quantity.js';
import { deviceViolations } from '../../controllers/admission/device-policy.js';
import { gangTotal, type PodSet } from '../../controllers/admission/gang.js';
import { neverFits, quotaState } from '../../controllers/admission/quota.js';
import { parseAdmissionReview, type FieldError } from '../admission.js';
import { kindKey } from '../registration.js';
import { admissionReview, lookupsOf, namespace } from '../testing/octopus.js';
import { octopusAdmission } from './index.js';

const apiVersion = 'octopus.openi.pcl.cn/v1alpha1';
const specs: Record<string, Record<string, string>> = {
  'gpu-1x': { 'nvidia.com/gpu': '1', cpu: '8', memory: '64Gi' },
  'gpu-8x': { 'nvidia.com/gpu': '8', cpu: '60', memory: '480Gi' },
  'cpu-4c': { cpu: '4', memory: '16Gi' },
};
/** gpu-a100 gives pods without cpu/memory its own defaults; cpu leaves them to the platform's. */
const pools: Record<string, { defaults: Record<string, string> }> = { 'gpu-a100': { defaults: { cpu: '2', memory: '4Gi' } }, cpu: { defaults: { cpu: '100m', memory: '128Mi' } } };

const cachedSpecs: ResourceSpec[] = Object.entries(specs).map(([name, requests]) => ({ apiVersion, kind: 'ResourceSpec', metadata: { name }, spec: { resources: { requests } } }));
/** The classes a workload may name, by standing: what the Workspace lists and the cluster has. */
const classes = {
  standard: { listed: true, exists: true, allowNonPreemptible: false },
  production: { listed: true, exists: true, allowNonPreemptible: true },
  batch: { listed: false, exists: true, allowNonPreemptible: true },
  retired: { listed: true, exists: false, allowNonPreemptible: false },
} as const;
type ClassName = keyof typeof classes;
const classNames = Object.keys(classes) as ClassName[];
const cachedClasses: WorkloadPriorityClass[] = classNames
  .filter((name) => classes[name].exists)
  .map((name) => ({ apiVersion, kind: 'WorkloadPriorityClass', metadata: { name }, spec: { value: 100, allowNonPreemptible: classes[name].allowNonPreemptible } }));
const cachedWorkspace: Workspace = { apiVersion, kind: 'Workspace', metadata: { name: namespace }, spec: { priorityClasses: classNames.filter((name) => classes[name].listed) } };

const cachedPools: ResourcePool[] = [
  { apiVersion, kind: 'ResourcePool', metadata: { name: 'gpu-a100' }, spec: { defaultRequests: pools['gpu-a100']!.defaults } },
  { apiVersion, kind: 'ResourcePool', metadata: { name: 'cpu' }, spec: {} },
];

/** One role as generated: a ResourceSpec, or inline requests with or without cpu/memory. */
const taskShape = fc.record({
  replicas: fc.integer({ min: 1, max: 8 }),
  source: fc.oneof(
    fc.record({ spec: fc.constantFrom(...Object.keys(specs)) }),
    fc.record({ gpus: fc.integer({ min: 0, max: 8 }), cpu: fc.option(fc.integer({ min: 1, max: 64 }), { nil: undefined }), memoryGi: fc.option(fc.integer({ min: 1, max: 256 }), { nil: undefined }) }),
  ),
});
type TaskShape = typeof taskShape extends fc.Arbitrary<infer T> ? T : never;

const limits = fc.record(
  { 'nvidia.com/gpu': fc.integer({ min: 0, max: 32 }), cpu: fc.integer({ min: 0, max: 256 }), memory: fc.constantFrom('64Gi', '512Gi', '2Ti') },
  { requiredKeys: [] },
);
const quotaShape = fc.record({ hard: limits, poolHard: fc.option(limits, { nil: undefined }) });
const policyShape = fc.option(
  fc.record({
    maxPerPod: fc.option(fc.integer({ min: 0, max: 8 }), { nil: undefined }),
    extraPerJob: fc.option(fc.integer({ min: 0, max: 24 }), { nil: undefined }),
    pools: fc.option(fc.constantFrom(['gpu-a100'], ['cpu']), { nil: undefined }),
    allowed: fc.option(fc.constantFrom([namespace], ['team-b']), { nil: undefined }),
  }),
  { nil: undefined },
);

const caseShape = fc.record({
  kind: fc.constantFrom('Job', 'Notebook', 'ModelService'),
  pool: fc.constantFrom('gpu-a100', 'cpu'),
  tasks: fc.array(taskShape, { minLength: 1, maxLength: 3 }),
  serviceReplicas: fc.integer({ min: 1, max: 20 }),
  quotas: fc.array(quotaShape, { maxLength: 2 }),
  policy: policyShape,
  priorityClass: fc.option(fc.constantFrom(...classNames), { nil: undefined }),
  nonPreemptible: fc.boolean(),
});
type Case = typeof caseShape extends fc.Arbitrary<infer T> ? T : never;

function requestsOf(t: TaskShape): Record<string, string> | undefined {
  if ('spec' in t.source) return undefined;
  const r: Record<string, string> = {};
  if (t.source.gpus > 0) r['nvidia.com/gpu'] = String(t.source.gpus);
  if (t.source.cpu !== undefined) r.cpu = String(t.source.cpu);
  if (t.source.memoryGi !== undefined) r.memory = `${t.source.memoryGi}Gi`;
  return r;
}

/** The per-pod requests admission must see, worked out here from the shape: the spec's, or inline ones completed with the pool's defaults. */
function expectedRequests(t: TaskShape, pool: string): Resources {
  if ('spec' in t.source) return parseResources({ ...pools[pool]!.defaults, ...specs[t.source.spec] });
  return parseResources({ ...pools[pool]!.defaults, ...requestsOf(t) });
}

function resourcesField(t: TaskShape): { resourceSpec: string } | { resources: { requests: Record<string, string> } } {
  return 'spec' in t.source ? { resourceSpec: t.source.spec } : { resources: { requests: requestsOf(t)! } };
}

function workload(c: Case): { object: Job | Notebook | ModelService; podSets: (PodSet & { path: string })[]; gangPath: string } {
  const metadata = { name: 'w', namespace };
  const image = { reference: 'registry.example.com/x:1' };
  const priority = c.priorityClass ? { priorityClassName: c.priorityClass } : {};
  if (c.kind === 'Job') {
    const tasks = c.tasks.map((t, i) => ({ name: `t${i}`, replicas: t.replicas, ...resourcesField(t) }));
    const podSets = c.tasks.map((t, i) => ({ task: `t${i}`, count: t.replicas, requests: expectedRequests(t, c.pool), path: `spec.tasks[${i}]` }));
    const spec = { image, pool: c.pool, ...priority, ...(c.nonPreemptible ? { preemptible: false } : {}), tasks };
    return { object: { apiVersion, kind: 'Job', metadata, spec }, podSets, gangPath: 'spec.tasks' };
  }
  const [t] = c.tasks as [TaskShape];
  const field = resourcesField(t);
  const path = 'resourceSpec' in field ? 'spec.resourceSpec' : 'spec.resources';
  if (c.kind === 'Notebook') {
    return { object: { apiVersion, kind: 'Notebook', metadata, spec: { image, pool: c.pool, ...priority, ...field } }, podSets: [{ task: 'notebook', count: 1, requests: expectedRequests(t, c.pool), path }], gangPath: path };
  }
  const spec = { model: { name: 'm', version: 'v1' }, image, pool: c.pool, replicas: c.serviceReplicas, ...priority, ...field };
  return { object: { apiVersion, kind: 'ModelService', metadata, spec }, podSets: [{ task: 'server', count: c.serviceReplicas, requests: expectedRequests(t, c.pool), path }], gangPath: path };
}

function cache(c: Case): { objects: KubernetesObject[]; quotas: Quota[]; policies: DevicePolicy[] } {
  const quotas: Quota[] = c.quotas.map((q, i) => ({
    apiVersion,
    kind: 'Quota',
    metadata: { name: `q${i}`, namespace },
    spec: { hard: q.hard, ...(q.poolHard ? { pools: [{ name: 'gpu-a100', hard: q.poolHard }] } : {}) },
  }));
  const p = c.policy;
  const rule = p && {
    resource: 'nvidia.com/gpu',
    ...(p.maxPerPod !== undefined ? { maxPerPod: p.maxPerPod } : {}),
    ...(p.extraPerJob !== undefined ? { maxPerJob: (p.maxPerPod ?? 0) + p.extraPerJob } : {}),
    ...(p.pools ? { pools: [...p.pools] } : {}),
    ...(p.allowed ? { allowedWorkspaces: [...p.allowed] } : {}),
  };
  const policies: DevicePolicy[] = rule ? [{ apiVersion, kind: 'DevicePolicy', metadata: { name: 'gpus' }, spec: { rules: [rule] } }] : [];
  return { objects: [...cachedSpecs, ...cachedPools, ...cachedClasses, cachedWorkspace, ...quotas, ...policies], quotas, policies };
}

/** What the class the case names, by its standing, must be refused for. */
function priorityErrors(c: Case): FieldError[] {
  const standing = c.priorityClass && classes[c.priorityClass];
  if (standing && !standing.listed) return [{ path: 'spec.priorityClassName', message: expect.stringContaining(`Workspace ${namespace} may use only priority classes`) as unknown as string }];
  if (standing && !standing.exists) return [{ path: 'spec.priorityClassName', message: `WorkloadPriorityClass ${c.priorityClass} does not exist` }];
  if (c.kind !== 'Job' || !c.nonPreemptible || standing?.allowNonPreemptible) return [];
  return [{ path: 'spec.preemptible', message: expect.any(String) as unknown as string }];
}

const key = (e: FieldError) => `${e.path}: ${e.message}`;
const priorityPaths = new Set(['spec.priorityClassName', 'spec.preemptible']);
const partition = <T>(items: readonly T[], test: (item: T) => boolean): [T[], T[]] => [items.filter(test), items.filter((i) => !test(i))];

describe('the webhook verdict on gangs', () => {
  it("refuses exactly what admission's pure functions refuse, for random Jobs, Notebooks and ModelServices", async () => {
    const seen = { admitted: 0, quota: 0, device: 0, priority: 0 };
    await fc.assert(
      fc.asyncProperty(caseShape, async (c) => {
        const { object, podSets, gangPath } = workload(c);
        const { objects, quotas, policies } = cache(c);
        const total = gangTotal({ podSets });
        const want = [
          ...neverFits(quotas.map((q) => quotaState(q)), c.pool, total).map((p) => ({ path: gangPath, message: p.message })),
          ...deviceViolations(policies, { namespace, pool: c.pool, podSets }),
        ];
        expect(validatorFor(kindByName(c.kind)!).validate(object)).toEqual([]);
        const parsed = parseAdmissionReview(admissionReview(object));
        if (!parsed.ok) throw new Error(parsed.message);
        const validator = octopusAdmission(lookupsOf(objects)).validators[kindKey(c.kind)]!;
        const verdict = await validator.validate(parsed.context);
        const priority = priorityErrors(c);
        const [priorityGot, got] = partition(verdict.errors, (e) => priorityPaths.has(e.path));
        expect(got.map(key).sort()).toEqual(want.map(key).sort());
        expect(priorityGot).toEqual(priority);
        if (want.length === 0 && priority.length === 0) seen.admitted++;
        if (want.some((e) => e.path === gangPath)) seen.quota++;
        if (want.some((e) => e.path !== gangPath)) seen.device++;
        if (priority.length > 0) seen.priority++;
      }),
      { numRuns: 3_000 },
    );
    // The generator reaches every outcome, often.
    expect(seen.admitted).toBeGreaterThan(300);
    expect(seen.quota).toBeGreaterThan(300);
    expect(seen.device).toBeGreaterThan(300);
    expect(seen.priority).toBeGreaterThan(300);
  }, 120_000);
});
