/** Builders of assets and of the children's observed state, for unit and integration tests. */
import type { V1Job, V1JobCondition, V1Pod } from '@kubernetes/client-node';
import { apiVersion, type Image } from '../../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { ControllerOptions } from '../../options.js';
import type { AssetKindName, AssetSpec, VersionSource, VersionSpec, VersionedAsset } from '../types.js';

export const testOptions = {
  importerImage: 'registry.test/importer:1',
  importerCommand: 'octopus-data import',
  importStorageSize: '10Gi',
  importStorageClass: '',
  importCpu: '500m',
  importMemory: '1Gi',
  s3Endpoint: 'https://s3.test',
  runAsUser: 1000,
  builderImage: 'registry.test/builder:1',
  buildRegistry: 'registry.test/octopus',
  buildPushSecret: 'push-secret',
} satisfies Partial<ControllerOptions>;

export function version(name: string, source: VersionSource, extra: Partial<VersionSpec> = {}): VersionSpec {
  return { name, source, ...extra };
}

/** An asset as the apiserver would hold it (uid and generation set), in namespace `ns`. */
export function asset(kind: AssetKindName, name: string, spec: AssetSpec, ns = 'team-a'): VersionedAsset {
  return { apiVersion, kind, metadata: { name, namespace: ns, uid: `uid-${name}`, generation: 1 }, spec };
}

export function image(name: string, spec: Image['spec'], generation = 1, ns = 'team-a'): Image {
  return { apiVersion, kind: 'Image', metadata: { name, namespace: ns, uid: `uid-${name}`, generation }, spec };
}

/** A batch/v1 Job's observed state: counts and the final condition, if any. */
export function jobState(state: { failed?: number; backoffLimit?: number; condition?: 'Complete' | 'Failed'; conditionReason?: string; conditionMessage?: string; completionTime?: string }): V1Job {
  const conditions: V1JobCondition[] = state.condition
    ? [{ type: state.condition, status: 'True', ...(state.conditionReason && { reason: state.conditionReason }), ...(state.conditionMessage && { message: state.conditionMessage }) }]
    : [];
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'job', namespace: 'team-a', uid: 'job-uid' },
    spec: { backoffLimit: state.backoffLimit ?? 2, template: {} },
    status: {
      ...(state.failed !== undefined && { failed: state.failed }),
      conditions,
      ...(state.completionTime && { completionTime: state.completionTime as unknown as Date }),
    },
  };
}

/** A pod of a Job in `phase`, with the container's termination message. */
export function pod(phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed', message?: string, finishedAt = '2025-01-01T00:00:00Z'): V1Pod {
  const terminated = phase === 'Succeeded' || phase === 'Failed';
  return {
    metadata: { name: `pod-${phase}-${finishedAt}` },
    status: {
      phase,
      containerStatuses: terminated
        ? [{ name: 'import', image: 'x', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: phase === 'Failed' ? 1 : 0, finishedAt: finishedAt as unknown as Date, ...(message !== undefined && { message }) } } }]
        : [],
    },
  };
}
