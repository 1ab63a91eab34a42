import { createHash } from 'node:crypto';
import { ApiException, type KubernetesObject } from '@kubernetes/client-node';
import type { ObjectClient } from './client.js';
import { apiStatusCode, isNotFound } from './errors.js';
import { isControlledBy } from './owner.js';

/**
 * The hash of the last applied intent, kept on the object: a field the controller stops setting
 * (a label, an annotation) leaves no trace a comparison with the live object could see, but it
 * changes the hash.
 */
export const desiredHashAnnotation = 'octopus.openi.pcl.cn/desired-hash';

/** Leaves that differ as JSON but mean the same to the apiserver, e.g. quantities "1000m" and "1". */
export type Equivalent = (desired: unknown, actual: unknown, path: readonly string[]) => boolean;

/** Go's omitempty drops these: a desired `readOnly: false` or `tolerations: []` is absent from the live object. */
function isZero(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === 'object' && Object.keys(value).length === 0;
}

/**
 * True when `actual` holds every field `desired` sets, with the same value. Fields only `actual`
 * has (defaults, status, fields of other managers) do not matter; arrays must match element by
 * element, each element in the same sense.
 */
export function holdsDesired(desired: unknown, actual: unknown, equivalent?: Equivalent, path: readonly string[] = []): boolean {
  if (desired === actual) return true;
  if (isZero(desired) && (actual === undefined || isZero(actual))) return true;
  if (Array.isArray(desired)) {
    return Array.isArray(actual) && desired.length === actual.length && desired.every((item, i) => holdsDesired(item, actual[i], equivalent, [...path, String(i)]));
  }
  if (typeof desired === 'object' && desired !== null) {
    if (typeof actual !== 'object' || actual === null || Array.isArray(actual)) return false;
    const live = actual as Record<string, unknown>;
    return Object.entries(desired).every(([key, value]) => holdsDesired(value, live[key], equivalent, [...path, key]));
  }
  return equivalent?.(desired, actual, path) ?? false;
}

/** JSON with object keys sorted, so equal intents hash equally whatever order they were built in. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** `desired` with the hash of itself in `desiredHashAnnotation`. */
export function withDesiredHash<T extends KubernetesObject>(desired: T): T {
  const hash = createHash('sha256').update(canonicalJson(desired)).digest('hex').slice(0, 16);
  return { ...desired, metadata: { ...desired.metadata, annotations: { ...(desired.metadata?.annotations ?? {}), [desiredHashAnnotation]: hash } } };
}

/**
 * Server-side applies `desired` unless `cached` (the informer's copy, undefined when absent)
 * already holds it: a steady cluster costs no writes, while an edit by someone else to a field
 * the controller sets, or a change of intent, is applied. Returns whether it wrote.
 */
export async function applyIfChanged<T extends KubernetesObject>(client: ObjectClient, desired: T, cached: T | undefined, equivalent?: Equivalent): Promise<boolean> {
  const intent = withDesiredHash(desired);
  if (cached && holdsDesired(intent, cached, equivalent)) return false;
  await client.applyObject(intent);
  return true;
}

/** Why the apiserver refused a write that retrying cannot fix (invalid object, admission denied), or undefined for any other error. */
export function refusal(err: unknown): string | undefined {
  const code = apiStatusCode(err);
  if (code !== 400 && code !== 403 && code !== 422) return undefined;
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if (e instanceof ApiException) return (e.body as { message?: string } | undefined)?.message ?? e.message;
  }
  return String(err);
}

export interface ChildProblem {
  /**
   * NameConflict: someone else's object has the name; Refused: the apiserver refused it;
   * HostNotAllowed, HostConflict: an Ingress host the workload may not claim, or someone else routes.
   */
  reason: 'NameConflict' | 'Refused' | 'HostNotAllowed' | 'HostConflict';
  message: string;
}

export interface OwnedChildResult {
  wrote: boolean;
  /** Set when nothing could be written, and retrying would not help until something else changes. */
  problem?: ChildProblem;
}

/**
 * `applyIfChanged` for a child `owner` controls, which never takes over an object of the same name
 * someone else made. Caches of children usually select on a label, so an absent child is looked up
 * once more before it is created.
 */
export async function applyOwnedChild<T extends KubernetesObject>(client: ObjectClient, owner: KubernetesObject, desired: T, cached: T | undefined, equivalent?: Equivalent): Promise<OwnedChildResult> {
  const what = `${desired.kind} ${desired.metadata?.name}`;
  let live = cached;
  if (!live) {
    try {
      live = await client.get<T>(await client.resourceFor(desired), desired.metadata!.name!, desired.metadata?.namespace);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  if (live && !isControlledBy(live, owner)) {
    return { wrote: false, problem: { reason: 'NameConflict', message: `${what} exists and is not owned by ${owner.kind} ${owner.metadata?.name}` } };
  }
  try {
    return { wrote: await applyIfChanged(client, desired, live, equivalent) };
  } catch (err) {
    const refused = refusal(err);
    if (refused === undefined) throw err;
    return { wrote: false, problem: { reason: 'Refused', message: `${what} was refused: ${refused}` } };
  }
}
