/**
 * Storage policy at the door (controllers/assets/storage-policy.ts): a Dataset, Algorithm or Model
 * version may name an in-place `nfs` export only where its Workspace's `spec.storage.nfs` allows it,
 * and every storage request (import claims, a Notebook's home, a Job's output) may name only a
 * StorageClass its `spec.storage.storageClasses` lists. The asset controllers re-check on every
 * reconcile, since the policy may narrow after an object got in.
 *
 * On UPDATE a version or request that is unchanged is not judged again, whatever its index: an
 * admin narrowing the policy must not block unrelated edits (the controller reports the version).
 */
import { isDeepStrictEqual } from 'node:util';
import type { Algorithm, Dataset, Job, Model, Notebook } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { nfsProblem, storageClassProblem, type StoragePolicy } from '../../controllers/assets/storage-policy.js';
import type { FieldError } from '../admission.js';
import type { Check } from './check.js';

type Storing = Dataset | Algorithm | Model | Job | Notebook;

interface StorageRequest {
  storageClassName?: string;
}

interface VersionLike {
  name: string;
  source?: { nfs?: { server: string; path: string } };
  storage?: StorageRequest;
}

/** The storage requests of `obj` by field path, besides its versions'. */
function requests(obj: Storing): [string, StorageRequest | undefined][] {
  switch (obj.kind) {
    case 'Job':
      return [['spec.output.model.storage', (obj as Job).spec.output?.model?.storage]];
    case 'Notebook':
      return [['spec.homeStorage', (obj as Notebook).spec.homeStorage]];
    default:
      return [['spec.storage', (obj as Dataset).spec.storage]];
  }
}

function versions(obj: Storing | null | undefined): VersionLike[] {
  if (!obj || obj.kind === 'Job' || obj.kind === 'Notebook') return [];
  return ((obj as Dataset).spec?.versions ?? []) as VersionLike[];
}

function classError(policy: StoragePolicy | undefined, namespace: string, path: string, request: StorageRequest | undefined): FieldError[] {
  const problem = storageClassProblem(policy, namespace, request?.storageClassName);
  return problem ? [{ path: `${path}.storageClassName`, message: problem }] : [];
}

export const validateStorage: Check<Storing> = (ctx, lookups) => {
  const namespace = ctx.namespace;
  if (namespace === undefined) return { errors: [] };
  const policy = lookups.storagePolicy(namespace);
  const old = ctx.operation === 'UPDATE' ? ctx.oldObject : undefined;
  const oldRequests = new Map(old ? requests(old) : []);
  const oldVersions = new Map(versions(old).map((v) => [v.name, v]));
  const errors: FieldError[] = [];
  for (const [path, request] of requests(ctx.object)) {
    if (old && isDeepStrictEqual(oldRequests.get(path), request)) continue;
    errors.push(...classError(policy, namespace, path, request));
  }
  versions(ctx.object).forEach((version, i) => {
    const before = oldVersions.get(version.name);
    const path = `spec.versions[${i}]`;
    const nfs = version.source?.nfs;
    if (nfs && !(before && isDeepStrictEqual(before.source?.nfs, nfs))) {
      const problem = nfsProblem(policy, namespace, nfs);
      if (problem) errors.push({ path: `${path}.source.nfs`, message: problem });
    }
    if (!(before && isDeepStrictEqual(before.storage, version.storage))) errors.push(...classError(policy, namespace, `${path}.storage`, version.storage));
  });
  return { errors };
};
