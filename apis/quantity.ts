/**
 * Exact arithmetic on Kubernetes quantities ("500m", "32Gi", "4", "1e3"). Values are held as
 * BigInt thousandths ("milli-units"), which is exact for every quantity Kubernetes
 * schedules on (it rounds CPU to millis too), so sums and comparisons never drift.
 */

const binarySuffixes: Record<string, bigint> = {
  Ki: 1024n,
  Mi: 1024n ** 2n,
  Gi: 1024n ** 3n,
  Ti: 1024n ** 4n,
  Pi: 1024n ** 5n,
  Ei: 1024n ** 6n,
};
const decimalExponents: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

const quantityRe = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

/**
 * The longest quantity accepted, here and in the CRD schemas (maxLength). Kubernetes canonical
 * quantities are at most ~20 characters (an int64 and a suffix); 64 leaves room for fractions
 * written out in full while keeping every string a webhook must read or echo small.
 */
export const maxQuantityLength = 64;

/**
 * Largest |exponent| of a `1e<n>` quantity. Kubernetes holds a quantity as an int64 scaled by a
 * power of ten between 10^-9 (n) and 10^18 (E), so every value it can represent is written with an
 * exponent far inside ±36 whatever the mantissa's digits; a bigger one names no amount anything
 * schedules, and 10^n as an exact BigInt costs time and memory that grows with n. It is refused before
 * any arithmetic.
 */
export const maxQuantityExponent = 36;

/** A quantity as messages show it: never more than 32 characters of what the user wrote. */
export function shownQuantity(q: string | number): string {
  const s = String(q);
  return JSON.stringify(s.length > 32 ? `${s.slice(0, 32)}…` : s);
}

export class QuantityError extends Error {
  /** Why a well-spelled quantity is refused (too long, exponent out of range); unset when it is not a quantity at all. */
  readonly reason: string | undefined;

  constructor(q: string | number, reason?: string) {
    super(`invalid quantity ${shownQuantity(q)}${reason ? `: ${reason}` : ''}`);
    this.reason = reason;
  }
}

/** Milli-units of a quantity; rounds up below a milli, as the scheduler does. */
/**
 * Parsed quantities by their text. Controllers parse the same few strings ("1", "4", "32Gi") for
 * every pod in every admission cycle; the regex and BigInt work dominated their CPU. Bounded: the
 * map starts over when full, so arbitrary input cannot grow it without limit.
 */
const parsedQuantities = new Map<string, bigint>();
const maxParsedQuantities = 4096;

export function parseQuantity(q: string | number): bigint {
  const key = typeof q === 'number' ? `#${q}` : q;
  const known = parsedQuantities.get(key);
  if (known !== undefined) return known;
  const millis = parseQuantityText(q);
  if (parsedQuantities.size >= maxParsedQuantities) parsedQuantities.clear();
  parsedQuantities.set(key, millis);
  return millis;
}

function parseQuantityText(q: string | number): bigint {
  if (typeof q === 'number') {
    if (!Number.isFinite(q)) throw new QuantityError(q);
    q = String(q);
  }
  // Bounded before anything else reads the string, so a hostile value costs no more than a short one.
  if (q.length > maxQuantityLength) throw new QuantityError(q, `longer than ${maxQuantityLength} characters`);
  const m = quantityRe.exec(q.trim());
  if (!m) throw new QuantityError(q);
  const [, sign, number, suffix = ''] = m;
  const [whole = '0', fraction = ''] = number!.split('.');
  const exp = suffix in binarySuffixes ? 0 : suffix in decimalExponents ? decimalExponents[suffix]! : Number.parseInt(suffix.slice(1), 10);
  if (Math.abs(exp) > maxQuantityExponent) throw new QuantityError(q, `exponent out of range (at most ±${maxQuantityExponent})`);
  // value = digits × 10^-fraction.length × multiplier; computed exactly in milli-units.
  const digits = BigInt((whole || '0') + fraction);
  let scaleNum = 1000n; // to milli-units
  let scaleDen = 10n ** BigInt(fraction.length);
  if (suffix in binarySuffixes) {
    scaleNum *= binarySuffixes[suffix]!;
  } else {
    if (exp >= 0) scaleNum *= 10n ** BigInt(exp);
    else scaleDen *= 10n ** BigInt(-exp);
  }
  const scaled = digits * scaleNum;
  const millis = scaled / scaleDen + (scaled % scaleDen === 0n ? 0n : 1n);
  return sign === '-' ? -millis : millis;
}

