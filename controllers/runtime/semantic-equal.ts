/**
 * Equality of JSON values as the apiserver sees them: object key order does not matter, and a key
 * holding `undefined` is the same as no key (JSON drops it). Array order does matter.
 */
export function semanticEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => semanticEqual(item, b[i]));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const definedKeys = (o: Record<string, unknown>) => Object.keys(o).filter((k) => o[k] !== undefined);
  const leftKeys = definedKeys(left);
  if (leftKeys.length !== definedKeys(right).length) return false;
  return leftKeys.every((key) => semanticEqual(left[key], right[key]));
}
