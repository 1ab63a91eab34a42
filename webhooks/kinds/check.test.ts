import { describe, expect, it } from '@jest/globals';
import { DevicePolicy, Job } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { Verdict } from '../admission.js';
import { createContext, lookupsOf, makeDevicePolicy, makeJob, makeTask, updateContext } from '../testing/octopus.js';
import { kindValidator, type Check } from './check.js';
import { validateResources } from './resources.js';

const lookups = lookupsOf([]);
const deny = (path: string, message: string, extra: Partial<Verdict> = {}): Check<unknown> => () => ({ errors: [{ path, message }], ...extra });
const note = (warning: string, annotation?: Record<string, string>): Check<unknown> => () => ({ errors: [], warnings: [warning], ...(annotation ? { auditAnnotations: annotation } : {}) });
/** Denies jobs with more than `max` tasks: the old object can have the same violation. */
const atMostTasks =
  (max: number): Check<Job> =>
  (ctx) => ({ errors: ctx.object.spec.tasks.length > max ? [{ path: 'spec.tasks', message: `at most ${max} tasks` }] : [] });
const cpu = { cpu: 1 };
const twoTasks = makeJob({ tasks: [makeTask('a', cpu), makeTask('b', cpu)] });

describe('kindValidator', () => {
  it.each<{ name: string; fields: Check<unknown>[]; policy: Check<unknown>[]; want: Partial<Verdict> }>([
    { name: 'allows what no rule refuses, with the rules’ warnings and annotations', fields: [note('w1')], policy: [note('w2', { quota: 'allowed' })], want: { errors: [], warnings: ['w1', 'w2'], auditAnnotations: { quota: 'allowed' } } },
    { name: 'denies a field rule as Invalid and skips policy', fields: [deny('spec.a', 'bad')], policy: [deny('spec.b', 'over quota')], want: { errors: [{ path: 'spec.a', message: 'bad' }], reason: 'Invalid' } },
    { name: 'denies a policy rule as Forbidden', fields: [note('w1')], policy: [deny('spec.b', 'over quota')], want: { errors: [{ path: 'spec.b', message: 'over quota' }], reason: 'Forbidden', warnings: ['w1'] } },
    { name: 'reports every error of the failing tier', fields: [deny('spec.a', 'x'), deny('spec.c', 'y')], policy: [], want: { errors: [{ path: 'spec.a', message: 'x' }, { path: 'spec.c', message: 'y' }] } },
  ])('$name', async ({ fields, policy, want }) => {
    const verdict = await kindValidator(Job, { fields, policy }, lookups).validate(createContext(makeJob()));
    expect(verdict).toMatchObject(want);
  });

  it('runs the CRD schema first, as Invalid, and no code rule over a malformed object', async () => {
    let ran = false;
    const spy: Check<unknown> = () => {
      ran = true;
      return { errors: [] };
    };
    const verdict = await kindValidator(Job, { fields: [spy], policy: [spy] }, lookups).validate(createContext(makeJob({ tasks: [] })));
    expect(verdict).toMatchObject({ reason: 'Invalid', errors: [{ path: 'spec.tasks', message: expect.stringContaining('should have at least 1 items') }] });
    expect(ran).toBe(false);
  });

  it('refuses a null list item with a field error, rather than failing', async () => {
    const job = { ...makeJob(), spec: { ...makeJob().spec, tasks: [null] } } as unknown as ReturnType<typeof makeJob>;
    const verdict = await kindValidator(Job, { fields: [], policy: [] }, lookups).validate(createContext(job));
    expect(verdict).toMatchObject({ reason: 'Invalid', errors: [{ path: 'spec.tasks[0]', message: expect.stringContaining('must be of type object') }] });
  });

  it('passes the old object to the schema, so transition rules apply', async () => {
    const policy = makeDevicePolicy('p', [{ resource: 'nvidia.com/gpu', maxPerPod: 1 }]);
    const validator = kindValidator(DevicePolicy, { fields: [], policy: [] }, lookups);
    expect((await validator.validate(updateContext(policy, policy))).errors).toEqual([]);
  });

  it('allows a DELETE without judging it', async () => {
    const job = makeJob({ tasks: [] });
    const verdict = await kindValidator(Job, { fields: [deny('x', 'y')], policy: [] }, lookups).validate({ ...createContext(job), operation: 'DELETE', object: null, oldObject: job });
    expect(verdict.errors).toEqual([]);
  });

  describe('on UPDATE, holds only new errors against the object (ratcheting)', () => {
    it('allows an edit of an object that already broke the rule, and runs no later tier', async () => {
      let policyRan = false;
      const policy: Check<unknown> = () => {
        policyRan = true;
        return { errors: [] };
      };
      const edited = { ...twoTasks, metadata: { ...twoTasks.metadata, labels: { team: 'x' } } };
      const verdict = await kindValidator(Job, { fields: [atMostTasks(1) as Check<unknown>], policy: [policy] }, lookups).validate(updateContext(twoTasks, edited));
      expect(verdict.errors).toEqual([]);
      expect(policyRan).toBe(false);
    });

    it('lets a controller remove its finalizer from an object the schema has since come to refuse', async () => {
      const legacy = makeJob({ tasks: [] });
      const finalized = { ...legacy, metadata: { ...legacy.metadata, finalizers: ['octopus.openi.pcl.cn/cleanup'] } };
      const verdict = await kindValidator(Job, { fields: [], policy: [] }, lookups).validate(updateContext(finalized, legacy));
      expect(verdict.errors).toEqual([]);
    });

    it('judges an update that repairs a malformed object by the new object alone', async () => {
      const malformed = { ...makeJob(), spec: { ...makeJob().spec, tasks: [null] } } as unknown as Job;
      const halfGpu = makeJob({ tasks: [makeTask('worker', { 'nvidia.com/gpu': '0.5' })] });
      const verdict = await kindValidator(Job, { fields: [validateResources as Check<unknown>], policy: [] }, lookups).validate(updateContext(malformed, halfGpu));
      expect(verdict).toMatchObject({ reason: 'Invalid', errors: [{ path: 'spec.tasks[0].resources.requests[nvidia.com/gpu]' }] });
    });

    it('denies an update that breaks a rule the old object kept', async () => {
      const verdict = await kindValidator(Job, { fields: [atMostTasks(1) as Check<unknown>], policy: [] }, lookups).validate(updateContext(makeJob(), twoTasks));
      expect(verdict.errors).toEqual([{ path: 'spec.tasks', message: 'at most 1 tasks' }]);
    });

    it('denies an update whose error differs from the old one', async () => {
      const threeTasks = makeJob({ tasks: [makeTask('a', cpu), makeTask('b', cpu), makeTask('c', cpu)] });
      const moreThan = (ctx: Parameters<Check<Job>>[0]) => ({ errors: [{ path: 'spec.tasks', message: `${ctx.object.spec.tasks.length} tasks` }] });
      const verdict = await kindValidator(Job, { fields: [], policy: [moreThan as Check<unknown>] }, lookups).validate(updateContext(twoTasks, threeTasks));
      expect(verdict).toMatchObject({ reason: 'Forbidden', errors: [{ path: 'spec.tasks', message: '3 tasks' }] });
    });
  });
});