/** A canonical string: whole numbers plainly, else millis ("1500m"); binary suffixes for exact byte multiples. */
export function formatQuantity(millis: bigint, opts: { binary?: boolean } = {}): string {
  if (millis % 1000n !== 0n) return `${millis}m`;
  const units = millis / 1000n;
  if (opts.binary && units !== 0n) {
    for (const suffix of ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki']) {
      const base = binarySuffixes[suffix]!;
      if (units % base === 0n) return `${units / base}${suffix}`;
    }
  }
  return `${units}`;
}

/** A plain decimal ("12.5"), for prices and costs, which are not quantities. */
export function formatDecimal(millis: bigint): string {
  const sign = millis < 0n ? '-' : '';
  const abs = millis < 0n ? -millis : millis;
  const fraction = (abs % 1000n).toString().padStart(3, '0').replace(/0+$/, '');
  return `${sign}${abs / 1000n}${fraction ? `.${fraction}` : ''}`;
}

/** Resources are keyed by name, values in milli-units. */
export type Resources = Map<string, bigint>;

export function parseResources(list: Record<string, string | number> | undefined): Resources {
  const out: Resources = new Map();
  for (const [name, value] of Object.entries(list ?? {})) out.set(name, parseQuantity(value));
  return out;
}

const parsedLists = new WeakMap<object, Resources>();

/**
 * `parseResources` for a list inside an informer's cached object, which is replaced on update and
 * never changed: parsed once per version, not once per admission cycle. Shared: never change it.
 */
export function parseCachedResources(list: Record<string, string | number> | undefined): ReadonlyMap<string, bigint> {
  if (!list) return new Map();
  let parsed = parsedLists.get(list);
  if (!parsed) parsedLists.set(list, (parsed = parseResources(list)));
  return parsed;
}

/** Memory-like resources print with binary suffixes. */
export function isBytes(name: string): boolean {
  return name === 'memory' || name === 'ephemeral-storage' || name.startsWith('hugepages-');
}

export function formatResources(r: Resources): Record<string, string> {
  return Object.fromEntries([...r.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, formatQuantity(v, { binary: isBytes(k) })]));
}

export function addResources(...lists: ReadonlyMap<string, bigint>[]): Resources {
  const out: Resources = new Map();
  for (const list of lists) addInto(out, list);
  return out;
}

/** Adds `more` into `sum` in place (no new map: sums over thousands of pods). */
export function addInto(sum: Resources, more: ReadonlyMap<string, bigint>): Resources {
  for (const [k, v] of more) sum.set(k, (sum.get(k) ?? 0n) + v);
  return sum;
}

export function subtractResources(a: ReadonlyMap<string, bigint>, b: ReadonlyMap<string, bigint>): Resources {
  const out: Resources = new Map(a);
  for (const [k, v] of b) out.set(k, (out.get(k) ?? 0n) - v);
  return out;
}

export function scaleResources(r: Resources, factor: number | bigint): Resources {
  const f = BigInt(factor);
  return new Map([...r].map(([k, v]) => [k, v * f]));
}

/** Every resource of `request` is at most what `available` has (absent counts as zero). */
export function fits(request: ReadonlyMap<string, bigint>, available: ReadonlyMap<string, bigint>): boolean {
  for (const [k, v] of request) if (v > 0n && v > (available.get(k) ?? 0n)) return false;
  return true;
}

/** Resources of `request` that exceed `limit`, among those `limit` names (unnamed ones are unlimited). */
export function exceeded(request: Resources, limit: Resources): { resource: string; requested: bigint; limit: bigint }[] {
  const out: { resource: string; requested: bigint; limit: bigint }[] = [];
  for (const [k, max] of limit) {
    const requested = request.get(k) ?? 0n;
    if (requested > max) out.push({ resource: k, requested, limit: max });
  }
  return out;
}

/** Extended device resources (`vendor.com/x`), the ones quotas and device policies care most about. */
export function isDeviceResource(name: string): boolean {
  return name.includes('/') && !name.startsWith('hugepages-') && !name.startsWith('requests.') && !name.startsWith('limits.');
}

export function display(name: string, millis: bigint): string {
  return formatQuantity(millis, { binary: isBytes(name) });
}
