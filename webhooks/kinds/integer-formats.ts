/**
 * The part of a kind's CRD schema the apiserver does not enforce: the range of `format: int32` and
 * `format: int64` integers. Before Kubernetes 1.36 it strips numeric formats from custom resource schemas
 * (kubernetes/kubernetes#136091), so 2147483648 in an int32 field reaches the webhooks. The full schema
 * tier refused it; a webhook that leaves the rest of the schema to the apiserver keeps this much, with the
 * same wording.
 */
import type { KindDefinition } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { FieldError } from '../admission.js';
import type { Check } from './check.js';

type Schema = Record<string, unknown>;

/** Only the branches of the schema that lead to a formatted integer. */
interface FormatTree {
  format?: IntegerFormat;
  properties?: Map<string, FormatTree>;
  items?: FormatTree;
  additional?: FormatTree;
}

type IntegerFormat = 'int32' | 'int64';
const inRange: Record<IntegerFormat, (n: number) => boolean> = {
  int32: (n) => n >= -2147483648 && n <= 2147483647,
  // What ajv's schema tier accepts: beyond 2^53 a JSON number no longer says which integer it was.
  int64: (n) => Number.isSafeInteger(n),
};

function formatTree(schema: Schema): FormatTree | undefined {
  const tree: FormatTree = {};
  if (schema.type === 'integer' && (schema.format === 'int32' || schema.format === 'int64')) tree.format = schema.format;
  const properties = new Map<string, FormatTree>();
  for (const [key, child] of Object.entries((schema.properties as Record<string, Schema> | undefined) ?? {})) {
    const sub = formatTree(child);
    if (sub) properties.set(key, sub);
  }
  if (properties.size > 0) tree.properties = properties;
  const items = schema.items ? formatTree(schema.items as Schema) : undefined;
  if (items) tree.items = items;
  const additional = typeof schema.additionalProperties === 'object' ? formatTree(schema.additionalProperties as Schema) : undefined;
  if (additional) tree.additional = additional;
  return Object.keys(tree).length > 0 ? tree : undefined;
}

function walk(tree: FormatTree, value: unknown, path: string, errors: FieldError[]): void {
  if (tree.format && typeof value === 'number' && !inRange[tree.format](value)) {
    errors.push({ path, message: `Invalid value: ${value}: ${path} in body must be of type ${tree.format}` });
  }
  if (typeof value !== 'object' || value === null) return;
  if (Array.isArray(value)) {
    if (tree.items) value.forEach((item, i) => walk(tree.items!, item, `${path}[${i}]`, errors));
    return;
  }
  if (tree.additional) {
    for (const [key, child] of Object.entries(value)) walk(tree.properties?.get(key) ?? tree.additional, child, fieldPath(path, key), errors);
    return;
  }
  // Only the few fields that lead to a formatted integer are visited, not every field of the object.
  for (const [key, sub] of tree.properties ?? []) {
    if (Object.hasOwn(value, key)) walk(sub, (value as Record<string, unknown>)[key], fieldPath(path, key), errors);
  }
}

function fieldPath(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** Refuses integers outside their schema format's range; status is the controllers' and is not judged. */
export function integerFormats<T>(def: KindDefinition): Check<T> {
  const tree = formatTree(def.openAPIV3Schema);
  tree?.properties?.delete('status');
  return (ctx) => {
    const errors: FieldError[] = [];
    if (tree) walk(tree, ctx.object, '', errors);
    return { errors };
  };
}
