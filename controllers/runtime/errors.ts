import { ApiException } from '@kubernetes/client-node';

/**
 * An error that retrying cannot fix (an invalid spec, a missing reference the user must add).
 * The controller logs it and does not requeue; the next change to the object triggers a new reconcile.
 */
export class TerminalError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

/** Walks `err` and its causes, since errors are wrapped with `new Error(msg, { cause })` on their way up. */
function* causeChain(err: unknown): Generator<unknown> {
  const seen = new Set<unknown>();
  for (let current = err; current !== undefined && current !== null && !seen.has(current); current = (current as { cause?: unknown }).cause) {
    seen.add(current);
    yield current;
  }
}

export function isTerminal(err: unknown): boolean {
  for (const e of causeChain(err)) if (e instanceof TerminalError) return true;
  return false;
}

/** The HTTP status of an apiserver error: `ApiException.code`, or `statusCode` as client-node's Watch reports it. */
export function apiStatusCode(err: unknown): number | undefined {
  for (const e of causeChain(err)) {
    if (e instanceof ApiException) return e.code;
    const statusCode = (e as { statusCode?: unknown }).statusCode;
    if (typeof statusCode === 'number') return statusCode;
  }
  return undefined;
}

/** The `reason` of the Status object an apiserver error carries, e.g. `AlreadyExists`. */
export function apiStatusReason(err: unknown): string | undefined {
  for (const e of causeChain(err)) {
    if (e instanceof ApiException) {
      const reason = (e.body as { reason?: unknown } | undefined)?.reason;
      return typeof reason === 'string' ? reason : undefined;
    }
  }
  return undefined;
}

export function isNotFound(err: unknown): boolean {
  return apiStatusCode(err) === 404;
}

/** A write lost an optimistic-concurrency race (stale resourceVersion): re-read and retry. */
export function isConflict(err: unknown): boolean {
  return apiStatusCode(err) === 409 && apiStatusReason(err) !== 'AlreadyExists';
}

export function isAlreadyExists(err: unknown): boolean {
  return apiStatusCode(err) === 409 && apiStatusReason(err) === 'AlreadyExists';
}

/** The resourceVersion is too old for the apiserver to serve: relist. */
export function isGone(err: unknown): boolean {
  return apiStatusCode(err) === 410;
}
