/**
 * metav1.Time: RFC 3339 in whole seconds. The apiserver stores no more, so writing more would make
 * a value read back differ from the one computed and turn every comparison into a write.
 */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** metav1.MicroTime: the apiserver parses exactly six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000Z');
}
