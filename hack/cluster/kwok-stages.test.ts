import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from './paths.js';
import { hostImage } from './pod-runner.js';

interface Expression {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}
interface Stage {
  metadata: { name: string };
  spec: { resourceRef: { kind: string }; selector: { matchExpressions: Expression[] } };
}

/** True when no value of one key can satisfy both expressions. */
function disjoint(a: Expression, b: Expression): boolean {
  const pair = new Set([a.operator, b.operator]);
  if (pair.has('Exists') && pair.has('DoesNotExist')) return true;
  if (a.operator === 'In' && b.operator === 'DoesNotExist') return true;
  if (b.operator === 'In' && a.operator === 'DoesNotExist') return true;
  if (a.operator === 'In' && b.operator === 'In') return !a.values!.some((v) => b.values!.includes(v));
  if (a.operator === 'In' && b.operator === 'NotIn') return a.values!.every((v) => b.values!.includes(v));
  if (a.operator === 'NotIn' && b.operator === 'In') return b.values!.every((v) => a.values!.includes(v));
  return false;
}

function exclusive(a: Stage, b: Stage): boolean {
  return a.spec.selector.matchExpressions.some((ea) =>
    b.spec.selector.matchExpressions.some((eb) => ea.key === eb.key && disjoint(ea, eb)),
  );
}

const stages = parseAllDocuments(readFileSync(join(repoRoot, 'hack', 'cluster', 'kwok-stages.yaml'), 'utf8')).map(
  (d) => d.toJS() as Stage,
);

describe('kwok pod stages', () => {
  it('cover start, succeed, fail and delete', () => {
    expect(stages.map((s) => s.metadata.name).sort()).toEqual([
      'octopus-pod-delete',
      'octopus-pod-fail',
      'octopus-pod-start',
      'octopus-pod-succeed',
    ]);
    for (const s of stages) expect(s.spec.resourceRef.kind).toBe('Pod');
  });

  it.each(['octopus-pod-start', 'octopus-pod-succeed', 'octopus-pod-fail'])('%s leaves pods of the host image to the pod runner', (name) => {
    const stage = stages.find((s) => s.metadata.name === name)!;
    expect(stage.spec.selector.matchExpressions).toContainEqual({ key: '.spec.containers[].image', operator: 'NotIn', values: [hostImage] });
  });

  // kwok picks at random among matching stages, so any overlap makes outcomes flaky.
  const pairs = stages.flatMap((a, i) => stages.slice(i + 1).map((b) => [a, b] as const));
  it.each(pairs.map(([a, b]) => ({ a: a.metadata.name, b: b.metadata.name, sa: a, sb: b })))(
    '$a and $b never match the same pod',
    ({ sa, sb }) => {
      expect(exclusive(sa, sb)).toBe(true);
    },
  );
});
