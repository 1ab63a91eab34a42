import { describe, expect, it } from '@jest/globals';
import {
  failureResponse,
  formatFieldErrors,
  jsonPointer,
  limitWarnings,
  maxWarningLength,
  parseAdmissionReview,
  patchResponse,
  toReview,
  verdictResponse,
  type JsonPatchOp,
  type Verdict,
} from './admission.js';
import { makeGadgetReview } from './testing/gadgets.js';

const gadget = { apiVersion: 'webhook-test.octopus.openi.pcl.cn/v1alpha1', kind: 'Gadget', metadata: { name: 'g' }, spec: { size: 3 } };
const gvk = { group: 'webhook-test.octopus.openi.pcl.cn', version: 'v1alpha1', kind: 'Gadget' };

/** A well-formed review of `gadget`; `request` overrides request fields (undefined leaves one out), `envelope` top-level ones. */
function makeReview(request: Record<string, unknown> = {}, envelope: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...makeGadgetReview(3, { userInfo: { username: 'alice', groups: ['team-a'] }, dryRun: false, ...request }), ...envelope };
}

describe('parseAdmissionReview', () => {
  it.each([
    ['CREATE', {}, { operation: 'CREATE', object: gadget, oldObject: null }],
    ['UPDATE', { operation: 'UPDATE', oldObject: { ...gadget, spec: { size: 2 } } }, { operation: 'UPDATE', object: gadget, oldObject: { ...gadget, spec: { size: 2 } } }],
    ['DELETE ignores a stray object', { operation: 'DELETE', oldObject: gadget }, { operation: 'DELETE', object: null, oldObject: gadget }],
    ['dry run', { dryRun: true }, { dryRun: true }],
    ['dryRun absent', { dryRun: undefined }, { dryRun: false }],
    ['generateName: no name yet', { name: undefined }, { name: '' }],
  ])('accepts %s', (_case, patch, want) => {
    const got = parseAdmissionReview(makeReview(patch));
    expect(got).toEqual({ ok: true, context: expect.objectContaining({ uid: 'uid-1', userInfo: { username: 'alice', groups: ['team-a'] }, ...want }) });
  });

  it('carries kind and namespace; leaves namespace out for cluster-scoped kinds', () => {
    const namespaced = parseAdmissionReview(makeReview());
    const cluster = parseAdmissionReview(makeReview({ namespace: '' }));
    expect(namespaced.ok && namespaced.context).toMatchObject({ namespace: 'team-a', kind: gvk });
    expect(cluster.ok && 'namespace' in cluster.context).toBe(false);
  });

  it.each<[string, unknown, string | undefined, string]>([
    ['null', null, undefined, 'not a JSON object'],
    ['an array', [makeReview()], undefined, 'not a JSON object'],
    ['a string', 'AdmissionReview', undefined, 'not a JSON object'],
    ['v1beta1', makeReview({}, { apiVersion: 'admission.k8s.io/v1beta1' }), 'uid-1', 'expected apiVersion admission.k8s.io/v1'],
    ['another kind', makeReview({}, { kind: 'TokenReview' }), 'uid-1', 'kind AdmissionReview'],
    ['no request', makeReview({}, { request: undefined }), undefined, 'request is missing'],
    ['request an array', makeReview({}, { request: [] }), undefined, 'request is missing'],
    ['no uid', makeReview({ uid: undefined }), undefined, 'request.uid is missing'],
    ['empty uid', makeReview({ uid: '' }), undefined, 'request.uid is missing'],
    ['numeric uid', makeReview({ uid: 42 }), undefined, 'request.uid is missing'],
    ['no kind', makeReview({ kind: undefined }), 'uid-1', 'request.kind'],
    ['kind.group a number', makeReview({ kind: { group: 1, version: 'v1', kind: 'Gadget' } }), 'uid-1', 'request.kind'],
    ['CONNECT', makeReview({ operation: 'CONNECT' }), 'uid-1', 'unsupported request.operation "CONNECT"'],
    ['lower-case operation', makeReview({ operation: 'create' }), 'uid-1', 'unsupported request.operation'],
    ['no userInfo', makeReview({ userInfo: undefined }), 'uid-1', 'request.userInfo'],
    ['groups not strings', makeReview({ userInfo: { username: 'a', groups: [1] } }), 'uid-1', 'request.userInfo'],
    ['username a number', makeReview({ userInfo: { username: 7 } }), 'uid-1', 'request.userInfo'],
    ['name a number', makeReview({ name: 5 }), 'uid-1', 'request.name must be a string'],
    ['namespace an object', makeReview({ namespace: {} }), 'uid-1', 'request.namespace must be a string'],
    ['dryRun a string', makeReview({ dryRun: 'true' }), 'uid-1', 'request.dryRun must be a boolean'],
    ['CREATE without object', makeReview({ object: undefined }), 'uid-1', 'request.object must be an object for CREATE'],
    ['CREATE with an array', makeReview({ object: [gadget] }), 'uid-1', 'request.object must be an object'],
    ['UPDATE without oldObject', makeReview({ operation: 'UPDATE' }), 'uid-1', 'request.oldObject must be an object for UPDATE'],
    ['DELETE without oldObject', makeReview({ operation: 'DELETE' }), 'uid-1', 'request.oldObject must be an object for DELETE'],
  ])('rejects %s', (_case, body, wantUid, wantMessage) => {
    const got = parseAdmissionReview(body);
    expect(got.ok).toBe(false);
    if (got.ok) return;
    expect(got.uid).toBe(wantUid);
    expect(got.message).toContain(wantMessage);
  });
});

