/**
 * The admission cycle's rules for sharing a cluster: preemption (whole gangs, minimal victims,
 * no loops), cohorts (borrowing and lending limits, reclaim), fair sharing and queue positions.
 */
import { describe, expect, it } from '@jest/globals';
import type { Quota } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { parseResources, type Resources } from '../../apis/quantity.js';
import { admissionCycle, type ActiveReservation, type CycleInput, type PendingWorkload } from './cycle.js';
import type { NodeState } from './placement.js';
import { quotaState, type QuotaState } from './quota.js';

const gpus = (n: number): Resources => parseResources({ 'nvidia.com/gpu': n });

const node = (name: string, free: number, releasing = 0): NodeState => ({
  name,
  labels: {},
  free: gpus(free),
  ...(releasing > 0 ? { releasing: gpus(releasing) } : {}),
});

/** A pending gang of `pods` pods of `perPod` GPUs. */
const pending = (ns: string, name: string, pods: number, perPod: number, extra: Partial<PendingWorkload> = {}): PendingWorkload => ({
  key: `Job/${ns}/${name}`,
  namespace: ns,
  priority: 0,
  createdAt: 0,
  pool: 'gpu',
  podSets: [{ task: 'worker', count: pods, requests: gpus(perPod), path: 'spec.tasks[0]' }],
  requireQuota: false,
  mayPreempt: true,
  preemptible: true,
  ...extra,
});

/** An admitted gang whose pods are bound, `perPod` GPUs on each of `nodes`. */
const running = (ns: string, name: string, nodes: string[], perPod: number, extra: Partial<ActiveReservation> = {}): ActiveReservation => ({
  key: `Job/${ns}/${name}`,
  namespace: ns,
  pool: 'gpu',
  total: gpus(perPod * nodes.length),
  priority: 0,
  admittedAt: 0,
  preemptible: true,
  bound: nodes.map((n) => ({ node: n, requests: gpus(perPod) })),
  unbound: [],
  ...extra,
});

const quota = (ns: string, hard: number, spec: Partial<Quota['spec']> = {}): QuotaState =>
  quotaState({ apiVersion: 'octopus.openi.pcl.cn/v1alpha1', kind: 'Quota', metadata: { name: 'default', namespace: ns }, spec: { hard: { 'nvidia.com/gpu': hard }, ...spec } });

function cycle(p: PendingWorkload[], active: ActiveReservation[], nodes: NodeState[], extra: Partial<CycleInput> = {}) {
  return admissionCycle({ pending: p, active, pools: new Map([['gpu', { name: 'gpu', nodes }]]), quotas: new Map(), policies: [], ...extra });
}

const keys = (list: { key: string }[]) => list.map((x) => x.key);

