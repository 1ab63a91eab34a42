/**
 * A Workspace's `spec.pools` is the list of ResourcePools its workloads may use (empty: every pool). The
 * Job and Notebook controllers keep a workload that names another pool waiting with the same reason; at
 * the door it is refused, so the user hears at `kubectl apply`. Narrowing the list later does not block
 * edits of workloads already there: the check ratchets on UPDATE like every other.
 */
import type { Job, ModelService, Notebook } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { Check } from './check.js';

export const validateWorkspacePools: Check<Job | Notebook | ModelService> = (ctx, lookups) => {
  const pool = ctx.object.spec.pool;
  if (pool === undefined || ctx.namespace === undefined) return { errors: [] };
  const allowed = lookups.workspacePools(ctx.namespace);
  if (allowed.length === 0 || allowed.includes(pool)) return { errors: [] };
  return { errors: [{ path: 'spec.pool', message: `Workspace ${ctx.namespace} may use only pools ${allowed.join(', ')} (its spec.pools), not ${pool}` }] };
};
