/**
 * The kinds the webhooks serve: every Octopus kind gets a validating webhook (its CRD schema unless the
 * apiserver applied it, then the rules below), and every namespaced one a mutating webhook that adds the workspace label. Each rule is a
 * pure function of the request and the cache lookups; `octopusAdmission` binds them to one set of caches.
 */
import {
  Algorithm,
  allKinds,
  Dataset,
  DevicePolicy,
  Image,
  Job,
  Model,
  ModelService,
  Notebook,
  Quota,
  ResourcePool,
  ResourceSpec,
  WorkloadPriorityClass,
  Workspace,
  type KindDefinition,
} from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { defaultIngressDomain } from '../../controllers/modelservice/expose.js';
import type { Mutator, MutatorRegistry, Validator, ValidatorRegistry } from '../admission.js';
import { kindKey, type WebhookKind } from '../registration.js';
import { kindValidator, type Check, type KindRules, type SchemaJudged } from './check.js';
import { validateAdmittedService } from './admitted-service.js';
import { validateLendingLimit } from './cohort.js';
import { validateDevicePolicy } from './device-policy.js';
import { validateIngressHost } from './hosts.js';
import { validateImageBuild } from './image-build.js';
import { validateAdmittedJob, validateAdmittedNotebook } from './immutability.js';
import type { Lookups } from './lookups.js';
import { validateMembers } from './members.js';
import { validatePodMetadata } from './pod-metadata.js';
import { validatePriorityClass, warnPriorityValueChanged } from './priority-class.js';
import { validateQuota, warnQuotaLowered } from './quota.js';
import { validateResources } from './resources.js';
import { validateVisibility } from './visibility.js';
import { warnAsset, warnJob, warnWorkspace } from './warnings.js';
import { rememberedGangs } from './workload.js';
import { addWorkspaceLabel, validateWorkspaceLabel } from './workspace-label.js';
import { validateStorage } from './storage.js';
import { validateWorkspacePools } from './workspace-pools.js';

// Each rule is written for the kinds it lists; the registry below only hands it those kinds' requests.
type AnyCheck = Check<never>;
const rules = (fields: AnyCheck[], policy: AnyCheck[] = []): KindRules<never> => ({ fields, policy });

function kindRules(platform: Platform): Map<KindDefinition, KindRules<never>> {
  const hosts = validateIngressHost(platform.ingressDomain);
  const gangs = rememberedGangs();
  const gangPolicy: AnyCheck[] = [validateWorkspacePools, validatePriorityClass, validateVisibility, validateQuota(gangs), validateDevicePolicy(gangs)];
  return new Map<KindDefinition, KindRules<never>>([
    [Dataset, rules([warnAsset], [validateStorage])],
    [Algorithm, rules([warnAsset], [validateStorage])],
    [Image, rules([warnAsset], [validateImageBuild(platform.buildRegistry ?? '')])],
    [Model, rules([warnAsset], [validateStorage])],
    [Job, rules([validateResources, validateAdmittedJob, warnJob], [...gangPolicy, validateStorage])],
    [Notebook, rules([validateResources, validateAdmittedNotebook], [...gangPolicy, validateStorage, hosts])],
    [ModelService, rules([validateResources, validateAdmittedService], [...gangPolicy, hosts])],
    [Quota, rules([validateResources, validateLendingLimit, warnQuotaLowered])],
    [Workspace, rules([validateMembers, validateLendingLimit, warnWorkspace])],
    [ResourcePool, rules([])],
    [ResourceSpec, rules([validateResources])],
    [DevicePolicy, rules([])],
    [WorkloadPriorityClass, rules([warnPriorityValueChanged])],
  ]);
}

export interface OctopusAdmission {
  kinds: readonly WebhookKind[];
  validators: ValidatorRegistry;
  mutators: MutatorRegistry;
}

const labeler: Mutator = { mutate: async (ctx) => addWorkspaceLabel(ctx) };

/** What the platform was installed with, as the controller also knows it. */
export interface Platform {
  /** Domain of derived ingress hosts (the controller's --ingress-domain). */
  ingressDomain: string;
  /** Registry builds push under (the controller's --build-registry); unset leaves destinations to the controller alone. */
  buildRegistry?: string;
}

export interface AdmissionOptions {
  /**
   * Served webhooks leave the CRD schema to the apiserver, which applied it before calling them; validating
   * objects that never went through an apiserver (examples/) needs `nobody`. See {@link SchemaJudged}.
   * @default 'apiserver'
   */
  schemaJudgedBy?: SchemaJudged;
}

export function octopusAdmission(lookups: Lookups, platform: Platform = { ingressDomain: defaultIngressDomain }, options: AdmissionOptions = {}): OctopusAdmission {
  const validators: Record<string, Validator> = {};
  const mutators: Record<string, Mutator> = {};
  const byKind = kindRules(platform);
  for (const def of allKinds) {
    const own = byKind.get(def);
    if (own === undefined) throw new Error(`no admission rules for kind ${def.kind}`);
    const namespaced = def.scope === 'Namespaced';
    const fields = namespaced ? [validateWorkspaceLabel, validatePodMetadata, ...own.fields] : own.fields;
    validators[kindKey(def.kind)] = kindValidator(def, { fields, policy: own.policy }, lookups, options.schemaJudgedBy ?? 'apiserver') as Validator;
    if (namespaced) mutators[kindKey(def.kind)] = labeler;
  }
  return { kinds: allKinds, validators, mutators };
}