describe('preemption within a workspace', () => {
  it('a high-priority 8-GPU gang preempts two 4-GPU low-priority jobs in a full pool and waits for them, room held', () => {
    const r = cycle(
      [pending('a', 'urgent', 2, 4, { priority: 1000 })],
      [running('a', 'low-1', ['n1'], 4, { admittedAt: 1 }), running('a', 'low-2', ['n2'], 4, { admittedAt: 2 })],
      [node('n1', 0), node('n2', 0)],
    );
    expect(r.admitted).toEqual([]);
    expect(r.preempted.map((p) => [p.key, p.preemptor, p.reason])).toEqual([
      ['Job/a/low-2', 'Job/a/urgent', 'LowerPriority'],
      ['Job/a/low-1', 'Job/a/urgent', 'LowerPriority'],
    ]);
    expect(r.preempted[0]!.message).toBe("preempted by Job a/urgent (priority 1000): it needed the room and this workload's priority (0) is lower");
    expect(r.waiting).toEqual([
      {
        key: 'Job/a/urgent',
        reason: 'Preempting',
        message: 'preempting 2 workloads (Job a/low-2, Job a/low-1); the room in pool gpu is held for it until their pods are gone',
        pool: 'gpu',
        position: 1,
      },
    ]);
  });

  it('preempts for quota as well as for nodes', () => {
    const r = cycle([pending('a', 'urgent', 1, 4, { priority: 10 })], [running('a', 'low', ['n1'], 4)], [node('n1', 4), node('n2', 8)], {
      quotas: new Map([['a', [quota('a', 4)]]]),
    });
    expect(keys(r.preempted)).toEqual(['Job/a/low']);
  });

  it.each<{ name: string; victims: ActiveReservation[]; free: number; want: string[] }>([
    {
      name: 'fewest: one big job rather than two small ones',
      victims: [running('a', 'small-1', ['n1'], 4, { admittedAt: 3 }), running('a', 'small-2', ['n2'], 4, { admittedAt: 2 }), running('a', 'big', ['n3'], 8, { admittedAt: 1 })],
      free: 0,
      want: ['Job/a/big'],
    },
    {
      name: 'lowest priority first',
      victims: [running('a', 'p5', ['n1'], 8, { priority: 5 }), running('a', 'p1', ['n2'], 8, { priority: 1 })],
      free: 0,
      want: ['Job/a/p1'],
    },
    {
      name: 'most recently admitted first among equals',
      victims: [running('a', 'older', ['n1'], 8, { admittedAt: 1 }), running('a', 'newer', ['n2'], 8, { admittedAt: 2 })],
      free: 0,
      want: ['Job/a/newer'],
    },
    {
      name: 'a victim made unnecessary by a later one is spared',
      // 4 + 4 do not make 8 on one node; the 8 alone does, so the first pick is given back.
      victims: [running('a', 'four', ['n1'], 4, { admittedAt: 3 }), running('a', 'other-four', ['n2'], 4, { admittedAt: 2 }), running('a', 'eight', ['n3'], 8, { admittedAt: 1, priority: 1 })],
      free: 0,
      want: ['Job/a/eight'],
    },
  ])('minimal victims: $name', ({ victims, free, want }) => {
    const nodes = [...new Set(victims.flatMap((v) => v.bound.map((b) => b.node)))].map((n) => node(n, free));
    const r = cycle([pending('a', 'urgent', 1, 8, { priority: 100 })], victims, nodes);
    expect(keys(r.preempted)).toEqual(want);
  });

  it('preempts whole gangs: every pod of a victim goes, none of a gang is left behind', () => {
    const r = cycle([pending('a', 'urgent', 1, 4, { priority: 10 })], [running('a', 'gang', ['n1', 'n2'], 4)], [node('n1', 0), node('n2', 0)]);
    expect(keys(r.preempted)).toEqual(['Job/a/gang']);
    // Both of the gang's nodes are released, though the preemptor needs one.
    const again = cycle([pending('a', 'next', 1, 4)], [], [node('n1', 0, 4), node('n2', 0, 4)]);
    expect(again.waiting[0]!.reason).toBe('InsufficientCapacity');
  });

  it.each<{ name: string; preemptor: Partial<PendingWorkload>; victim: Partial<ActiveReservation> }>([
    { name: 'of equal priority', preemptor: { priority: 0 }, victim: { priority: 0 } },
    { name: 'of higher priority', preemptor: { priority: 0 }, victim: { priority: 5 } },
    { name: 'that opted out (preemptible: false)', preemptor: { priority: 10 }, victim: { preemptible: false } },
    { name: 'when the class of the preemptor says Never', preemptor: { priority: 10, mayPreempt: false }, victim: {} },
    { name: 'in another workspace that does not borrow', preemptor: { priority: 10, namespace: 'b', key: 'Job/b/urgent' }, victim: {} },
    { name: 'charged pods (builds, imports)', preemptor: { priority: 10 }, victim: { key: undefined as unknown as string } },
  ])('never preempts a workload $name', ({ preemptor, victim }) => {
    const r = cycle([pending('a', 'urgent', 1, 8, preemptor)], [running('a', 'victim', ['n1'], 8, victim)], [node('n1', 0)]);
    expect(r.preempted).toEqual([]);
    expect(r.waiting[0]!.reason).toBe('InsufficientCapacity');
  });

  it('no loops: a preemptor waiting for its victims to go preempts nothing more, and its room is not given to others', () => {
    const r = cycle(
      [pending('a', 'small', 1, 4, { priority: 0, createdAt: 1 }), pending('a', 'urgent', 1, 8, { priority: 100, createdAt: 2 })],
      [running('a', 'low', ['n2'], 4)],
      // n1's 8 GPUs are being released by the victims urgent preempted last cycle.
      [node('n1', 0, 8), node('n2', 0)],
      { preempting: new Set(['Job/a/urgent']) },
    );
    expect(r.preempted).toEqual([]);
    expect(r.waiting.map((w) => [w.key, w.reason, w.position])).toEqual([
      ['Job/a/urgent', 'Preempting', 1],
      ['Job/a/small', 'InsufficientCapacity', 2],
    ]);
  });

  it('does not preempt for room that terminating pods are about to free', () => {
    const r = cycle([pending('a', 'urgent', 1, 8, { priority: 100 })], [running('a', 'low', ['n2'], 8)], [node('n1', 0, 8), node('n2', 0)]);
    expect(r.preempted).toEqual([]);
    expect(r.waiting[0]).toMatchObject({ reason: 'InsufficientCapacity', message: 'pool gpu has room once pods now terminating are gone; it is held for this workload' });
  });

  it('admits at once when the victims held quota only and their pods were never bound', () => {
    const unboundVictim: ActiveReservation = { ...running('a', 'low', [], 4), total: gpus(4), unbound: [{ task: 'worker', count: 1, requests: gpus(4) }] };
    const r = cycle([pending('a', 'urgent', 1, 4, { priority: 10 })], [unboundVictim], [node('n1', 4)], { quotas: new Map([['a', [quota('a', 4)]]]) });
    expect(keys(r.preempted)).toEqual(['Job/a/low']);
    expect(r.waiting[0]!.reason).toBe('Preempting');
  });
});

