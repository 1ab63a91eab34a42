/**
 * One admission cycle over a snapshot of the cluster, as a pure function: which queued
 * workloads to admit now, which admitted ones to preempt for them, and why the others wait.
 *
 * Order (fair sharing): workspaces take turns by weighted dominant-resource share, lowest first
 * and recomputed after every admission, so a workspace with a thousand queued jobs cannot starve
 * one with a single job; within a workspace, priority (its class's value, higher first), then
 * creation time. Best effort: a workload that cannot be admitted does not block smaller ones
 * behind it, and a cycle drains as many workloads as fit.
 *
 * All-or-nothing: a workload is admitted only when (a) every Quota of its namespace has room for
 * the whole gang — borrowing unused quota from the Quota's cohort where allowed — (b) the pool
 * can place every pod on a node's free allocatable, given what runs and what earlier admissions
 * will take, and (c) every DevicePolicy allows it. In a Workspace that requires quota (the
 * default), a gang asking for a resource no Quota names waits (NoQuota): fail closed. A
 * ModelService scaling up is pending for its added replicas only.
 *
 * Preemption: a workload that does not fit may evict whole admitted Jobs — of lower priority in
 * its own workspace, or, when it stays within its own hard limits, Jobs of other workspaces of its
 * cohort that were admitted on borrowed quota (reclaim, whatever their priority, and only while
 * their workspace still borrows).
 * Victims: fewest, lowest priority and most recently admitted first; the preemptor then waits for
 * their pods to go, with the room reserved for it, and never preempts again for room already
 * being freed. Loops cannot form: within a workspace only strictly lower priority is preempted,
 * and a reclaimer must not borrow, so its victims (which needed to borrow) cannot reclaim back.
 */
import type { DevicePolicy } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { addResources, display, formatQuantity, formatResources, fits, subtractResources, type Resources } from '../../apis/quantity.js';
import { deviceNodeSelector, deviceViolations } from './device-policy.js';
import { gangSize, gangTotal, type PodSet } from './gang.js';
import { Ledger } from './ledger.js';
import { placeGang, type NodeState, type PlacementResult } from './placement.js';
import { budgetProblems, noQuotaMessage, unlimitedResources, type QuotaState } from './quota.js';

export interface PendingWorkload {
  key: string;
  namespace: string;
  priority: number;
  createdAt: number;
  pool: string;
  /** Pod sets in spec order; `path` names each one's source for DevicePolicy messages. */
  podSets: (PodSet & { path: string })[];
  /** Every requested resource must be limited by some Quota of the namespace (Workspace spec.requireQuota). */
  requireQuota: boolean;
  /**
   * The gang DevicePolicies judge when it differs from podSets: a ModelService scaling up asks quota and
   * capacity for its added replicas, but a per-job maximum counts every replica it would then hold.
   */
  wholeGang?: (PodSet & { path: string })[];
  /** Its priority class lets it preempt (preemptionPolicy PreemptLowerPriority). */
  mayPreempt: boolean;
  /** It may be preempted once admitted; only such workloads borrow from a cohort. */
  preemptible: boolean;
}

/** Room a reservation takes on one node: a bound pod, or where this cycle expects an unbound one. */
export interface Occupied {
  node: string;
  requests: ReadonlyMap<string, bigint>;
}

export interface ActiveReservation {
  /** The workload's cycle key; absent for pods charged outside admission, which are never preempted. */
  key?: string;
  namespace: string;
  pool: string;
  total: ReadonlyMap<string, bigint>;
  priority: number;
  admittedAt: number;
  preemptible: boolean;
  /** Admitted on quota borrowed from its cohort: only such workloads of other workspaces are reclaimed. */
  borrowed?: boolean;
  /** Its pods bound to nodes. */
  bound: Occupied[];
  /** Pods admitted but not yet bound to a node: they will take room the snapshot does not show yet. */
  unbound: PodSet[];
}

export interface PoolNodes {
  name: string;
  /** Eligible nodes (labels, readiness and taints already checked), shared between pools. */
  nodes: NodeState[];
}

