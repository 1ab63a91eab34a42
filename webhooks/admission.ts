/**
 * The admission contract: AdmissionReview v1 on the wire, the Validator/Mutator interfaces the
 * kinds implement, and the pure functions between them. Nothing here does I/O.
 */
import type { FieldError } from '../apis/octopus.openi.pcl.cn/v1alpha1/validation.js';

export const admissionApiVersion = 'admission.k8s.io/v1';

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface UserInfo {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

/** The request half of an AdmissionReview, as the apiserver sends it (fields we do not read are left out). */
export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: Operation;
  userInfo: UserInfo;
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
  options?: unknown;
}

export interface StatusCause {
  reason: 'FieldValueInvalid' | 'FieldValueForbidden';
  message: string;
  field: string;
}

/** metav1.Status as carried in `response.status` and in our 4xx bodies. */
export interface Status {
  apiVersion?: 'v1';
  kind?: 'Status';
  status: 'Failure';
  code: number;
  reason: string;
  message: string;
  details?: { name?: string; group?: string; kind?: string; causes: StatusCause[] };
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: Status;
  patchType?: 'JSONPatch';
  /** base64 of the JSON Patch document. */
  patch?: string;
  auditAnnotations?: Record<string, string>;
  warnings?: string[];
}

export interface AdmissionReview {
  apiVersion: typeof admissionApiVersion;
  kind: 'AdmissionReview';
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

// One shape for a violated rule, whether the CRD schema (apis/) or code here found it: `path` names the
// field as kubectl users write it, e.g. `spec.tasks[1].replicas`.
export type { FieldError };

/**
 * How a denial is reported: `Invalid` (422) for a malformed object, `Forbidden` (403) for a well-formed
 * one that policy refuses (quota, device policy, visibility), as the apiserver's own quota admission does.
 */
export type DenialReason = 'Invalid' | 'Forbidden';

export interface Verdict {
  /** Empty means allowed. */
  errors: FieldError[];
  /** @default 'Invalid' */
  reason?: DenialReason;
  /** Shown by kubectl as `Warning: …`; keep each under 120 characters. */
  warnings?: string[];
  /** Keys are prefixed by the apiserver with the webhook's name in the audit log. */
  auditAnnotations?: Record<string, string>;
}

interface ContextBase {
  uid: string;
  kind: GroupVersionKind;
  /** Empty on a CREATE that uses generateName. */
  name: string;
  /** Absent for cluster-scoped kinds. */
  namespace?: string;
  userInfo: UserInfo;
  dryRun: boolean;
}

/**
 * What a Validator or Mutator sees. `T` is a promise the caller makes, not a check: validating webhooks
 * run after the apiserver validated the object against the CRD schema; mutating webhooks run before.
 */
export type AdmissionContext<T = unknown> = ContextBase &
  (
    | { operation: 'CREATE'; object: T; oldObject: null }
    | { operation: 'UPDATE'; object: T; oldObject: T }
    | { operation: 'DELETE'; object: null; oldObject: T }
  );

export interface Validator<T = unknown> {
  validate(req: AdmissionContext<T>): Promise<Verdict>;
}

/** RFC 6902 operations; paths are JSON Pointers (see {@link jsonPointer}). */
export type JsonPatchOp =
  | { op: 'add' | 'replace' | 'test'; path: string; value: unknown }
  | { op: 'remove'; path: string }
  | { op: 'move' | 'copy'; from: string; path: string };

export interface Mutator<T = unknown> {
  /** Only what a schema default cannot do (labels, finalizers); never rewrite a user's spec. */
  mutate(req: AdmissionContext<T>): Promise<JsonPatchOp[]>;
}

/** Keyed by the lowercased Kind, which is also the last segment of the webhook path. */
export type ValidatorRegistry = Readonly<Record<string, Validator>>;
export type MutatorRegistry = Readonly<Record<string, Mutator>>;

/** `/metadata/labels/octopus.openi.pcl.cn~1job` from `['metadata', 'labels', 'octopus.openi.pcl.cn/job']`. */
export function jsonPointer(segments: readonly string[]): string {
  return segments.map((s) => '/' + s.replaceAll('~', '~0').replaceAll('/', '~1')).join('');
}

export type ParsedReview = { ok: true; context: AdmissionContext } | { ok: false; uid?: string; message: string };

const operations = new Set<string>(['CREATE', 'UPDATE', 'DELETE']);

/**
 * Checks the envelope and the request fields a Validator relies on. Returns the uid whenever the request
 * carries one, so the caller can still answer with a denied review the apiserver can match.
 */
export function parseAdmissionReview(body: unknown): ParsedReview {
  if (!isObject(body)) return { ok: false, message: 'body is not a JSON object' };
  const request = body.request;
  const uid = isObject(request) && typeof request.uid === 'string' && request.uid !== '' ? request.uid : undefined;
  const fail = (message: string): ParsedReview => (uid === undefined ? { ok: false, message } : { ok: false, uid, message });
  if (body.apiVersion !== admissionApiVersion || body.kind !== 'AdmissionReview') {
    return fail(`expected apiVersion ${admissionApiVersion}, kind AdmissionReview`);
  }
  if (!isObject(request)) return fail('request is missing');
  if (uid === undefined) return fail('request.uid is missing');
  const { kind, operation, userInfo } = request;
  if (!isObject(kind) || typeof kind.group !== 'string' || typeof kind.version !== 'string' || typeof kind.kind !== 'string') {
    return fail('request.kind must have string group, version and kind');
  }
  if (typeof operation !== 'string' || !operations.has(operation)) return fail(`unsupported request.operation ${JSON.stringify(operation)}`);
  if (!isUserInfo(userInfo)) return fail('request.userInfo is malformed');
  for (const field of ['name', 'namespace'] as const) {
    if (request[field] !== undefined && typeof request[field] !== 'string') return fail(`request.${field} must be a string`);
  }
  if (request.dryRun !== undefined && typeof request.dryRun !== 'boolean') return fail('request.dryRun must be a boolean');
  const needsObject = operation !== 'DELETE';
  const needsOld = operation !== 'CREATE';
  if (needsObject && !isObject(request.object)) return fail(`request.object must be an object for ${operation}`);
  if (needsOld && !isObject(request.oldObject)) return fail(`request.oldObject must be an object for ${operation}`);
  const base: ContextBase = {
    uid,
    kind: { group: kind.group, version: kind.version, kind: kind.kind },
    name: (request.name as string | undefined) ?? '',
    userInfo,
    dryRun: request.dryRun === true,
  };
  if (typeof request.namespace === 'string' && request.namespace !== '') base.namespace = request.namespace;
  const context = { ...base, operation, object: needsObject ? request.object : null, oldObject: needsOld ? request.oldObject : null };
  return { ok: true, context: context as AdmissionContext };
}

/** `spec.size: must be at most 10; spec.name: required` — what kubectl prints after "denied the request: ". */
export function formatFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => `${e.path}: ${e.message}`).join('; ');
}

