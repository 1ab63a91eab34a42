/**
 * Octopus objects, admission contexts, reviews and cache lookups for webhook tests and the benchmark:
 * builders with the fields a rule reads, overridable, and lookups filled from plain objects through the
 * same code the informers feed.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import {
  apiVersion,
  group,
  kindByName,
  version,
  type Dataset,
  type DevicePolicy,
  type Job,
  type Notebook,
  type Quota,
  type ResourceSpec,
  type WorkloadPriorityClass,
} from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { TaskSpec } from '../../controllers/admission/gang.js';
import { ObjectStore } from '../../controllers/runtime/store.js';
import { admissionApiVersion, type AdmissionReview } from '../admission.js';
import type { WriteContext } from '../kinds/check.js';
import { assetKinds, byIngressHost, byNamespace, cacheLookups, exposedKinds, ingressHostKeys, namespaceOf, type AssetKind, type Lookups } from '../kinds/lookups.js';

export const namespace = 'team-a';

type Resources = Record<string, string | number>;

export function makeTask(name: string, requests: Resources, replicas = 1): TaskSpec {
  return { name, replicas, resources: { requests } };
}

export function makeJob(spec: Partial<Job['spec']> = {}, name = 'train'): Job {
  return {
    apiVersion,
    kind: 'Job',
    metadata: { name, namespace },
    spec: { image: { reference: 'docker.io/library/python:3.12' }, pool: 'gpu-a100', tasks: [makeTask('worker', { 'nvidia.com/gpu': 1, cpu: 4 })], ...spec },
  };
}

export function makeNotebook(spec: Partial<Notebook['spec']> = {}, name = 'dev'): Notebook {
  return {
    apiVersion,
    kind: 'Notebook',
    metadata: { name, namespace },
    spec: { image: { reference: 'docker.io/jupyter/base-notebook:latest' }, pool: 'gpu-a100', resources: { requests: { 'nvidia.com/gpu': 1, cpu: 4 } }, ...spec },
  };
}

export function makeQuota(name: string, spec: Partial<Quota['spec']>, status?: Quota['status'], ns = namespace): Quota {
  return { apiVersion, kind: 'Quota', metadata: { name, namespace: ns }, spec: { hard: {}, ...spec }, ...(status ? { status } : {}) };
}

export function makeDevicePolicy(name: string, rules: DevicePolicy['spec']['rules']): DevicePolicy {
  return { apiVersion, kind: 'DevicePolicy', metadata: { name }, spec: { rules } };
}

export function makeResourceSpec(name: string, requests: Resources, extra: Partial<ResourceSpec['spec']> = {}): ResourceSpec {
  return { apiVersion, kind: 'ResourceSpec', metadata: { name }, spec: { resources: { requests }, ...extra } };
}

export function makePriorityClass(name: string, value: number, extra: Partial<WorkloadPriorityClass['spec']> = {}): WorkloadPriorityClass {
  return { apiVersion, kind: 'WorkloadPriorityClass', metadata: { name }, spec: { value, ...extra } };
}

export function makeDataset(ns: string, name: string, visibility?: 'Private' | 'Public'): Dataset {
  return { apiVersion, kind: 'Dataset', metadata: { name, namespace: ns }, spec: { ...(visibility ? { visibility } : {}), versions: [{ name: 'v1', source: { pvc: { claimName: name } } }] } };
}

/** An asset of `kind` with `visibility`, for visibility lookups. */
export function makeAsset(kind: AssetKind, ns: string, name: string, visibility?: 'Private' | 'Public'): KubernetesObject & { spec: object } {
  return { apiVersion, kind, metadata: { name, namespace: ns }, spec: visibility ? { visibility } : {} };
}

/** Lookups over ObjectStores holding `objects`, through the code that serves the informers' caches. */
export function lookupsOf(objects: readonly KubernetesObject[]): Lookups {
  const stores = new Map<string, ObjectStore<KubernetesObject>>(['Quota', 'DevicePolicy', 'ResourceSpec', 'ResourcePool', 'WorkloadPriorityClass', 'Workspace', ...assetKinds, ...exposedKinds].map((k) => [k, new ObjectStore()]));
  // Each store holds one kind; the lookups read them as that kind.
  const store = (kind: string) => stores.get(kind) as unknown as ObjectStore<never>;
  store('Quota').addIndex(byNamespace, namespaceOf);
  for (const kind of exposedKinds) store(kind).addIndex(byIngressHost, ingressHostKeys);
  for (const obj of objects) {
    const s = stores.get(obj.kind ?? '');
    if (s === undefined) throw new Error(`the lookups hold no ${obj.kind}`);
    s.upsert(obj);
  }
  return cacheLookups({
    quotas: store('Quota'),
    devicePolicies: store('DevicePolicy'),
    resourceSpecs: store('ResourceSpec'),
    pools: store('ResourcePool'),
    priorityClasses: store('WorkloadPriorityClass'),
    workspaces: store('Workspace'),
    workloads: { Notebook: store('Notebook'), ModelService: store('ModelService') },
    assets: { Dataset: store('Dataset'), Algorithm: store('Algorithm'), Model: store('Model'), Image: store('Image') },
  });
}

interface Named {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
}

function base(obj: Named) {
  const kind = obj.kind ?? '';
  return {
    uid: 'uid-1',
    kind: { group, version, kind },
    name: obj.metadata?.name ?? '',
    ...(obj.metadata?.namespace ? { namespace: obj.metadata.namespace } : {}),
    userInfo: { username: 'alice' },
    dryRun: false,
  };
}

export function createContext<T extends Named>(object: T): WriteContext<T> {
  return { ...base(object), operation: 'CREATE', object, oldObject: null };
}

export function updateContext<T extends Named>(oldObject: T, object: T): WriteContext<T> {
  return { ...base(object), operation: 'UPDATE', object, oldObject };
}

/** The AdmissionReview the apiserver sends for a create (or, with `oldObject`, an update) of `object`. */
export function admissionReview(object: Named, oldObject?: Named, uid = 'uid-1'): AdmissionReview {
  const def = kindByName(object.kind ?? '');
  if (def === undefined) throw new Error(`no Octopus kind ${object.kind}`);
  const { kind, name, namespace: ns, userInfo } = base(object);
  return {
    apiVersion: admissionApiVersion,
    kind: 'AdmissionReview',
    request: {
      uid,
      kind,
      resource: { group, version, resource: def.plural },
      name,
      ...(ns ? { namespace: ns } : {}),
      operation: oldObject ? 'UPDATE' : 'CREATE',
      userInfo,
      object,
      ...(oldObject ? { oldObject } : {}),
      dryRun: false,
    },
  };
}