export interface CycleInput {
  pending: PendingWorkload[];
  active: ActiveReservation[];
  pools: ReadonlyMap<string, PoolNodes>;
  /** Quotas by namespace, with spec and consumption (usage is recomputed from `active`). */
  quotas: ReadonlyMap<string, QuotaState[]>;
  policies: readonly DevicePolicy[];
  /** Workloads that preempted others and wait for them to go (their last wait reason was Preempting). */
  preempting?: ReadonlySet<string>;
}

export interface Admission {
  key: string;
  pool: string;
  podSets: { task: string; count: number; resources: Record<string, string>; shmSize?: string; pricePerHour?: string; nodeSelector?: Record<string, string> }[];
  total: Record<string, string>;
  /** Admitted beyond its workspace's hard limits, on quota its cohort lends. */
  borrowed?: true;
}

export type WaitReason = 'QuotaExceeded' | 'BudgetExhausted' | 'NoQuota' | 'InsufficientCapacity' | 'DevicePolicyDenied' | 'PoolNotFound' | 'Preempting' | 'PriorityClassNotFound';

export interface Waiting {
  key: string;
  reason: WaitReason;
  message: string;
  pool: string;
  /** Place among the workloads waiting for the same pool, in the order this cycle considered them (1 = first); none when it was not considered. */
  position?: number;
}

export type PreemptionReason = 'LowerPriority' | 'QuotaReclaimed';

export interface Preemption {
  /** The victim. */
  key: string;
  preemptor: string;
  reason: PreemptionReason;
  message: string;
}

export interface CycleResult {
  admitted: Admission[];
  waiting: Waiting[];
  preempted: Preemption[];
}

/** Order within a workspace: priority, then age, then name. */
export function order(a: PendingWorkload, b: PendingWorkload): number {
  return b.priority - a.priority || a.createdAt - b.createdAt || a.key.localeCompare(b.key);
}

/** `Job/team-a/x` as people read it: `Job team-a/x`. */
export function describeKey(key: string): string {
  const slash = key.indexOf('/');
  return `${key.slice(0, slash)} ${key.slice(slash + 1)}`;
}

/**
 * Per pool, per-pod requests (and node selectors) that found no node this cycle: a pod at least
 * as big, confined to the same nodes or fewer, will not either — until room is given back.
 */
class Misses {
  private readonly byPool = new Map<string, { requests: Resources; nodeSelector: Readonly<Record<string, string>> }[]>();

  record(pool: string, requests: Resources, nodeSelector: Readonly<Record<string, string>> = {}): void {
    const list = this.byPool.get(pool) ?? [];
    list.push({ requests, nodeSelector });
    this.byPool.set(pool, list);
  }

  dominated(pool: string, podSets: PodSet[]): PodSet | undefined {
    const misses = this.byPool.get(pool);
    if (!misses) return undefined;
    return podSets.find((ps) => misses.some((m) => fits(m.requests, ps.requests) && Object.entries(m.nodeSelector).every(([k, v]) => ps.nodeSelector?.[k] === v)));
  }

  /** Room came back (a preemption): what missed may fit now. */
  clear(): void {
    this.byPool.clear();
  }
}

/**
 * Per pool, what a queue of thousands asks again and again of the same nodes: the free room on
 * all of them together, and the nodes as they will be once the room being released is free (with
 * the per-pod requests that found no place there). Built once and reused while the cycle leaves
 * the nodes alone.
 */
class PoolRoom {
  private readonly byPool = new Map<string, { free?: Resources; soon?: { nodes: NodeState[] | undefined; misses: Misses } }>();

  /** The nodes changed (an admission, a hold on released room, a preemption): build again. */
  changed(): void {
    this.byPool.clear();
  }

  private entry(pool: PoolNodes) {
    let room = this.byPool.get(pool.name);
    if (!room) {
      room = {};
      this.byPool.set(pool.name, room);
    }
    return room;
  }

  free(pool: PoolNodes): Resources {
    const room = this.entry(pool);
    room.free ??= freeTotal(pool.nodes);
    return room.free;
  }

