/**
 * Risky but legal: edits the platform accepts, whose consequence a user may not have in mind. They are
 * warnings (kubectl prints `Warning: …`), never denials, and each is said when the edit is made, not on
 * every later update.
 */
import type { Algorithm, Dataset, Image, Job, Model, Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { Check } from './check.js';

/** More whole-gang restarts than this can hold a quota for a long time on a job that keeps failing. */
export const maxRetriesWarningAbove = 10;

const running = new Set(['Admitted', 'Running', 'Restarting']);

export const warnJob: Check<Job> = (ctx) => {
  const warnings: string[] = [];
  const old = ctx.operation === 'UPDATE' ? ctx.oldObject : undefined;
  const retries = ctx.object.spec.policy?.maxRetries ?? 0;
  if (retries > maxRetriesWarningAbove && retries !== old?.spec.policy?.maxRetries) {
    warnings.push(`spec.policy.maxRetries: ${retries} restarts of the whole gang can hold quota for a long time; more than ${maxRetriesWarningAbove} is rarely useful`);
  }
  const phase = old?.status?.phase;
  if (ctx.object.spec.suspend === true && old?.spec.suspend !== true && phase !== undefined && running.has(phase)) {
    warnings.push(`spec.suspend: stops the ${phase.toLowerCase()} job: its pods are deleted (unsaved progress is lost) and its quota released until it is resumed`);
  }
  return { errors: [], warnings };
};

type Asset = Dataset | Algorithm | Model | Image;

export const warnAsset: Check<Asset> = (ctx) => {
  if (ctx.operation !== 'UPDATE') return { errors: [] };
  const warnings: string[] = [];
  const { object, oldObject } = ctx;
  const what = `${ctx.kind.kind} ${ctx.namespace}/${ctx.name}`;
  if ((oldObject.spec.visibility ?? 'Private') === 'Public' && (object.spec.visibility ?? 'Private') !== 'Public') {
    warnings.push(`spec.visibility: other namespaces can no longer start workloads with ${what}`);
  }
  const kept = new Set(versionNames(object));
  const removed = versionNames(oldObject).filter((v) => !kept.has(v));
  if (removed.length > 0) {
    warnings.push(`spec.versions: removing version ${removed.join(', ')} of ${what} deletes its imported content; workloads using it can no longer start`);
  }
  return { errors: [], warnings };
};

function versionNames(asset: Asset): string[] {
  const versions = 'versions' in asset.spec ? asset.spec.versions : undefined;
  return (versions ?? []).map((v) => v.name);
}

export const warnWorkspace: Check<Workspace> = (ctx) => {
  const warnings: string[] = [];
  const before = ctx.operation === 'UPDATE' ? ctx.oldObject.spec : undefined;
  const { spec } = ctx.object;
  // The apiserver always sends metadata; the schema alone does not require it.
  const namespace = ctx.object.metadata?.name ?? ctx.name;
  if (spec.deletionPolicy === 'Delete' && before?.deletionPolicy !== 'Delete') {
    warnings.push(`spec.deletionPolicy: deleting this Workspace will delete namespace ${namespace} and everything in it`);
  }
  if (spec.podSecurity === 'privileged' && before?.podSecurity !== 'privileged') {
    warnings.push(`spec.podSecurity: pods in namespace ${namespace} may run privileged, with host access`);
  }
  return { errors: [], warnings };
};