describe('formatFieldErrors', () => {
  it.each([
    [[], ''],
    [[{ path: 'spec.size', message: 'must be at most 10' }], 'spec.size: must be at most 10'],
    [
      [
        { path: 'spec.tasks[1].replicas', message: 'must be at least 1' },
        { path: 'spec.pool', message: 'required' },
      ],
      'spec.tasks[1].replicas: must be at least 1; spec.pool: required',
    ],
  ])('%j → %s', (errors, want) => {
    expect(formatFieldErrors(errors)).toBe(want);
  });
});

describe('verdictResponse', () => {
  const ctx = { uid: 'u', kind: gvk, name: 'g' };
  const sizeError = { path: 'spec.size', message: 'must be at most 10' };

  it.each<[string, Verdict, Record<string, unknown>]>([
    ['allowed', { errors: [] }, { uid: 'u', allowed: true }],
    ['allowed with a warning', { errors: [], warnings: ['spec.size: at the limit'] }, { uid: 'u', allowed: true, warnings: ['spec.size: at the limit'] }],
    ['empty audit annotations left out', { errors: [], auditAnnotations: {} }, { uid: 'u', allowed: true }],
    ['audit annotations kept', { errors: [], auditAnnotations: { quota: 'ok' } }, { uid: 'u', allowed: true, auditAnnotations: { quota: 'ok' } }],
    [
      'invalid by default: 422',
      { errors: [sizeError] },
      {
        uid: 'u',
        allowed: false,
        status: {
          status: 'Failure',
          code: 422,
          reason: 'Invalid',
          message: 'spec.size: must be at most 10',
          details: { name: 'g', group: gvk.group, kind: 'Gadget', causes: [{ reason: 'FieldValueInvalid', message: 'must be at most 10', field: 'spec.size' }] },
        },
      },
    ],
    [
      'forbidden by policy: 403',
      { errors: [{ path: 'spec.tasks[0].resources', message: 'nvidia.com/gpu: requested 16, limit 8' }], reason: 'Forbidden', warnings: ['w'] },
      {
        uid: 'u',
        allowed: false,
        warnings: ['w'],
        status: expect.objectContaining({
          code: 403,
          reason: 'Forbidden',
          message: 'spec.tasks[0].resources: nvidia.com/gpu: requested 16, limit 8',
          details: expect.objectContaining({ causes: [expect.objectContaining({ reason: 'FieldValueForbidden' })] }),
        }),
      },
    ],
  ])('%s', (_case, verdict, want) => {
    expect(verdictResponse(ctx, verdict)).toEqual(want);
  });

  it('leaves details.name out when the object has no name yet', () => {
    const got = verdictResponse({ ...ctx, name: '' }, { errors: [sizeError] });
    expect(got.status?.details).not.toHaveProperty('name');
  });
});

describe('limitWarnings', () => {
  const long = 'x'.repeat(300);
  it.each<[string, string[], string[]]>([
    ['passes short ones through', ['a', 'b'], ['a', 'b']],
    ['drops empty ones', ['', '  ', 'a'], ['a']],
    ['replaces control characters', ['line\nbreak\ttab\u0007bell'], ['line break tab bell']],
    ['truncates past 256 characters', [long], ['x'.repeat(maxWarningLength - 3) + '...']],
    ['counts characters, not bytes', ['é'.repeat(256)], ['é'.repeat(256)]],
    ['stops past 4096 characters in total', Array.from({ length: 20 }, () => 'y'.repeat(250)), Array.from({ length: 16 }, () => 'y'.repeat(250))],
  ])('%s', (_case, warnings, want) => {
    expect(limitWarnings(warnings)).toEqual(want);
  });
});

describe('patchResponse', () => {
  it('allows without patch fields when there is nothing to patch', () => {
    expect(patchResponse('u', [])).toEqual({ uid: 'u', allowed: true });
  });

  it('base64-encodes the JSON Patch', () => {
    const ops: JsonPatchOp[] = [{ op: 'add', path: '/metadata/labels/a', value: 'b' }];
    const got = patchResponse('u', ops);
    expect(got).toMatchObject({ uid: 'u', allowed: true, patchType: 'JSONPatch' });
    expect(JSON.parse(Buffer.from(got.patch ?? '', 'base64').toString())).toEqual(ops);
  });
});

describe('failureResponse', () => {
  it.each([
    [400, 'BadRequest'],
    [500, 'InternalError'],
  ] as const)('%d is %s, denied, wrapped as an AdmissionReview v1', (code, wantReason) => {
    expect(toReview(failureResponse('u', code, 'why'))).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'u', allowed: false, status: { status: 'Failure', code, reason: wantReason, message: 'why' } },
    });
  });
});

describe('jsonPointer', () => {
  it.each([
    [['metadata', 'labels'], '/metadata/labels'],
    [['metadata', 'labels', 'octopus.openi.pcl.cn/job'], '/metadata/labels/octopus.openi.pcl.cn~1job'],
    [['a~b', 'c/d~'], '/a~0b/c~1d~0'],
    [['metadata', 'finalizers', '-'], '/metadata/finalizers/-'],
  ])('%j → %s', (segments, want) => {
    expect(jsonPointer(segments)).toBe(want);
  });
});