  /** Where `podSets` would go once released room is free; undefined when the pool releases nothing. */
  placeSoon(pool: PoolNodes, podSets: PodSet[]): PlacementResult | undefined {
    const room = this.entry(pool);
    room.soon ??= { nodes: releasing(pool) ? soonFree(pool.nodes) : undefined, misses: new Misses() };
    const { nodes, misses } = room.soon;
    if (!nodes) return undefined;
    const blocked = misses.dominated(pool.name, podSets);
    if (blocked) return { ok: false, message: `no node fits a pod of task ${blocked.task}`, unplaced: { task: blocked.task, index: 0, requests: blocked.requests } };
    const placed = placeGang(nodes, { podSets });
    if (!placed.ok) misses.record(pool.name, placed.unplaced.requests, podSets.find((ps) => ps.task === placed.unplaced.task)?.nodeSelector);
    // A placement took room on the copies; the caller takes it on the real nodes and reports the change.
    return placed;
  }
}

function freeTotal(nodes: NodeState[]): Resources {
  return addResources(...nodes.map((n) => n.free));
}

/** Names the first resource the gang wants more of than the pool has free on all its nodes together. */
function shortfall(wanted: Resources, free: Resources): string {
  const [key, amount] = [...wanted].find(([k, v]) => v > (free.get(k) ?? 0n))!;
  return `it needs ${display(key, amount)} ${key}, ${display(key, free.get(key) ?? 0n)} are free on its nodes together`;
}

/** Copies of `nodes` whose free room includes what is being released and, per node, `extra`. */
function soonFree(nodes: NodeState[], extra?: ReadonlyMap<string, Resources>): NodeState[] {
  return nodes.map((n) => ({ name: n.name, labels: n.labels, free: addResources(n.free, n.releasing ?? new Map(), extra?.get(n.name) ?? new Map()) }));
}

/** Takes `requests` on `node`, from room being released first, then from free room. */
function take(node: NodeState, requests: Resources): void {
  const releasing = new Map(node.releasing ?? []);
  const fromFree = new Map<string, bigint>();
  for (const [k, v] of requests) {
    const soon = releasing.get(k) ?? 0n;
    const taken = v < soon ? v : soon > 0n ? soon : 0n;
    releasing.set(k, soon - taken);
    fromFree.set(k, v - taken);
  }
  node.releasing = releasing;
  node.free = subtractResources(node.free, fromFree);
}

function releasing(pool: PoolNodes): boolean {
  return pool.nodes.some((n) => [...(n.releasing ?? [])].some(([, v]) => v > 0n));
}

function requestsOf(podSets: readonly PodSet[], task: string): Resources {
  return podSets.find((ps) => ps.task === task)!.requests;
}

function toAdmission(w: PendingWorkload, podSets: PodSet[], total: Resources, borrowed: boolean): Admission {
  return {
    ...(borrowed ? { borrowed: true as const } : {}),
    key: w.key,
    pool: w.pool,
    podSets: podSets.map((ps) => ({
      task: ps.task,
      count: ps.count,
      resources: formatResources(ps.requests),
      ...(ps.shmSize !== undefined ? { shmSize: formatQuantity(ps.shmSize, { binary: true }) } : {}),
      ...(ps.pricePerHour !== undefined ? { pricePerHour: ps.pricePerHour } : {}),
      ...(ps.nodeSelector ? { nodeSelector: { ...ps.nodeSelector } } : {}),
    })),
    total: formatResources(total),
  };
}

/** Pending workloads grouped by namespace, each group in its own order: the queue fair sharing draws from. */
class FairQueue {
  private readonly groups = new Map<string, PendingWorkload[]>();
  private readonly shares = new Map<string, number>();

  /** Workloads that preempted others come first: they earned their turn when they preempted. */
  private readonly first: PendingWorkload[];

