import { describe, expect, it } from '@jest/globals';
import { apiVersion, type Job, type ModelService, type Notebook, type WorkloadPriorityClass, type Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { FieldError } from '../admission.js';
import { createContext, lookupsOf, makeJob, makeNotebook, makePriorityClass, makeTask, updateContext } from '../testing/octopus.js';
import type { WriteContext } from './check.js';
import { octopusAdmission } from './index.js';
import { validatePriorityClass, warnPriorityValueChanged } from './priority-class.js';

const workspace = (name: string, priorityClasses?: string[]): Workspace => ({ apiVersion, kind: 'Workspace', metadata: { name }, spec: priorityClasses ? { priorityClasses } : {} });
const classes = [makePriorityClass('standard', 100), makePriorityClass('urgent', 1000), makePriorityClass('production', 500, { allowNonPreemptible: true }), makePriorityClass('batch', 0)];
// team-a may use three classes; team-b sets no list; scratch has no Workspace.
const lookups = lookupsOf([...classes, workspace('team-a', ['standard', 'urgent', 'production', 'retired']), workspace('team-b')]);

const inNamespace = <T extends Job | Notebook | ModelService>(obj: T, namespace: string): T => ({ ...obj, metadata: { ...obj.metadata, namespace } });
const classed = (priorityClassName: string, extra: Partial<Job['spec']> = {}): Job => makeJob({ priorityClassName, ...extra });
const modelService = (priorityClassName: string): ModelService => ({
  apiVersion,
  kind: 'ModelService',
  metadata: { name: 'serve', namespace: 'team-a' },
  spec: { model: { name: 'bert', version: 'v1' }, image: { reference: 'docker.io/pytorch/torchserve:0.12.0-cpu' }, resources: { requests: { cpu: 1 } }, pool: 'cpu', priorityClassName },
});

const className = (message: string): FieldError[] => [{ path: 'spec.priorityClassName', message }];
const notInTeamA = (name: string) => className(`Workspace team-a may use only priority classes standard, urgent, production, retired (its spec.priorityClasses), not ${name}`);
const preemptible = (message: string): FieldError[] => [{ path: 'spec.preemptible', message }];

describe('validatePriorityClass', () => {
  it.each<{ name: string; ctx: WriteContext<Job | Notebook | ModelService>; want: FieldError[] }>([
    { name: 'allows a Job without a class', ctx: createContext(makeJob()), want: [] },
    { name: 'allows a Job naming a class its workspace lists', ctx: createContext(classed('urgent')), want: [] },
    { name: 'denies a Job naming a class its workspace does not list, listing those it does', ctx: createContext(classed('batch')), want: notInTeamA('batch') },
    // Not listed and not there: the member hears only what the Workspace allows, not what else the cluster has.
    { name: 'denies a class neither listed nor existing by the list alone', ctx: createContext(classed('ghost')), want: notInTeamA('ghost') },
    { name: 'denies a listed class that does not exist', ctx: createContext(classed('retired')), want: className('WorkloadPriorityClass retired does not exist') },
    { name: 'denies a Notebook likewise', ctx: createContext(makeNotebook({ priorityClassName: 'batch' })), want: notInTeamA('batch') },
    { name: 'denies a ModelService likewise', ctx: createContext(modelService('batch')), want: notInTeamA('batch') },
    {
      name: 'denies every class where the workspace lists none',
      ctx: createContext(inNamespace(classed('standard'), 'team-b')),
      want: className('Workspace team-b allows no priority class (its spec.priorityClasses lists none), not standard'),
    },
    { name: 'allows any existing class in a namespace no Workspace owns', ctx: createContext(inNamespace(classed('batch'), 'scratch')), want: [] },
    { name: 'denies a missing class in a namespace no Workspace owns', ctx: createContext(inNamespace(classed('ghost'), 'scratch')), want: className('WorkloadPriorityClass ghost does not exist') },
    { name: 'judges a class changed on update', ctx: updateContext(classed('urgent'), classed('batch')), want: notInTeamA('batch') },
    { name: 'allows preemptible: false under a class that allows it', ctx: createContext(classed('production', { preemptible: false })), want: [] },
    { name: 'allows preemptible: true under any class', ctx: createContext(classed('urgent', { preemptible: true })), want: [] },
    {
      name: 'denies preemptible: false under a class that does not allow it',
      ctx: createContext(classed('urgent', { preemptible: false })),
      want: preemptible('WorkloadPriorityClass urgent does not allow preemptible: false (its spec.allowNonPreemptible is not true)'),
    },
    {
      name: 'denies preemptible: false without a class',
      ctx: createContext(makeJob({ preemptible: false })),
      want: preemptible('a Job without spec.priorityClassName may not set preemptible: false; only a priority class with allowNonPreemptible allows it'),
    },
    {
      name: 'denies preemptible: false without a class in a namespace no Workspace owns too',
      ctx: createContext(inNamespace(makeJob({ preemptible: false }), 'scratch')),
      want: preemptible('a Job without spec.priorityClassName may not set preemptible: false; only a priority class with allowNonPreemptible allows it'),
    },
    // One cause, one error: the class it may not name is the problem, not what that class would allow.
    { name: 'reports only the class when the class itself is refused', ctx: createContext(classed('batch', { preemptible: false })), want: notInTeamA('batch') },
  ])('$name', ({ ctx, want }) => {
    expect(validatePriorityClass(ctx, lookups).errors).toEqual(want);
  });

  describe('through the served validator', () => {
    const admission = octopusAdmission(lookups);
    const small = { tasks: [makeTask('worker', { cpu: 1 })] };

    it('refuses a class the workspace does not list as Forbidden', async () => {
      const verdict = await admission.validators.job!.validate(createContext(classed('batch', small)));
      expect(verdict).toMatchObject({ reason: 'Forbidden', errors: notInTeamA('batch') });
    });

    it('does not block edits of a Job whose class its workspace stopped listing', async () => {
      const old = classed('batch', small);
      const suspended = classed('batch', { ...small, suspend: true });
      expect((await admission.validators.job!.validate(updateContext(old, suspended))).errors).toEqual([]);
    });

    it('refuses switching such a Job to another class it may not use', async () => {
      const old = classed('batch', small);
      const verdict = await admission.validators.job!.validate(updateContext(old, classed('ghost', small)));
      expect(verdict.errors).toEqual(notInTeamA('ghost'));
    });
  });
});

describe('warnPriorityValueChanged', () => {
  const at = (value: number, extra: Partial<WorkloadPriorityClass['spec']> = {}) => makePriorityClass('urgent', value, extra);

  it.each<{ name: string; ctx: WriteContext<WorkloadPriorityClass>; want: string[] }>([
    { name: 'says nothing on create', ctx: createContext(at(1000)), want: [] },
    { name: 'says nothing when the value stays', ctx: updateContext(at(1000), at(1000, { allowNonPreemptible: true })), want: [] },
    {
      name: 'warns when the value changes',
      ctx: updateContext(at(1000), at(10)),
      want: [
        'spec.value: 1000 → 10 takes effect at once for every workload of class urgent waiting for admission (its place in the queue, whom it may preempt); admitted Jobs keep the value they were admitted with (status.admission.priority) until admitted again',
      ],
    },
  ])('$name', ({ ctx, want }) => {
    const verdict = warnPriorityValueChanged(ctx, lookupsOf([]));
    expect(verdict.errors).toEqual([]);
    expect(verdict.warnings ?? []).toEqual(want);
  });

  it('is a warning of the served validator, never a denial', async () => {
    const verdict = await octopusAdmission(lookupsOf([])).validators.workloadpriorityclass!.validate(updateContext(at(1000), at(-5)));
    expect(verdict.errors).toEqual([]);
    expect(verdict.warnings).toEqual([expect.stringContaining('spec.value: 1000 → -5 takes effect at once')]);
  });
});
