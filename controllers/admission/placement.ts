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

function matches(labels: Readonly<Record<string, string>>, selector: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
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
  const free = new Map(nodes.map((n) => [n.name, n.free]));
  const placements: Placement[] = [];
  for (const pod of pods) {
    const key = scarcest(pod.requests);
    let best: NodeState | undefined;
    let bestLeft = 0n;
    for (const node of nodes) {
      const available = free.get(node.name)!;
      if (!matches(node.labels, pod.nodeSelector) || !fits(pod.requests, available)) continue;
      const left = (available.get(key) ?? 0n) - (pod.requests.get(key) ?? 0n);
      if (!best || left < bestLeft) {
        best = node;
        bestLeft = left;
      }
    }
    if (!best) return { ok: false, message: unplaceable(pod, nodes, free), unplaced: { task: pod.task, index: pod.index, requests: pod.requests } };
    free.set(best.name, subtractResources(free.get(best.name)!, pod.requests));
    placements.push({ task: pod.task, index: pod.index, node: best.name });
  }
  for (const node of nodes) node.free = free.get(node.name)!;
  return { ok: true, placements };
}

function unplaceable(pod: Pod, nodes: NodeState[], free: Map<string, Resources>): string {
  const key = scarcest(pod.requests);
  const candidates = nodes.filter((n) => matches(n.labels, pod.nodeSelector));
  if (candidates.length === 0) return `no node in the pool matches the pod's node selector ${JSON.stringify(pod.nodeSelector)}`;
  let largest = 0n;
  for (const n of candidates) {
    const v = free.get(n.name)!.get(key) ?? 0n;
    if (v > largest) largest = v;
  }
  const wanted = pod.requests.get(key) ?? 0n;
  return (
    `no node can fit pod ${pod.task}-${pod.index} (${display(key, wanted)} ${key}); ` +
    `the most free on one of ${candidates.length} nodes is ${display(key, largest)} ${key}`
  );
}
