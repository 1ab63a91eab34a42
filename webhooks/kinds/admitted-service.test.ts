import { describe, expect, it } from '@jest/globals';
import type { ModelService } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { createContext, lookupsOf, updateContext } from '../testing/octopus.js';
import { validateAdmittedService } from './admitted-service.js';

const service = (spec: Partial<ModelService['spec']> = {}, replicasHeld?: number): ModelService => ({
  apiVersion: 'octopus.openi.pcl.cn/v1alpha1',
  kind: 'ModelService',
  metadata: { name: 'serve', namespace: 'team-a' },
  spec: { model: { name: 'm', version: 'v1' }, image: { reference: 'r/x:1' }, pool: 'cpu', replicas: 2, resourceSpec: 'cpu-4c', ...spec },
  ...(replicasHeld !== undefined
    ? { status: { admission: { pool: 'cpu', admittedAt: '2026-11-30T10:00:00Z', replicas: replicasHeld, resources: { cpu: '4' }, total: { cpu: String(4 * replicasHeld) } } } }
    : {}),
});
const frozen = (path: string, held: number) => ({
  path,
  message: `may not change while the service holds ${held} admitted replicas in pool cpu: suspend it (spec.suspend: true) or scale it to 0, change it, then start it again`,
});

describe('validateAdmittedService', () => {
  it.each([
    { name: 'refuses a pool swap while replicas are admitted', old: service({}, 2), now: service({ pool: 'gpu-a100' }), want: [frozen('spec.pool', 2)] },
    { name: 'refuses new requests while replicas are admitted', old: service({}, 2), now: service({ resourceSpec: undefined, resources: { requests: { cpu: 64 } } }), want: [frozen('spec.resourceSpec', 2), frozen('spec.resources', 2)] },
    { name: 'allows a scale-up: it is admitted again', old: service({}, 2), now: service({ replicas: 5 }), want: [] },
    { name: 'allows any change once the reservation is released', old: service({}, 0), now: service({ pool: 'gpu-a100' }), want: [] },
    { name: 'allows any change before admission', old: service(), now: service({ pool: 'gpu-a100' }), want: [] },
  ])('$name', ({ old, now, want }) => {
    expect(validateAdmittedService(updateContext(old, now), lookupsOf([])).errors).toEqual(want);
  });

  it('judges no create', () => {
    expect(validateAdmittedService(createContext(service({}, 2)), lookupsOf([])).errors).toEqual([]);
  });
});