describe('cohorts: borrowing and reclaim', () => {
  const cohort = (extraA: Partial<Quota['spec']> = {}, extraB: Partial<Quota['spec']> = {}) =>
    new Map([
      ['a', [quota('a', 4, { cohort: 'research', ...extraA })]],
      ['b', [quota('b', 4, { cohort: 'research', ...extraB })]],
    ]);

  it('a workspace borrows the idle quota of another in its cohort, and the admission says it borrowed', () => {
    const r = cycle([pending('a', 'first', 1, 4, { createdAt: 1 }), pending('a', 'second', 1, 4, { createdAt: 2 })], [], [node('n1', 8)], { quotas: cohort() });
    expect(r.admitted.map((a) => [a.key, a.borrowed ?? false])).toEqual([
      ['Job/a/first', false],
      ['Job/a/second', true],
    ]);
  });

  it.each<{ name: string; a?: Partial<Quota['spec']>; b?: Partial<Quota['spec']>; want: number; message: string }>([
    { name: "the borrower's borrowingLimit", a: { borrowingLimit: { 'nvidia.com/gpu': 2 } }, want: 6, message: 'waiting for Quota default: nvidia.com/gpu 6 in use + 1 requested > 4 hard + 2 borrowingLimit' },
    { name: "the lender's lendingLimit", b: { lendingLimit: { 'nvidia.com/gpu': 1 } }, want: 5, message: 'waiting for cohort research of Quota default: nvidia.com/gpu 1 more than its members lend (5) would be in use' },
    { name: 'what the cohort has in total', want: 8, message: 'waiting for cohort research of Quota default: nvidia.com/gpu 1 more than its members lend (8) would be in use' },
  ])('borrowing stops at $name', ({ a, b, want, message }) => {
    const jobs = Array.from({ length: 9 }, (_, i) => pending('a', `j${i}`, 1, 1, { createdAt: i }));
    const r = cycle(jobs, [], [node('n1', 16)], { quotas: cohort(a, b) });
    expect(r.admitted).toHaveLength(want);
    expect(r.waiting[0]).toMatchObject({ reason: 'QuotaExceeded', message });
  });

  it('a workload that cannot be preempted does not borrow', () => {
    const r = cycle([pending('a', 'notebook', 1, 6, { preemptible: false })], [], [node('n1', 8)], { quotas: cohort() });
    expect(r.admitted).toEqual([]);
    expect(r.waiting[0]!.message).toBe('waiting for Quota default: nvidia.com/gpu 0 in use + 6 requested > 4 hard; it may not borrow from cohort research: it cannot be preempted');
  });

  it("the lender reclaims: the borrowing job is preempted in one cycle, the borrower's jobs within its quota are not", () => {
    const r = cycle(
      [pending('b', 'mine', 1, 4)],
      [running('a', 'within', ['n1'], 4, { admittedAt: 1, priority: -10 }), running('a', 'borrowing', ['n2'], 4, { admittedAt: 2, borrowed: true, priority: 50 })],
      [node('n1', 0), node('n2', 0)],
      { quotas: cohort() },
    );
    expect(r.preempted.map((p) => [p.key, p.reason])).toEqual([['Job/a/borrowing', 'QuotaReclaimed']]);
    expect(r.preempted[0]!.message).toBe('preempted by Job b/mine (priority 0): workspace b needed its lent quota back, and workspace a was borrowing it in their cohort');
    expect(r.waiting.map((w) => [w.key, w.reason])).toEqual([['Job/b/mine', 'Preempting']]);
  });

  it('reclaims no more than the borrower borrows: it stops once the borrower is back within its own quota', () => {
    const r = cycle(
      [pending('b', 'mine', 2, 4)],
      [running('a', 'within', ['n1'], 4, { admittedAt: 1 }), running('a', 'borrowing', ['n2'], 4, { admittedAt: 2, borrowed: true })],
      [node('n1', 0), node('n2', 0)],
      { quotas: cohort() },
    );
    expect(r.preempted).toEqual([]);
  });

  it('a workspace that would itself borrow does not reclaim', () => {
    const r = cycle([pending('b', 'greedy', 1, 6)], [running('a', 'borrowing', ['n1'], 8, { borrowed: true })], [node('n1', 0)], { quotas: cohort() });
    expect(r.preempted).toEqual([]);
    expect(r.waiting[0]!.reason).toBe('QuotaExceeded');
  });

  it('a workspace outside the cohort reclaims nothing', () => {
    const quotas = new Map([...cohort(), ['c', [quota('c', 4)]]]);
    const r = cycle([pending('c', 'outsider', 1, 4)], [running('a', 'borrowing', ['n1'], 4, { borrowed: true }), running('a', 'within', ['n2'], 4)], [node('n1', 0), node('n2', 0)], {
      quotas,
    });
    expect(r.preempted).toEqual([]);
  });
});

