/** Job and admission metrics, prefix octopus_. Gauges are computed from the caches at scrape time. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Job, ModelService, Notebook } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { parseResources } from '../../apis/quantity.js';
import type { CycleResult } from './cycle.js';
import type { SchedulingCaches } from '../cluster/caches.js';

function asNumber(millis: bigint): number {
  return Number(millis) / 1000;
}

export class AdmissionMetrics {
  private readonly attempts: Counter<'result' | 'reason'>;
  private readonly wait: Histogram;
  private readonly cycleDuration: Histogram;
  private readonly preemptions: Counter<'reason'>;

  constructor(registry: Registry, caches: Pick<SchedulingCaches, 'jobs' | 'quotas'>) {
    this.attempts = new Counter({
      name: 'octopus_admission_attempts_total',
      help: 'Admission decisions per cycle and workload: admitted, or waiting with its reason.',
      labelNames: ['result', 'reason'],
      registers: [registry],
    });
    this.wait = new Histogram({
      name: 'octopus_admission_wait_seconds',
      help: 'Time from entering the queue to admission.',
      buckets: [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14400],
      registers: [registry],
    });
    this.cycleDuration = new Histogram({
      name: 'octopus_admission_cycle_duration_seconds',
      help: 'Time to compute one admission cycle (excluding status writes).',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
    this.preemptions = new Counter({
      name: 'octopus_preemptions_total',
      help: 'Jobs preempted, by reason: LowerPriority (same workspace) or QuotaReclaimed (borrowed quota taken back).',
      labelNames: ['reason'],
      registers: [registry],
    });
    new Gauge({
      name: 'octopus_jobs',
      help: 'Jobs by namespace and phase.',
      labelNames: ['namespace', 'phase'],
      registers: [registry],
      collect() {
        this.reset();
        const counts = new Map<string, number>();
        for (const j of caches.jobs.list()) {
          const key = `${j.metadata.namespace}\u0000${j.status?.phase ?? 'Queued'}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
        for (const [key, n] of counts) {
          const [namespace, phase] = key.split('\u0000');
          this.set({ namespace: namespace!, phase: phase! }, n);
        }
      },
    });
    const quotaGauge = (name: string, help: string, pick: (q: ReturnType<typeof caches.quotas.list>[number]) => Record<string, string | number> | undefined) =>
      new Gauge({
        name,
        help,
        labelNames: ['namespace', 'quota', 'resource'],
        registers: [registry],
        collect() {
          this.reset();
          for (const q of caches.quotas.list()) {
            for (const [resource, v] of parseResources(pick(q))) this.set({ namespace: q.metadata.namespace!, quota: q.metadata.name!, resource }, asNumber(v));
          }
        },
      });
    quotaGauge('octopus_quota_hard', 'Quota hard limit per workspace and resource.', (q) => q.spec.hard);
    quotaGauge('octopus_quota_used', 'Quota reserved now per workspace and resource.', (q) => q.status?.used);
  }

  /** A Job waits from queuedAt; a Notebook from its creation (it queues as soon as it is created or resumed). */
  admitted(workload: Job | Notebook | ModelService, now: number): void {
    const since = workload.kind === 'Job' ? (workload as Job).status?.queuedAt : (workload.metadata.creationTimestamp as unknown as string | undefined);
    const queuedAt = since ? Date.parse(since) : undefined;
    if (queuedAt !== undefined) this.wait.observe(Math.max(0, now - queuedAt) / 1000);
  }

  preempted(reason: string): void {
    this.preemptions.inc({ reason });
  }

  cycle(result: CycleResult, ms: number): void {
    this.cycleDuration.observe(ms / 1000);
    if (result.admitted.length) this.attempts.inc({ result: 'admitted', reason: '' }, result.admitted.length);
    const byReason = new Map<string, number>();
    for (const w of result.waiting) byReason.set(w.reason, (byReason.get(w.reason) ?? 0) + 1);
    for (const [reason, n] of byReason) this.attempts.inc({ result: 'waiting', reason }, n);
  }
}
