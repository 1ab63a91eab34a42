import { describe, expect, it } from '@jest/globals';
import { addInto, addResources, exceeded, fits, formatDecimal, formatQuantity, formatResources, maxQuantityExponent, maxQuantityLength, parseCachedResources, parseQuantity, parseResources, QuantityError, subtractResources } from './quantity.js';

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

  // The bounds are inclusive: the largest accepted exponent and length still parse exactly.
  it.each([
    { q: `1e${maxQuantityExponent}`, want: 10n ** BigInt(maxQuantityExponent + 3) },
    { q: `1e-${maxQuantityExponent}`, want: 1n },
    { q: '0.000000000000000001e36', want: 10n ** 21n },
    { q: '1'.repeat(maxQuantityLength), want: BigInt('1'.repeat(maxQuantityLength)) * 1000n },
    { q: 1e36, want: 10n ** 39n },
  ])('accepts $q at the bounds', ({ q, want }) => {
    expect(parseQuantity(q)).toBe(want);
  });

  // Each of these would cost seconds to gigabytes as an exact BigInt (10^300000000 has 300 million
  // digits); the error is thrown before any power is computed, and says why in a bounded message.
  it.each([
    { name: 'an exponent of 300 million', q: '1e300000000', why: /^invalid quantity "1e300000000": exponent out of range \(at most ±36\)$/ },
    { name: 'an exponent of 3 million', q: '1e3000000', why: /exponent out of range/ },
    { name: 'a negative exponent of 3 million', q: '1e-3000000', why: /exponent out of range/ },
    { name: 'one past the largest exponent', q: `1e${maxQuantityExponent + 1}`, why: /exponent out of range/ },
    { name: 'an exponent with 40 digits', q: `1e${'9'.repeat(40)}`, why: /exponent out of range/ },
    { name: 'a JSON number beyond the range', q: 1e300, why: /exponent out of range/ },
    { name: '10,000 digits', q: '9'.repeat(10_000), why: /longer than 64 characters$/ },
    { name: 'one character too many', q: '1'.repeat(maxQuantityLength + 1), why: /longer than 64 characters$/ },
    { name: 'a long fraction', q: `0.${'1'.repeat(100_000)}`, why: /longer than 64 characters$/ },
    { name: 'long garbage', q: 'x'.repeat(100_000), why: /longer than 64 characters$/ },
  ])('refuses $name, echoing at most 32 characters', ({ q, why }) => {
    let error: unknown;
    try {
      parseQuantity(q);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(QuantityError);
    const { message } = error as QuantityError;
    expect(message).toMatch(why);
    expect(message.length).toBeLessThanOrEqual(100);
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

  it('adds into a sum in place, leaving the added list alone', () => {
    const sum = parseResources({ cpu: '1' });
    expect(addInto(sum, gpu4)).toBe(sum);
    expect(formatResources(sum)).toEqual({ cpu: '33', memory: '256Gi', 'nvidia.com/gpu': '4' });
    expect(formatResources(gpu4)).toEqual({ cpu: '32', memory: '256Gi', 'nvidia.com/gpu': '4' });
  });

  it('parses a cached object\'s list once per list object', () => {
    const allocatable = { cpu: '64', 'nvidia.com/gpu': '8' };
    const first = parseCachedResources(allocatable);
    expect(formatResources(new Map(first))).toEqual({ cpu: '64', 'nvidia.com/gpu': '8' });
    expect(parseCachedResources(allocatable)).toBe(first);
    // A replaced object (a new version from the informer) is parsed anew.
    const replaced = parseCachedResources({ ...allocatable, cpu: '32' });
    expect(replaced).not.toBe(first);
    expect(replaced.get('cpu')).toBe(32000n);
    expect(parseCachedResources(undefined).size).toBe(0);
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
