import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from '@jest/globals';
import { TerminalError, apiStatusCode, isAlreadyExists, isConflict, isGone, isNotFound, isTerminal } from './errors.js';

const apiError = (code: number, reason?: string) => new ApiException(code, `HTTP ${code}`, { kind: 'Status', reason }, {});

describe('apiserver error predicates', () => {
  it.each([
    { name: '404', err: apiError(404, 'NotFound'), want: { notFound: true, conflict: false, exists: false, gone: false } },
    { name: '409 Conflict', err: apiError(409, 'Conflict'), want: { notFound: false, conflict: true, exists: false, gone: false } },
    { name: '409 AlreadyExists', err: apiError(409, 'AlreadyExists'), want: { notFound: false, conflict: false, exists: true, gone: false } },
    { name: '410 from a watch', err: Object.assign(new Error('Gone'), { statusCode: 410 }), want: { notFound: false, conflict: false, exists: false, gone: true } },
    { name: 'a wrapped 404', err: new Error('reading x', { cause: apiError(404) }), want: { notFound: true, conflict: false, exists: false, gone: false } },
    { name: 'a plain error', err: new Error('boom'), want: { notFound: false, conflict: false, exists: false, gone: false } },
  ])('$name', ({ err, want }) => {
    expect({ notFound: isNotFound(err), conflict: isConflict(err), exists: isAlreadyExists(err), gone: isGone(err) }).toEqual(want);
  });

  it('has no status code for errors that are not from the apiserver', () => {
    expect(apiStatusCode(undefined)).toBeUndefined();
    expect(apiStatusCode('text')).toBeUndefined();
  });
});

describe('isTerminal', () => {
  it.each([
    { name: 'a TerminalError', err: new TerminalError('invalid spec'), want: true },
    { name: 'a wrapped TerminalError', err: new Error('reconcile', { cause: new TerminalError('invalid spec') }), want: true },
    { name: 'any other error', err: apiError(500), want: false },
  ])('$name → $want', ({ err, want }) => {
    expect(isTerminal(err)).toBe(want);
  });
});
