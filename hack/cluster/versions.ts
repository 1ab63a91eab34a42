import { homedir } from 'node:os';
import { join } from 'node:path';

/** Pinned versions of every binary the local control plane runs. */
export const versions = {
  kubernetes: 'v1.33.13',
  /** k8s.io/<staging> modules are released as v0.<minor>.<patch> alongside k8s.io/kubernetes. */
  staging: 'v0.33.13',
  etcd: 'v3.5.21',
  kwok: 'v0.7.0',
  helm: 'v3.18.6',
  /** The S3 server of the plane (Apache-2.0; its posix backend keeps objects as plain files). */
  versitygw: 'v1.8.0',
  /** Bumped when how the binaries are built changes (flags, ldflags), so stale caches are rebuilt. */
  recipe: 2,
} as const;

export type ToolName =
  | 'kube-apiserver'
  | 'kube-controller-manager'
  | 'kube-scheduler'
  | 'etcd'
  | 'kwok'
  | 'helm'
  | 'versitygw';

export const kubernetesTools: readonly ToolName[] = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];
export const allTools: readonly ToolName[] = [...kubernetesTools, 'etcd', 'kwok', 'helm', 'versitygw'];

/** Tools cached in a folder of their own, so adding or bumping one never rebuilds the Kubernetes binaries. */
const ownFolders: Partial<Record<ToolName, string>> = { versitygw: `versitygw-${versions.versitygw}` };

function cacheRoot(env: NodeJS.ProcessEnv): string {
  return join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'octopus');
}

/** One cache folder per version set, so a version bump never mixes binaries. */
export function toolsDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.OCTOPUS_TOOLS_DIR) return env.OCTOPUS_TOOLS_DIR;
  const tag = `k8s-${versions.kubernetes}_etcd-${versions.etcd}_kwok-${versions.kwok}_helm-${versions.helm}_r${versions.recipe}`;
  return join(cacheRoot(env), tag);
}

/** Where a tool is built; OCTOPUS_TOOLS_DIR holds every tool, as it always did. */
export function binDir(env: NodeJS.ProcessEnv = process.env, tool?: ToolName): string {
  const own = tool && ownFolders[tool];
  if (own && !env.OCTOPUS_TOOLS_DIR) return join(cacheRoot(env), own, 'bin');
  return join(toolsDir(env), 'bin');
}
