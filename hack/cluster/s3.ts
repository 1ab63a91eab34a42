/**
 * The plane's S3 server: versitygw with its posix backend (buckets are folders, objects files)
 * under the state folder, on loopback, with a root key pair generated per plane. Tests, the
 * local platform and benchmarks read the endpoint and keys from one file; nothing has a default.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { ports, stateDir } from './paths.js';

export interface S3Access {
  endpoint: string;
  region: string;
  accessKeyID: string;
  secretAccessKey: string;
}

export function s3Dir(env: NodeJS.ProcessEnv = process.env): string {
  return join(stateDir(env), 's3');
}

/** The posix backend's root: each folder is a bucket. */
export function s3DataDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(s3Dir(env), 'data');
}

export function s3AccessFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(s3Dir(env), 'access.json');
}

/** New keys for a new plane: 20- and 40-character, as AWS shapes them. */
export function writeS3Access(env: NodeJS.ProcessEnv = process.env): S3Access {
  mkdirSync(s3DataDir(env), { recursive: true });
  const access: S3Access = {
    endpoint: `http://127.0.0.1:${ports(env).s3}`,
    region: 'us-east-1',
    accessKeyID: `OCT${randomBytes(16).toString('hex').toUpperCase().slice(0, 17)}`,
    secretAccessKey: randomBytes(30).toString('base64url').slice(0, 40),
  };
  writeFileSync(s3AccessFile(env), JSON.stringify(access, null, 2) + '\n', { mode: 0o600 });
  return access;
}

export function readS3Access(env: NodeJS.ProcessEnv = process.env): S3Access {
  const file = s3AccessFile(env);
  if (!existsSync(file)) throw new Error(`no S3 server keys at ${file}: is the plane up (npm run cluster -- up)?`);
  return JSON.parse(readFileSync(file, 'utf8')) as S3Access;
}

/** A client of the plane's S3 server; path-style, since loopback has no bucket host names. */
export function s3Client(access: S3Access = readS3Access()): S3Client {
  return new S3Client({
    endpoint: access.endpoint,
    region: access.region,
    forcePathStyle: true,
    credentials: { accessKeyId: access.accessKeyID, secretAccessKey: access.secretAccessKey },
  });
}

/** Creates `bucket` unless it exists. */
export async function ensureBucket(client: S3Client, bucket: string): Promise<void> {
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
  }
}
