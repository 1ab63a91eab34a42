/**
 * The importer's contract as octopus-data reads it (the controller writes it: see
 * controllers/assets/children.ts and controllers/assets/README.md "Contracts of the Job images").
 * Parsing is pure: a bad variable is a DataError naming it and saying why, reason InvalidSource.
 */
import { isAbsolute } from 'node:path';
import { DataError } from './errors.js';

interface ImportCommon {
  destination: string;
  /** Files copied at once. */
  concurrency: number;
}

export interface S3Import extends ImportCommon {
  source: 's3';
  endpoint?: string;
  bucket: string;
  prefix: string;
  region: string;
  /** Absent: the SDK's own chain (web identity, instance profile) finds them. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export interface HttpImport extends ImportCommon {
  source: 'http';
  url: string;
  sha256?: string;
  /** Unpack .tar, .tar.gz/.tgz or .zip; the default follows the URL's extension. */
  unpack: boolean;
}

export interface GitImport extends ImportCommon {
  source: 'git';
  url: string;
  revision?: string;
  subPath?: string;
  username?: string;
  password?: string;
  sshKey?: string;
}

export type ImportSpec = S3Import | HttpImport | GitImport;

export type ArchiveKind = 'tar' | 'tar.gz' | 'zip';

/** The archive a URL names by its extension (query and fragment ignored). */
export function archiveKind(url: string): ArchiveKind | undefined {
  let path: string;
  try {
    path = new URL(url).pathname.toLowerCase();
  } catch {
    return undefined;
  }
  if (path.endsWith('.tar.gz') || path.endsWith('.tgz')) return 'tar.gz';
  if (path.endsWith('.tar')) return 'tar';
  if (path.endsWith('.zip')) return 'zip';
  return undefined;
}

function invalid(variable: string, why: string): DataError {
  return new DataError('InvalidSource', `${variable} ${why}`, true);
}

function required(env: NodeJS.ProcessEnv, variable: string): string {
  const value = env[variable];
  if (value === undefined || value === '') throw invalid(variable, 'is required');
  return value;
}

function optional(env: NodeJS.ProcessEnv, variable: string): string | undefined {
  const value = env[variable];
  return value === undefined || value === '' ? undefined : value;
}

function httpUrl(env: NodeJS.ProcessEnv, variable: string): string {
  const value = required(env, variable);
  if (!/^https?:\/\//.test(value)) throw invalid(variable, `must be an http:// or https:// URL, got ${JSON.stringify(value)}`);
  try {
    new URL(value);
  } catch {
    throw invalid(variable, `is not a valid URL: ${JSON.stringify(value)}`);
  }
  return value;
}

function flag(env: NodeJS.ProcessEnv, variable: string): boolean | undefined {
  const value = optional(env, variable);
  if (value === undefined) return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw invalid(variable, `must be true or false, got ${JSON.stringify(value)}`);
}

const defaultConcurrency = 16;

export function parseImportEnv(env: NodeJS.ProcessEnv): ImportSpec {
  const destination = required(env, 'OCTOPUS_IMPORT_DESTINATION');
  if (!isAbsolute(destination)) throw invalid('OCTOPUS_IMPORT_DESTINATION', `must be an absolute path, got ${JSON.stringify(destination)}`);
  const rawConcurrency = optional(env, 'OCTOPUS_IMPORT_CONCURRENCY');
  const concurrency = rawConcurrency === undefined ? defaultConcurrency : Number(rawConcurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) {
    throw invalid('OCTOPUS_IMPORT_CONCURRENCY', `must be an integer from 1 to 256, got ${JSON.stringify(rawConcurrency)}`);
  }
  const common = { destination, concurrency };
  const source = optional(env, 'OCTOPUS_IMPORT_SOURCE');
  switch (source) {
    case 's3': {
      const keyId = optional(env, 'AWS_ACCESS_KEY_ID');
      const secret = optional(env, 'AWS_SECRET_ACCESS_KEY');
      if ((keyId === undefined) !== (secret === undefined)) {
        throw invalid(keyId === undefined ? 'AWS_ACCESS_KEY_ID' : 'AWS_SECRET_ACCESS_KEY', 'is required when the other half of the key pair is set (Secret keys accessKeyID and secretAccessKey)');
      }
      const endpoint = optional(env, 'OCTOPUS_IMPORT_ENDPOINT') === undefined ? undefined : httpUrl(env, 'OCTOPUS_IMPORT_ENDPOINT');
      const bucket = required(env, 'OCTOPUS_IMPORT_BUCKET');
      if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw invalid('OCTOPUS_IMPORT_BUCKET', `is not a valid bucket name: ${JSON.stringify(bucket)}`);
      return {
        source: 's3',
        ...common,
        ...(endpoint && { endpoint }),
        bucket,
        prefix: optional(env, 'OCTOPUS_IMPORT_PREFIX') ?? '',
        region: optional(env, 'OCTOPUS_IMPORT_REGION') ?? optional(env, 'AWS_REGION') ?? 'us-east-1',
        ...(keyId !== undefined && secret !== undefined && { credentials: { accessKeyId: keyId, secretAccessKey: secret } }),
      };
    }
    case 'http': {
      const url = httpUrl(env, 'OCTOPUS_IMPORT_URL');
      const sha256 = optional(env, 'OCTOPUS_IMPORT_SHA256');
      if (sha256 !== undefined && !/^[a-f0-9]{64}$/.test(sha256)) throw invalid('OCTOPUS_IMPORT_SHA256', 'must be 64 lowercase hex digits');
      const unpack = flag(env, 'OCTOPUS_IMPORT_UNPACK') ?? archiveKind(url) !== undefined;
      if (unpack && !archiveKind(url)) throw invalid('OCTOPUS_IMPORT_UNPACK', `is true but ${JSON.stringify(url)} does not end in .tar, .tar.gz, .tgz or .zip`);
      return { source: 'http', ...common, url, ...(sha256 && { sha256 }), unpack };
    }
    case 'git': {
      const url = required(env, 'OCTOPUS_IMPORT_URL');
      if (!/^(https?:\/\/|ssh:\/\/|git@)/.test(url)) throw invalid('OCTOPUS_IMPORT_URL', `must be an https://, http://, ssh:// or git@ URL, got ${JSON.stringify(url)}`);
      const revision = optional(env, 'OCTOPUS_IMPORT_REVISION');
      if (revision !== undefined && (revision.startsWith('-') || /\s/.test(revision) || [...revision].some((c) => c.charCodeAt(0) < 0x20))) throw invalid('OCTOPUS_IMPORT_REVISION', `is not a revision: ${JSON.stringify(revision)}`);
      const subPath = optional(env, 'OCTOPUS_IMPORT_SUBPATH')?.replace(/^\/+|\/+$/g, '');
      if (subPath !== undefined && subPath.split('/').some((s) => s === '..' || s === '.')) throw invalid('OCTOPUS_IMPORT_SUBPATH', `must stay inside the repository, got ${JSON.stringify(subPath)}`);
      const username = optional(env, 'GIT_USERNAME');
      const password = optional(env, 'GIT_PASSWORD');
      const sshKey = optional(env, 'GIT_SSH_KEY');
      return {
        source: 'git',
        ...common,
        url,
        ...(revision && { revision }),
        ...(subPath && { subPath }),
        ...(username && { username }),
        ...(password && { password }),
        ...(sshKey && { sshKey }),
      };
    }
    default:
      throw invalid('OCTOPUS_IMPORT_SOURCE', `must be s3, http or git, got ${JSON.stringify(source ?? '')}`);
  }
}
