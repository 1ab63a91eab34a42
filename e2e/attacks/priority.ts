/**
 * Attack 12: self-assigned priority. Any member could write `spec.priority: 1000000` and jump every
 * queue, and preempt everyone else's work. Priority is now an admin-defined WorkloadPriorityClass that a
 * Workspace lists for its members; each way a member might still raise their own is tried again as the
 * member: a class the workspace does not list, opting out of preemption, the old integer, and making or
 * changing a class or the Workspace's list.
 */
import { describe, expect, it } from '@jest/globals';
import { apiVersion, group, type Job, type WorkloadPriorityClass, type Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { eventually } from '../harness/kube.js';
import { attackerPriorityClasses, deleteJob, jobRef, type AttackWorld } from './tenants.js';

const keepRunning = { 'sim.octopus.openi.pcl.cn/outcome': 'Run' };

function job(ns: string, name: string, extra: Record<string, unknown> = {}): Job {
  const worker = { name: 'worker', replicas: 1, resources: { requests: { cpu: '100m', memory: '64Mi' } }, podMetadata: { annotations: keepRunning } };
  return { apiVersion, kind: 'Job', metadata: { name, namespace: ns }, spec: { image: { reference: 'docker.io/library/python:3.12' }, pool: 'cpu', tasks: [worker], ...extra } };
}

const classRef = (name: string) => ({ apiVersion, kind: 'WorkloadPriorityClass', metadata: { name } });

export function describePriorityAttacks(world: () => AttackWorld): void {
  describe('12. Self-assigned priority', () => {
    it('refuses a class the workspace does not list, naming the field and the classes it does; nothing is created', async () => {
      const w = world();
      const allowed = `Workspace ${w.ns} may use only priority classes ${attackerPriorityClasses.join(', ')} (its spec.priorityClasses)`;
      // urgent and production exist (the admin examples); the member's workspace lists neither.
      for (const className of ['urgent', 'production']) {
        expect(await w.read(classRef(className))).toBeDefined();
        const name = `atk-class-${className}`;
        const refused = await w.tryApply(job(w.ns, name, { priorityClassName: className }));
        expect(refused).toContain(`spec.priorityClassName: ${allowed}, not ${className}`);
        expect(await w.read(jobRef(w, name))).toBeUndefined();
      }
      // The same through kubectl, as a user would type it: a 403 from the Job webhook.
      const typed = w.kubectl(['create', '-f', '-'], JSON.stringify(job(w.ns, 'atk-class-typed', { priorityClassName: 'urgent' })));
      expect(typed.status).not.toBe(0);
      expect(typed.output).toContain(`admission webhook "job.validate.${group}" denied the request`);
      expect(typed.output).toContain(`${allowed}, not urgent`);
      expect(await w.read(jobRef(w, 'atk-class-typed'))).toBeUndefined();
    }, 60_000);

    it('refuses preemptible: false under a class that does not allow it, and without a class', async () => {
      const w = world();
      const standard = await w.read<WorkloadPriorityClass>(classRef('standard'));
      expect(standard?.spec.allowNonPreemptible).not.toBe(true);
      const cases = [
        { name: 'atk-unpreemptible', extra: { priorityClassName: 'standard', preemptible: false }, want: 'spec.preemptible: WorkloadPriorityClass standard does not allow preemptible: false' },
        { name: 'atk-unpreemptible-bare', extra: { preemptible: false }, want: 'spec.preemptible: a Job without spec.priorityClassName may not set preemptible: false' },
      ];
      for (const c of cases) {
        expect(await w.tryApply(job(w.ns, c.name, c.extra))).toContain(c.want);
        expect(await w.read(jobRef(w, c.name))).toBeUndefined();
      }
    }, 60_000);

    it('refuses the old free integer as an unknown field; when the field is dropped, the Job is admitted at value 0', async () => {
      const w = world();
      const name = 'atk-priority-integer';
      const manifest = JSON.stringify(job(w.ns, name, { priority: 1000000 }));
      const strict = w.kubectl(['apply', '-f', '-'], manifest);
      expect(strict.status).not.toBe(0);
      expect(strict.output).toContain('unknown field "spec.priority"');
      expect(await w.read(jobRef(w, name))).toBeUndefined();
      // Without client validation the apiserver prunes the field: the Job exists with no priority of the member's choosing.
      const lax = w.kubectl(['apply', '--validate=false', '-f', '-'], manifest);
      expect(lax.status).toBe(0);
      try {
        const admitted = await eventually('the job admitted', async () => {
          const j = await w.read<Job & { spec: { priority?: number } }>(jobRef(w, name));
          return j?.status?.admission ? j : undefined;
        }, 90_000);
        expect(admitted.spec.priority).toBeUndefined();
        expect(admitted.spec.priorityClassName).toBeUndefined();
        expect(admitted.status?.admission?.priority).toBe(0);
      } finally {
        await deleteJob(w, name);
      }
    }, 180_000);

    it("refuses making or changing a priority class, and changing the Workspace's list: both are the admin's", async () => {
      const w = world();
      const own: WorkloadPriorityClass = { apiVersion, kind: 'WorkloadPriorityClass', metadata: { name: 'atk-mine' }, spec: { value: 1000000, allowNonPreemptible: true } };
      const made = w.kubectl(['create', '-f', '-'], JSON.stringify(own));
      expect(made.status).not.toBe(0);
      expect(made.output).toContain('User "mallory" cannot create resource "workloadpriorityclasses"');
      expect(await w.read(classRef('atk-mine'))).toBeUndefined();

      // Applied, not `kubectl patch`: that reads the object first, which the member may not either.
      const raised = await w.tryApply({ ...classRef('standard'), spec: { value: 1000000, allowNonPreemptible: true } } as WorkloadPriorityClass);
      expect(raised).toContain('User "mallory" cannot patch resource "workloadpriorityclasses"');
      const standard = await w.read<WorkloadPriorityClass>(classRef('standard'));
      expect({ value: standard?.spec.value, allowNonPreemptible: standard?.spec.allowNonPreemptible }).toEqual({ value: 100, allowNonPreemptible: false });

      const listed = await w.tryApply({ apiVersion, kind: 'Workspace', metadata: { name: w.ns }, spec: { priorityClasses: ['urgent', 'production'] } } as Workspace);
      expect(listed).toContain('User "mallory" cannot patch resource "workspaces"');
      const workspace = await w.read<Workspace>({ apiVersion, kind: 'Workspace', metadata: { name: w.ns } });
      expect(workspace?.spec.priorityClasses).toEqual(attackerPriorityClasses);
    }, 60_000);
  });
}
