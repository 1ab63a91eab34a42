/**
 * Why an import or export failed, as the version's condition shows it: a CamelCase reason and a
 * message. The mappings from what a source says (an S3 error code, an HTTP status, git's stderr)
 * are pure, so each is a table test.
 */

/** A failure the user can act on; `permanent` when retrying the same pod cannot help. */
export class DataError extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly permanent = false,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'DataError';
  }
}

/** Exit code of a permanent failure: the import Job's pod failure policy fails the Job at once on it. */
export const permanentExitCode = 3;

interface S3LikeError {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

const s3Reasons: Record<string, { reason: string; permanent: boolean }> = {
  NoSuchBucket: { reason: 'NoSuchBucket', permanent: true },
  NoSuchKey: { reason: 'NotFound', permanent: true },
  NotFound: { reason: 'NotFound', permanent: true },
  AccessDenied: { reason: 'AccessDenied', permanent: true },
  Forbidden: { reason: 'AccessDenied', permanent: true },
  InvalidAccessKeyId: { reason: 'InvalidCredentials', permanent: true },
  SignatureDoesNotMatch: { reason: 'InvalidCredentials', permanent: true },
  InvalidBucketName: { reason: 'InvalidBucketName', permanent: true },
  CredentialsProviderError: { reason: 'MissingCredentials', permanent: true },
};

const networkCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE']);

/** What an S3 client error means for the version; `where` names the bucket or object. */
export function s3Failure(err: unknown, where: string): DataError {
  if (err instanceof DataError) return err;
  const e = (err ?? {}) as S3LikeError;
  const code = e.Code ?? e.name ?? '';
  const known = s3Reasons[code];
  const detail = e.message && e.message !== code && e.message !== 'UnknownError' ? `: ${e.message}` : '';
  if (known) return new DataError(known.reason, `${where}: ${code}${detail}`, known.permanent, { cause: err });
  const status = e.$metadata?.httpStatusCode;
  if (status === 403) return new DataError('AccessDenied', `${where}: HTTP 403${detail}`, true, { cause: err });
  if (status === 404) return new DataError('NotFound', `${where}: HTTP 404${detail}`, true, { cause: err });
  if (e.code && networkCodes.has(e.code)) return new DataError('EndpointUnreachable', `${where}: ${e.code}${detail}`, false, { cause: err });
  return new DataError('SourceError', `${where}: ${code || 'error'}${detail}`, false, { cause: err });
}

/** What an HTTP status other than 200 means for a download. */
export function httpFailure(status: number, url: string): DataError {
  const where = `GET ${redactUrl(url)}: HTTP ${status}`;
  if (status === 401) return new DataError('Unauthorized', where, true);
  if (status === 403) return new DataError('AccessDenied', where, true);
  if (status === 404 || status === 410) return new DataError('NotFound', where, true);
  // 5xx and 429 may pass: let the Job try again.
  if (status >= 500 || status === 429) return new DataError('SourceUnavailable', where, false);
  return new DataError('SourceError', where, true);
}

/** git's stderr, read for the few failures a user can fix; the rest is a retryable GitFailed. */
export function gitFailure(stderr: string, url: string): DataError {
  const text = stderr.trim().split('\n').filter((l) => l.trim() !== '').slice(-3).join('; ');
  const where = `git ${redactUrl(url)}: ${text}`;
  const rules: [RegExp, string, boolean][] = [
    [/couldn't find remote ref|unknown revision|not our ref|invalid refspec|did not match any|bad revision|Not a valid object name/i, 'RevisionNotFound', true],
    [/Authentication failed|could not read Username|could not read Password|HTTP 401|Permission denied \(publickey/i, 'InvalidCredentials', true],
    [/HTTP 403|access denied/i, 'AccessDenied', true],
    [/repository .* not found|HTTP 404|does not appear to be a git repository|not found/i, 'RepositoryNotFound', true],
    [/Could not resolve host|Connection refused|Failed to connect|timed out/i, 'EndpointUnreachable', false],
  ];
  for (const [pattern, reason, permanent] of rules) if (pattern.test(stderr)) return new DataError(reason, where, permanent);
  return new DataError('GitFailed', where, false);
}

/** A URL without its user information, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '';
      u.password = '';
    }
    return u.toString();
  } catch {
    return url;
  }
}

/** The report of a failure, as the controller parses it (controllers/assets/import-status.ts). */
export function failureReport(err: unknown): { report: string; permanent: boolean } {
  const e = err instanceof DataError ? err : new DataError('InternalError', err instanceof Error ? err.message : String(err));
  return { report: JSON.stringify({ reason: e.reason, message: e.message.slice(0, 3900) }), permanent: e.permanent };
}
