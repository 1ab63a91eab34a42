import { describe, expect, it } from '@jest/globals';
import type { AdmissionContext, JsonPatchOp } from '../admission.js';
import { createContext, lookupsOf, makeJob, updateContext } from '../testing/octopus.js';
import { addWorkspaceLabel, validateWorkspaceLabel } from './workspace-label.js';

const label = 'octopus.openi.pcl.cn/workspace';
const withMetadata = (metadata: unknown) => ({ ...makeJob(), metadata }) as unknown as ReturnType<typeof makeJob>;

describe('addWorkspaceLabel', () => {
  it.each<{ name: string; ctx: AdmissionContext; want: JsonPatchOp[] }>([
    { name: 'adds the labels map when there is none', ctx: createContext(makeJob()), want: [{ op: 'add', path: '/metadata/labels', value: { [label]: 'team-a' } }] },
    {
      name: 'adds the label beside the user’s, escaping the slash',
      ctx: createContext(withMetadata({ name: 'train', namespace: 'team-a', labels: { app: 'x' } })),
      want: [{ op: 'add', path: '/metadata/labels/octopus.openi.pcl.cn~1workspace', value: 'team-a' }],
    },
    { name: 'replaces a null labels map', ctx: createContext(withMetadata({ name: 'train', namespace: 'team-a', labels: null })), want: [{ op: 'add', path: '/metadata/labels', value: { [label]: 'team-a' } }] },
    { name: 'never rewrites a label the user wrote', ctx: createContext(withMetadata({ name: 'train', namespace: 'team-a', labels: { [label]: 'team-b' } })), want: [] },
    { name: 'adds it back on an update that dropped it', ctx: updateContext(makeJob(), makeJob()), want: [{ op: 'add', path: '/metadata/labels', value: { [label]: 'team-a' } }] },
    { name: 'leaves an object being deleted alone', ctx: updateContext(makeJob(), withMetadata({ name: 'train', namespace: 'team-a', deletionTimestamp: '2025-06-01T08:00:00Z' })), want: [] },
    { name: 'leaves cluster-scoped objects alone', ctx: { ...createContext(makeJob()), namespace: undefined } as AdmissionContext, want: [] },
    { name: 'leaves metadata the schema will refuse alone', ctx: createContext(withMetadata('not an object')), want: [] },
    { name: 'leaves labels the schema will refuse alone', ctx: createContext(withMetadata({ labels: ['x'] })), want: [] },
    { name: 'does nothing on DELETE', ctx: { ...createContext(makeJob()), operation: 'DELETE', object: null, oldObject: makeJob() }, want: [] },
  ])('$name', ({ ctx, want }) => {
    expect(addWorkspaceLabel(ctx)).toEqual(want);
  });
});

describe('validateWorkspaceLabel', () => {
  it.each([
    { name: 'allows no label', labels: undefined, want: [] },
    { name: 'allows the namespace', labels: { [label]: 'team-a' }, want: [] },
    {
      name: 'denies another workspace',
      labels: { [label]: 'team-b' },
      want: [{ path: `metadata.labels[${label}]`, message: `Invalid value: "team-b": must be the object's namespace, team-a (or be left out: it is added on admission)` }],
    },
  ])('$name', ({ labels, want }) => {
    const job = makeJob();
    expect(validateWorkspaceLabel(createContext({ ...job, metadata: { ...job.metadata, ...(labels ? { labels } : {}) } }), lookupsOf([]))).toEqual({ errors: want });
  });
});