const denial: Record<DenialReason, { code: number; cause: StatusCause['reason'] }> = {
  Invalid: { code: 422, cause: 'FieldValueInvalid' },
  Forbidden: { code: 403, cause: 'FieldValueForbidden' },
};

/** Turns a Validator's verdict into the response for request `ctx`. */
export function verdictResponse(ctx: Pick<AdmissionContext, 'uid' | 'kind' | 'name'>, verdict: Verdict): AdmissionResponse {
  const response: AdmissionResponse = { uid: ctx.uid, allowed: verdict.errors.length === 0 };
  if (!response.allowed) {
    const { code, cause } = denial[verdict.reason ?? 'Invalid'];
    response.status = {
      status: 'Failure',
      code,
      reason: verdict.reason ?? 'Invalid',
      message: formatFieldErrors(verdict.errors),
      details: {
        ...(ctx.name ? { name: ctx.name } : {}),
        group: ctx.kind.group,
        kind: ctx.kind.kind,
        causes: verdict.errors.map((e) => ({ reason: cause, message: e.message, field: e.path })),
      },
    };
  }
  const warnings = limitWarnings(verdict.warnings ?? []);
  if (warnings.length > 0) response.warnings = warnings;
  if (verdict.auditAnnotations && Object.keys(verdict.auditAnnotations).length > 0) response.auditAnnotations = verdict.auditAnnotations;
  return response;
}

/** Allows the request and applies `ops`; no ops means no patch fields at all. */
export function patchResponse(uid: string, ops: readonly JsonPatchOp[]): AdmissionResponse {
  if (ops.length === 0) return { uid, allowed: true };
  return { uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(ops)).toString('base64') };
}

/**
 * A denial the object's author did not cause (malformed review, no handler, handler crashed). With
 * failurePolicy Fail the apiserver would refuse anyway; answering keeps the message ours and readable.
 */
export function failureResponse(uid: string, code: 400 | 500, message: string): AdmissionResponse {
  return { uid, allowed: false, status: failureStatus(code, message) };
}

export function failureStatus(code: 400 | 404 | 413 | 415 | 500, message: string): Status {
  const reasons = { 400: 'BadRequest', 404: 'NotFound', 413: 'RequestEntityTooLarge', 415: 'UnsupportedMediaType', 500: 'InternalError' };
  return { status: 'Failure', code, reason: reasons[code], message };
}

export function toReview(response: AdmissionResponse): AdmissionReview {
  return { apiVersion: admissionApiVersion, kind: 'AdmissionReview', response };
}

// The apiserver truncates a warning past 256 characters and ignores all past 4096 in total, and drops
// warnings with control characters; doing the same here keeps what the user sees predictable.
export const maxWarningLength = 256;
export const maxWarningsTotal = 4096;

export function limitWarnings(warnings: readonly string[]): string[] {
  const out: string[] = [];
  let total = 0;
  for (const raw of warnings) {
    // eslint-disable-next-line no-control-regex -- control characters are exactly what must go
    let chars = Array.from(raw.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim());
    if (chars.length === 0) continue;
    if (chars.length > maxWarningLength) chars = [...chars.slice(0, maxWarningLength - 3), '...'];
    if (total + chars.length > maxWarningsTotal) break;
    total += chars.length;
    out.push(chars.join(''));
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isUserInfo(value: unknown): value is UserInfo {
  if (!isObject(value)) return false;
  const { username, uid, groups, extra } = value;
  return (
    (username === undefined || typeof username === 'string') &&
    (uid === undefined || typeof uid === 'string') &&
    (groups === undefined || (Array.isArray(groups) && groups.every((g) => typeof g === 'string'))) &&
    (extra === undefined || isObject(extra))
  );
}