describe('fair sharing and queue positions', () => {
  it("one workspace's 200 queued jobs do not starve another's 5: they take turns by share", () => {
    const flood = Array.from({ length: 200 }, (_, i) => pending('a', `flood-${i}`, 1, 1, { createdAt: i }));
    const few = Array.from({ length: 5 }, (_, i) => pending('b', `few-${i}`, 1, 1, { createdAt: 1000 + i }));
    const quotas = new Map([
      ['a', [quota('a', 100)]],
      ['b', [quota('b', 100)]],
    ]);
    const r = cycle([...flood, ...few], [], [node('n1', 10)], { quotas });
    expect(r.admitted.filter((a) => a.key.startsWith('Job/b/'))).toHaveLength(5);
    expect(r.admitted).toHaveLength(10);
  });

  it('weights: a workspace of weight 3 gets three times the share before yielding', () => {
    const quotas = new Map([
      ['a', [quota('a', 12, { weight: 3 })]],
      ['b', [quota('b', 12)]],
    ]);
    const jobs = [...Array.from({ length: 12 }, (_, i) => pending('a', `a-${i}`, 1, 1, { createdAt: i })), ...Array.from({ length: 12 }, (_, i) => pending('b', `b-${i}`, 1, 1, { createdAt: i }))];
    const r = cycle(jobs, [], [node('n1', 8)], { quotas });
    expect(r.admitted.filter((a) => a.key.startsWith('Job/a/'))).toHaveLength(6);
    expect(r.admitted.filter((a) => a.key.startsWith('Job/b/'))).toHaveLength(2);
  });

  it('orders by share before priority across workspaces, by priority within one', () => {
    const quotas = new Map([
      ['a', [quota('a', 8)]],
      ['b', [quota('b', 8)]],
    ]);
    const r = cycle(
      [pending('a', 'urgent', 1, 1, { priority: 100 }), pending('b', 'low', 1, 1, { priority: 0 }), pending('b', 'high', 1, 1, { priority: 10 })],
      [running('a', 'busy', ['n0'], 4)],
      [node('n0', 0), node('n1', 1)],
      { quotas },
    );
    expect(keys(r.admitted)).toEqual(['Job/b/high']);
    expect(r.waiting.map((w) => [w.key, w.position])).toEqual([
      ['Job/b/low', 1],
      ['Job/a/urgent', 2],
    ]);
  });

  it('numbers positions per pool, in the order the cycle considered the workloads', () => {
    const r = admissionCycle({
      pending: [pending('a', 'g1', 1, 8, { createdAt: 1 }), pending('a', 'c1', 1, 8, { createdAt: 2, pool: 'cpu' }), pending('a', 'g2', 1, 8, { createdAt: 3 })],
      active: [],
      pools: new Map([
        ['gpu', { name: 'gpu', nodes: [node('n1', 0)] }],
        ['cpu', { name: 'cpu', nodes: [node('n2', 0)] }],
      ]),
      quotas: new Map(),
      policies: [],
    });
    expect(r.waiting.map((w) => [w.key, w.pool, w.position])).toEqual([
      ['Job/a/g1', 'gpu', 1],
      ['Job/a/c1', 'cpu', 1],
      ['Job/a/g2', 'gpu', 2],
    ]);
  });

  it('drains a deep queue in one cycle: every job that fits is admitted, not one per queue', () => {
    const jobs = Array.from({ length: 500 }, (_, i) => pending(`ns-${i % 5}`, `j${i}`, 1, 1, { createdAt: i }));
    const r = cycle(jobs, [], [node('n1', 400)]);
    expect(r.admitted).toHaveLength(400);
    expect(r.waiting).toHaveLength(100);
  });
});