  constructor(pending: readonly PendingWorkload[], private readonly ledger: Ledger, preempting: ReadonlySet<string>) {
    const sorted = [...pending].sort(order);
    this.first = sorted.filter((w) => preempting.has(w.key));
    for (const w of sorted) {
      if (preempting.has(w.key)) continue;
      const list = this.groups.get(w.namespace) ?? [];
      list.push(w);
      this.groups.set(w.namespace, list);
    }
    for (const ns of this.groups.keys()) this.shares.set(ns, ledger.share(ns));
  }

  /** The next workload: the head of the namespace with the lowest share; ties by the heads' own order. */
  next(): PendingWorkload | undefined {
    const preemptor = this.first.shift();
    if (preemptor) return preemptor;
    let best: { ns: string; head: PendingWorkload; share: number } | undefined;
    for (const [ns, list] of this.groups) {
      const head = list[0]!;
      const share = this.shares.get(ns)!;
      if (!best || share < best.share || (share === best.share && order(head, best.head) < 0)) best = { ns, head, share };
    }
    if (!best) return undefined;
    const list = this.groups.get(best.ns)!;
    list.shift();
    if (list.length === 0) this.groups.delete(best.ns);
    return best.head;
  }

  /** A namespace's usage changed (admission or preemption): its turn moves. */
  changed(namespace: string): void {
    if (this.shares.has(namespace)) this.shares.set(namespace, this.ledger.share(namespace));
  }
}

