import { describe, expect, it } from '@jest/globals';
import { findCondition, isTrue, removeCondition, setCondition, type Condition } from './conditions.js';

const earlier = '2025-01-01T00:00:00Z';
const nowMs = Date.parse('2025-06-01T12:00:00.789Z');
const wantNow = '2025-06-01T12:00:00Z';

const ready = (status: Condition['status'], extra: Partial<Condition> = {}): Condition => ({
  type: 'Ready',
  status,
  observedGeneration: 1,
  lastTransitionTime: earlier,
  reason: 'Old',
  message: 'old',
  ...extra,
});

describe('setCondition', () => {
  it.each([
    {
      name: 'adds a missing condition with the current time',
      conditions: undefined,
      want: [{ type: 'Ready', status: 'True', observedGeneration: 2, lastTransitionTime: wantNow, reason: 'Done', message: 'all good' }],
    },
    {
      name: 'keeps lastTransitionTime when the status stays, updating reason, message and generation',
      conditions: [ready('True')],
      want: [{ type: 'Ready', status: 'True', observedGeneration: 2, lastTransitionTime: earlier, reason: 'Done', message: 'all good' }],
    },
    {
      name: 'moves lastTransitionTime when the status flips',
      conditions: [ready('False')],
      want: [{ type: 'Ready', status: 'True', observedGeneration: 2, lastTransitionTime: wantNow, reason: 'Done', message: 'all good' }],
    },
    {
      name: 'leaves other conditions and their order alone',
      conditions: [ready('Unknown', { type: 'Scheduled' }), ready('False'), ready('True', { type: 'Synced' })],
      want: [
        ready('Unknown', { type: 'Scheduled' }),
        { type: 'Ready', status: 'True', observedGeneration: 2, lastTransitionTime: wantNow, reason: 'Done', message: 'all good' },
        ready('True', { type: 'Synced' }),
      ],
    },
  ])('$name', ({ conditions, want }) => {
    expect(setCondition(conditions, { type: 'Ready', status: 'True', reason: 'Done', message: 'all good' }, 2, nowMs)).toEqual(want);
  });

  it('returns an equal array when nothing changes, so no status write follows', () => {
    const once = setCondition(undefined, { type: 'Ready', status: 'True', reason: 'Done' }, 3, nowMs);
    const twice = setCondition(once, { type: 'Ready', status: 'True', reason: 'Done' }, 3, nowMs + 60_000);
    expect(twice).toEqual(once);
  });

  it('does not change the array it was given', () => {
    const conditions = [ready('False')];
    setCondition(conditions, { type: 'Ready', status: 'True', reason: 'Done' }, 2, nowMs);
    expect(conditions).toEqual([ready('False')]);
  });

  it('accepts a Date and omits observedGeneration when unknown', () => {
    expect(setCondition([], { type: 'Ready', status: 'False', reason: 'Waiting' }, undefined, new Date(nowMs))).toEqual([
      { type: 'Ready', status: 'False', lastTransitionTime: wantNow, reason: 'Waiting', message: '' },
    ]);
  });
});

describe('findCondition, isTrue, removeCondition', () => {
  const conditions = [ready('True'), ready('False', { type: 'Synced' })];

  it.each([
    { type: 'Ready', wantFound: true, wantTrue: true },
    { type: 'Synced', wantFound: true, wantTrue: false },
    { type: 'Missing', wantFound: false, wantTrue: false },
  ])('$type: found $wantFound, true $wantTrue', ({ type, wantFound, wantTrue }) => {
    expect(findCondition(conditions, type) !== undefined).toBe(wantFound);
    expect(isTrue(conditions, type)).toBe(wantTrue);
  });

  it('removes one type', () => {
    expect(removeCondition(conditions, 'Ready')).toEqual([ready('False', { type: 'Synced' })]);
    expect(removeCondition(undefined, 'Ready')).toEqual([]);
  });
});
