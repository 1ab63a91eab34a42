export * from './common.js';
export * from './kind.js';
export * from './assets.js';
export * from './image.js';
export * from './workloads.js';
export * from './admin.js';
export { customResourceDefinition } from './crd.js';

import { Algorithm, Dataset, Model } from './assets.js';
import { Image } from './image.js';
import { Job, ModelService, Notebook } from './workloads.js';
import { DevicePolicy, Quota, ResourcePool, ResourceSpec, WorkloadPriorityClass, Workspace } from './admin.js';
import type { KindDefinition } from './kind.js';

/** Every Octopus kind, in the order users meet them. */
export const allKinds: readonly KindDefinition[] = [
  Dataset,
  Algorithm,
  Image,
  Model,
  Job,
  Notebook,
  ModelService,
  Quota,
  Workspace,
  ResourcePool,
  ResourceSpec,
  DevicePolicy,
  WorkloadPriorityClass,
];

export function kindByName(kind: string): KindDefinition | undefined {
  return allKinds.find((k) => k.kind === kind);
}
