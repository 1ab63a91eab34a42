import { describe, expect, it } from '@jest/globals';
import { addResources, exceeded, fits, formatDecimal, formatQuantity, formatResources, parseQuantity, parseResources, QuantityError, subtractResources } from './quantity.js';

describe('parseQuantity', () => {
  it.each([
    { q: '4', want: 4000n },
    { q: 4, want: 4000n },
    { q: '500m', want: 500n },
    { q: '0.5', want: 500n },
    { q: '.5', want: 500n },
    { q: '1.5k', want: 1_500_000n },
    { q: '32Gi', want: 32n * 1024n ** 3n * 1000n },
    { q: '1Ti', want: 1024n ** 4n * 1000n },
    { q: '128M', want: 128_000_000_000n },
    { q: '1e3', want: 1_000_000n },
    { q: '2E', want: 2n * 10n ** 18n * 1000n },
    { q: '100n', want: 1n }, // below a milli rounds up, like the scheduler
    { q: '-2', want: -2000n },
  ])('$q → $want milli-units', ({ q, want }) => {
    expect(parseQuantity(q)).toBe(want);
  });

  it.each(['', 'lots', '8GB', '1.2.3', 'Gi', '--1'])('rejects %j', (q) => {
    expect(() => parseQuantity(q)).toThrow(QuantityError);
  });
});

describe('formatQuantity', () => {
  it.each([
    { millis: 4000n, binary: false, want: '4' },
    { millis: 1500n, binary: false, want: '1500m' },
    { millis: 32n * 1024n ** 3n * 1000n, binary: true, want: '32Gi' },
    { millis: 1000n * 1000n, binary: true, want: '1000' },
    { millis: 0n, binary: true, want: '0' },
  ])('$millis (binary=$binary) → $want', ({ millis, binary, want }) => {
    expect(formatQuantity(millis, { binary })).toBe(want);
  });
});

describe('formatDecimal', () => {
  it.each([
    { millis: 12500n, want: '12.5' },
    { millis: 1000n, want: '1' },
    { millis: 5n, want: '0.005' },
    { millis: 0n, want: '0' },
  ])('$millis → $want', ({ millis, want }) => {
    expect(formatDecimal(millis)).toBe(want);
  });
});

describe('resource lists', () => {
  const gpu4 = parseResources({ 'nvidia.com/gpu': 4, cpu: '32', memory: '256Gi' });
  const node = parseResources({ 'nvidia.com/gpu': 8, cpu: '64', memory: '512Gi' });

  it('adds and subtracts exactly', () => {
    expect(formatResources(addResources(gpu4, gpu4))).toEqual({ cpu: '64', memory: '512Gi', 'nvidia.com/gpu': '8' });
    expect(formatResources(subtractResources(node, gpu4))).toEqual({ cpu: '32', memory: '256Gi', 'nvidia.com/gpu': '4' });
  });

  it.each([
    { name: 'fits in a bigger node', request: gpu4, available: node, want: true },
    { name: 'does not fit when one resource is short', request: addResources(gpu4, parseResources({ 'nvidia.com/gpu': 5 })), available: node, want: false },
    { name: 'an absent resource counts as zero', request: parseResources({ 'huawei.com/Ascend910': 1 }), available: node, want: false },
    { name: 'zero requests always fit', request: parseResources({ 'huawei.com/Ascend910': 0 }), available: node, want: true },
  ])('$name', ({ request, available, want }) => {
    expect(fits(request, available)).toBe(want);
  });

  it('reports only the limited resources that are exceeded', () => {
    const limit = parseResources({ 'nvidia.com/gpu': 6 });
    expect(exceeded(addResources(gpu4, gpu4), limit)).toEqual([{ resource: 'nvidia.com/gpu', requested: 8000n, limit: 6000n }]);
    expect(exceeded(gpu4, limit)).toEqual([]);
  });
});
