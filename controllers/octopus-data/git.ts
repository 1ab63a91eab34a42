/**
 * Copying a git repository at a revision with the git command line (Debian's git in the image):
 * a shallow fetch of just that revision into a bare repository in the state folder, then
 * `git archive <commit>:<subPath>` streamed through the tar unpacker, so the claim gets the tree's
 * files and no .git. Credentials reach git through GIT_ASKPASS or an SSH key file, never argv.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { unpackTar } from './archive.js';
import type { GitImport } from './contract.js';
import type { Destination } from './destination.js';
import { DataError, gitFailure } from './errors.js';
import type { FileRecord } from './manifest.js';
import type { Progress } from './progress.js';

interface GitRun {
  stdout: string;
  stderr: string;
  code: number;
}

function git(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<GitRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (stderr.length > 16_000) stderr = stderr.slice(-8_000);
    });
    child.on('error', (err) => reject(new DataError('GitFailed', `cannot run git: ${err.message}`, true, { cause: err })));
    child.on('close', (code) => resolve({ stdout, stderr, code: code ?? 1 }));
  });
}

/** git's environment: no prompts, no user or system configuration, credentials from the contract. */
async function gitEnv(spec: GitImport, state: string): Promise<NodeJS.ProcessEnv> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: state,
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
  };
  if (spec.username !== undefined || spec.password !== undefined) {
    const askpass = join(state, 'askpass');
    // git asks "Username for …" then "Password for …"; the answers come from this process's environment.
    await writeFile(askpass, '#!/bin/sh\ncase "$1" in Username*) printf "%s\\n" "$GIT_USERNAME" ;; *) printf "%s\\n" "$GIT_PASSWORD" ;; esac\n', { mode: 0o700 });
    Object.assign(env, { GIT_ASKPASS: askpass, GIT_USERNAME: spec.username ?? '', GIT_PASSWORD: spec.password ?? '' });
  }
  if (spec.sshKey !== undefined) {
    const key = join(state, 'ssh-key');
    await writeFile(key, spec.sshKey.endsWith('\n') ? spec.sshKey : `${spec.sshKey}\n`, { mode: 0o600 });
    await chmod(key, 0o600);
    env.GIT_SSH_COMMAND = `ssh -i ${key} -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=${join(state, 'known_hosts')}`;
  }
  return env;
}

/** The commit `revision` names, fetched shallow; a commit id a server will not serve by itself is found by fetching all refs. */
async function fetchRevision(spec: GitImport, repo: string, env: NodeJS.ProcessEnv, log: Logger): Promise<string> {
  const want = spec.revision ?? 'HEAD';
  const shallow = await git(['fetch', '--quiet', '--depth=1', '--no-tags', spec.url, want], repo, env);
  if (shallow.code !== 0) {
    if (!/^[0-9a-f]{7,40}$/i.test(want)) throw gitFailure(shallow.stderr, spec.url);
    log.info({ revision: want }, 'the server does not serve a commit by id; fetching every branch and tag');
    const full = await git(['fetch', '--quiet', '--tags', spec.url, '+refs/heads/*:refs/remotes/origin/*'], repo, env);
    if (full.code !== 0) throw gitFailure(full.stderr, spec.url);
    const resolved = await git(['rev-parse', '--verify', '--quiet', `${want}^{commit}`], repo, env);
    if (resolved.code !== 0) throw new DataError('RevisionNotFound', `git ${spec.url}: revision ${want} is not in the repository`, true);
    return resolved.stdout.trim();
  }
  const head = await git(['rev-parse', 'FETCH_HEAD^{commit}'], repo, env);
  if (head.code !== 0) throw gitFailure(head.stderr, spec.url);
  return head.stdout.trim();
}

export async function importGit(spec: GitImport, destination: Destination, progress: Progress, log: Logger): Promise<{ records: FileRecord[]; commit: string }> {
  const repo = join(destination.stateDir, 'repo.git');
  await mkdir(repo, { recursive: true });
  const env = await gitEnv(spec, destination.stateDir);
  const init = await git(['init', '--quiet', '--bare'], repo, env);
  if (init.code !== 0) throw gitFailure(init.stderr, spec.url);
  const commit = await fetchRevision(spec, repo, env, log);
  const tree = spec.subPath ? `${commit}:${spec.subPath}` : commit;
  if (spec.subPath) {
    const type = await git(['cat-file', '-t', tree], repo, env);
    if (type.code !== 0 || type.stdout.trim() !== 'tree') {
      throw new DataError('SubPathNotFound', `git ${spec.url}: ${spec.subPath} is not a directory at ${spec.revision ?? 'HEAD'} (${commit.slice(0, 12)})`, true);
    }
  }
  const archive = spawn('git', ['archive', '--format=tar', tree], { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  archive.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number>((resolve) => archive.on('close', (code) => resolve(code ?? 1)));
  const records = await unpackTar(archive.stdout, false, destination, progress, log);
  if ((await exited) !== 0) throw gitFailure(stderr, spec.url);
  return { records, commit };
}