export function admissionCycle(input: CycleInput): CycleResult {
  const admitted: Admission[] = [];
  const waiting: Omit<Waiting, 'position'>[] = [];
  const preempted: Preemption[] = [];
  const misses = new Misses();
  const room = new PoolRoom();
  const ledger = new Ledger(input.quotas);
  const nodesByName = new Map<string, NodeState>();
  for (const pool of input.pools.values()) for (const n of pool.nodes) nodesByName.set(n.name, n);

  /** Where each reservation sits; `bound` room frees only once its pods are gone. */
  const occupancy = new Map<ActiveReservation, (Occupied & { bound: boolean })[]>();
  for (const r of input.active) {
    ledger.add(r.namespace, r.pool, r.total);
    const occupied = r.bound.map((o) => ({ ...o, bound: true }));
    const pool = input.pools.get(r.pool);
    // Best effort: if an admitted gang no longer fits (nodes went away), the pods stay Pending
    // and its pods-ready timeout requeues it; the snapshot simply cannot reserve for it.
    if (pool && r.unbound.length > 0) {
      const placed = placeGang(pool.nodes, { podSets: r.unbound });
      if (placed.ok) for (const p of placed.placements) occupied.push({ node: p.node, requests: requestsOf(r.unbound, p.task), bound: false });
    }
    occupancy.set(r, occupied);
  }
  const victims = new Set<ActiveReservation>();
  const failedPreemptions = new Set<string>();

  /** Room the given reservations take, per node. */
  function roomOf(reservations: Iterable<ActiveReservation>): Map<string, Resources> {
    const out = new Map<string, Resources>();
    for (const r of reservations) for (const o of occupancy.get(r)!) out.set(o.node, addResources(out.get(o.node) ?? new Map(), o.requests));
    return out;
  }

  /** Whether `w` fits the quota as the ledger stands and the pool once `freed` and what is being released are gone. */
  function fitsOnceFreed(w: PendingWorkload, pool: PoolNodes, podSets: PodSet[], total: Resources, freed: ActiveReservation[]): boolean {
    if (ledger.problems(w.namespace, w.pool, total, w.preemptible).length > 0) return false;
    return placeGang(soonFree(pool.nodes, roomOf(freed)), { podSets }).ok;
  }

  /** Lower-priority Jobs of its namespace, and borrowing Jobs of its cohorts when it reclaims, in victim order. */
  function candidates(w: PendingWorkload, total: Resources): ActiveReservation[] {
    const cohorts = ledger.cohortsOf(w.namespace);
    const reclaims = cohorts.size > 0 && ledger.withinNominal(w.namespace, total);
    return input.active
      .filter(
        (r) =>
          r.key !== undefined &&
          r.preemptible &&
          !victims.has(r) &&
          ((r.namespace === w.namespace && r.priority < w.priority) ||
            (reclaims && r.borrowed === true && r.namespace !== w.namespace && [...ledger.cohortsOf(r.namespace)].some((c) => cohorts.has(c)))),
      )
      .sort((a, b) => a.priority - b.priority || b.admittedAt - a.admittedAt || a.key!.localeCompare(b.key!));
  }

  /** A victim of another namespace is fair game only while its namespace still borrows what `w` needs. */
  function stillBorrowing(w: PendingWorkload, r: ActiveReservation, total: Resources): boolean {
    if (r.namespace === w.namespace) return true;
    const needed = [...total].filter(([, v]) => v > 0n).map(([k]) => k);
    return [...ledger.cohortsOf(w.namespace)].some((c) => ledger.borrowing(r.namespace, c, needed));
  }

  /**
   * The fewest, lowest-priority, most recently admitted victims whose going lets `w` fit; the
   * ledger is left without them. Undefined (ledger unchanged) when no set of candidates does.
   */
  function chooseVictims(w: PendingWorkload, pool: PoolNodes, podSets: PodSet[], total: Resources): ActiveReservation[] | undefined {
    const ordered = candidates(w, total);
    if (ordered.length === 0) return undefined;
    const without = (r: ActiveReservation) => ledger.remove(r.namespace, r.pool, r.total);
    const back = (r: ActiveReservation) => ledger.add(r.namespace, r.pool, r.total);
    for (const r of ordered) {
      if (!stillBorrowing(w, r, total)) continue;
      without(r);
      if (fitsOnceFreed(w, pool, podSets, total, [r])) return [r];
      back(r);
    }
    const chosen: ActiveReservation[] = [];
    for (const r of ordered) {
      if (!stillBorrowing(w, r, total)) continue;
      without(r);
      chosen.push(r);
      if (!fitsOnceFreed(w, pool, podSets, total, chosen)) continue;
      // Minimal: give back any victim not needed, the highest-priority and oldest first.
      for (let i = chosen.length - 2; i >= 0; i--) {
        const spared = chosen[i]!;
        back(spared);
        const rest = chosen.filter((c) => c !== spared);
        if (fitsOnceFreed(w, pool, podSets, total, rest)) chosen.splice(i, 1);
        else without(spared);
      }
      return chosen;
    }
    chosen.forEach(back);
    return undefined;
  }

  function preemptionMessage(w: PendingWorkload, victim: ActiveReservation): { reason: PreemptionReason; message: string } {
    const by = `preempted by ${describeKey(w.key)} (priority ${w.priority})`;
    if (victim.namespace === w.namespace) {
      return { reason: 'LowerPriority', message: `${by}: it needed the room and this workload's priority (${victim.priority}) is lower` };
    }
    return { reason: 'QuotaReclaimed', message: `${by}: workspace ${w.namespace} needed its lent quota back, and workspace ${victim.namespace} was borrowing it in their cohort` };
  }

  const queue = new FairQueue(input.pending, ledger, input.preempting ?? new Set());
  for (let w = queue.next(); w !== undefined; w = queue.next()) {
    const wait = (reason: WaitReason, message: string) => waiting.push({ key: w!.key, reason, message, pool: w!.pool });
    const pool = input.pools.get(w.pool);
    if (!pool) {
      wait('PoolNotFound', `ResourcePool ${w.pool} does not exist`);
      continue;
    }
    const quotas = ledger.withUsage(w.namespace);
    const budget = budgetProblems(quotas);
    if (budget.length > 0) {
      wait('BudgetExhausted', budget.map((p) => p.message).join('; '));
      continue;
    }
    const total = gangTotal({ podSets: w.podSets });
    const unlimited = w.requireQuota ? unlimitedResources(quotas, w.pool, total) : [];
    if (unlimited.length > 0) {
      wait('NoQuota', noQuotaMessage(w.namespace, unlimited));
      continue;
    }
    const denied = deviceViolations(input.policies, { namespace: w.namespace, pool: w.pool, podSets: w.wholeGang ?? w.podSets });
    if (denied.length > 0) {
      wait('DevicePolicyDenied', denied.map((v) => v.message).join('; '));
      continue;
    }
    const podSets = w.podSets.map((ps) => {
      const nodeSelector = deviceNodeSelector(input.policies, ps.requests);
      return Object.keys(nodeSelector).length > 0 ? { ...ps, nodeSelector } : ps;
    });

    const quota = ledger.problems(w.namespace, w.pool, total, w.preemptible);
    let capacity: string | undefined;
    if (quota.length === 0) {
      const free = room.free(pool);
      const blocked = misses.dominated(w.pool, podSets);
      if (!fits(total, free)) capacity = `pool ${w.pool} has no room now for the whole gang of ${gangSize({ podSets })} pods: ${shortfall(total, free)}`;
      else if (blocked) capacity = `pool ${w.pool} has no room now: no node fits a pod of task ${blocked.task}: a pod needing no more found none earlier in this cycle`;
      else {
        const placed = placeGang(pool.nodes, { podSets });
        if (placed.ok) {
          room.changed();
          const borrowed = !ledger.withinNominal(w.namespace, total);
          ledger.add(w.namespace, w.pool, total);
          queue.changed(w.namespace);
          admitted.push(toAdmission(w, podSets, total, borrowed));
          continue;
        }
        misses.record(w.pool, placed.unplaced.requests, podSets.find((ps) => ps.task === placed.unplaced.task)?.nodeSelector);
        capacity = `pool ${w.pool} has no room now: ${placed.message}`;
      }
      // Room that is being released (terminating pods, preempted workloads) is the next in line's.
      const soon = room.placeSoon(pool, podSets);
      if (soon?.ok) {
        for (const p of soon.placements) take(nodesByName.get(p.node)!, requestsOf(podSets, p.task));
        room.changed();
        ledger.add(w.namespace, w.pool, total);
        queue.changed(w.namespace);
        if (input.preempting?.has(w.key)) wait('Preempting', `waiting for the pods of the workloads it preempted to terminate; the room in pool ${w.pool} is held for it`);
        else wait('InsufficientCapacity', `pool ${w.pool} has room once pods now terminating are gone; it is held for this workload`);
        continue;
      }
    }

    const signature = JSON.stringify([w.namespace, w.pool, w.priority, w.preemptible, podSets.map((ps) => [ps.count, formatResources(ps.requests)])]);
    const chosen = w.mayPreempt && !failedPreemptions.has(signature) ? chooseVictims(w, pool, podSets, total) : undefined;
    if (!chosen) {
      if (w.mayPreempt) failedPreemptions.add(signature);
      if (quota.length > 0) wait('QuotaExceeded', quota.map((p) => p.message).join('; '));
      else wait('InsufficientCapacity', capacity!);
      continue;
    }
    misses.clear();
    for (const victim of chosen) {
      victims.add(victim);
      for (const o of occupancy.get(victim)!) {
        const node = nodesByName.get(o.node);
        if (!node) continue;
        if (o.bound) node.releasing = addResources(node.releasing ?? new Map(), o.requests);
        else node.free = addResources(node.free, o.requests);
      }
      preempted.push({ key: victim.key!, preemptor: w.key, ...preemptionMessage(w, victim) });
      queue.changed(victim.namespace);
    }
    const placed = placeGang(soonFree(pool.nodes), { podSets });
    if (placed.ok) for (const p of placed.placements) take(nodesByName.get(p.node)!, requestsOf(podSets, p.task));
    room.changed();
    ledger.add(w.namespace, w.pool, total);
    queue.changed(w.namespace);
    wait('Preempting', `preempting ${chosen.length} workload${chosen.length === 1 ? '' : 's'} (${chosen.map((v) => describeKey(v.key!)).join(', ')}); the room in pool ${w.pool} is held for it until their pods are gone`);
  }

  const positions = new Map<string, number>();
  const positioned = waiting.map((w) => {
    const position = (positions.get(w.pool) ?? 0) + 1;
    positions.set(w.pool, position);
    return { ...w, position };
  });
  return { admitted, waiting: positioned, preempted };
}
