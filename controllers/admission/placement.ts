/**
 * The fit check behind "never admitted but unschedulable": before a gang is admitted, every
 * one of its pods must have a place on the pool's nodes, given what is already running and
 * what earlier admitted gangs will take. Best-fit decreasing: biggest pods first, each on
 * the node where it leaves the least of its scarcest resource free, so big pods still find
 * whole nodes. A heuristic (bin packing is NP-hard), erring on the side of waiting.
 */
import { display, fits, isDeviceResource, subtractResources, type Resources } from '../../apis/quantity.js';
import type { Gang } from './gang.js';

export interface NodeState {
  name: string;
  labels: Readonly<Record<string, string>>;
  /** Allocatable minus what bound, unfinished pods request. */
  free: Resources;
  /**
   * Requests of bound pods on their way out (terminating, or of a workload that no longer holds a
   * reservation, e.g. preempted): room that frees soon. Not part of `free`.
   */
  releasing?: Resources;
}

export interface Placement {
  task: string;
  index: number;
  node: string;
}

export type PlacementResult =
  | { ok: true; placements: Placement[] }
  | { ok: false; message: string; unplaced: { task: string; index: number; requests: Resources } };

interface Pod {
  task: string;
  index: number;
  requests: Resources;
  nodeSelector: Readonly<Record<string, string>>;
}

/** Devices dominate, then CPU, then memory: the order in which resources run out on GPU clusters. */
function weight(r: Resources): [bigint, bigint, bigint] {
  let devices = 0n;
  for (const [k, v] of r) if (isDeviceResource(k)) devices += v;
  return [devices, r.get('cpu') ?? 0n, r.get('memory') ?? 0n];
}

function compareDesc(a: Resources, b: Resources): number {
  const wa = weight(a);
  const wb = weight(b);
  for (let i = 0; i < 3; i++) if (wa[i] !== wb[i]) return wa[i]! > wb[i]! ? -1 : 1;
  return 0;
}

function scarcest(r: Resources): string {
  const [devices] = weight(r);
  if (devices > 0n) return [...r.keys()].find(isDeviceResource)!;
  return r.has('cpu') ? 'cpu' : (r.keys().next().value ?? 'cpu');
}

function matches(labels: Readonly<Record<string, string>>, selector: readonly [string, string][]): boolean {
  for (const [k, v] of selector) if (labels[k] !== v) return false;
  return true;
}

/**
 * Places every pod of `gang` on `nodes`, mutating their `free` on success only. Pod sets may
 * carry a nodeSelector (e.g. labels a DevicePolicy adds).
 */
export function placeGang(nodes: NodeState[], gang: Gang): PlacementResult {
  const pods: Pod[] = gang.podSets.flatMap((ps) =>
    Array.from({ length: ps.count }, (_, index) => ({ task: ps.task, index, requests: ps.requests, nodeSelector: ps.nodeSelector ?? {} })),
  );
  pods.sort((a, b) => compareDesc(a.requests, b.requests));
  // Free room by node index: the loop below runs pods × nodes times per call, many calls a cycle.
  const free = nodes.map((n) => n.free);
  const placements: Placement[] = [];
  for (const pod of pods) {
    const key = scarcest(pod.requests);
    const wanted = pod.requests.get(key) ?? 0n;
    const selector = Object.entries(pod.nodeSelector);
    let best = -1;
    let bestLeft = 0n;
    for (let i = 0; i < nodes.length; i++) {
      const available = free[i]!;
      // The scarcest resource rules out most nodes of a busy pool before the full check.
      const scarce = available.get(key) ?? 0n;
      if (scarce < wanted) continue;
      if (selector.length > 0 && !matches(nodes[i]!.labels, selector)) continue;
      if (!fits(pod.requests, available)) continue;
      const left = scarce - wanted;
      if (best < 0 || left < bestLeft) {
        best = i;
        bestLeft = left;
        // Nothing fits tighter than exactly: the first such node is the one best-fit picks.
        if (left === 0n) break;
      }
    }
    if (best < 0) return { ok: false, message: unplaceable(pod, nodes, free), unplaced: { task: pod.task, index: pod.index, requests: pod.requests } };
    free[best] = subtractResources(free[best]!, pod.requests);
    placements.push({ task: pod.task, index: pod.index, node: nodes[best]!.name });
  }
  nodes.forEach((node, i) => (node.free = free[i]!));
  return { ok: true, placements };
}

function unplaceable(pod: Pod, nodes: NodeState[], free: Resources[]): string {
  const key = scarcest(pod.requests);
  const selector = Object.entries(pod.nodeSelector);
  const candidates = nodes.map((n, i) => ({ n, i })).filter(({ n }) => matches(n.labels, selector));
  if (candidates.length === 0) return `no node in the pool matches the pod's node selector ${JSON.stringify(pod.nodeSelector)}`;
  let largest = 0n;
  for (const { i } of candidates) {
    const v = free[i]!.get(key) ?? 0n;
    if (v > largest) largest = v;
  }
  const wanted = pod.requests.get(key) ?? 0n;
  return (
    `no node can fit pod ${pod.task}-${pod.index} (${display(key, wanted)} ${key}); ` +
    `the most free on one of ${candidates.length} nodes is ${display(key, largest)} ${key}`
  );
}
