/**
 * Validates an object against its kind's CRD schema the way the apiserver does: structural
 * checks (ajv over the same openAPIV3Schema, with schema defaults applied first), list-map
 * key uniqueness, then the CEL rules (x-kubernetes-validations) evaluated with a JavaScript
 * CEL implementation. Messages follow the apiserver's wording so a user sees the same error
 * whether the webhook or the apiserver caught it.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parse as parseCel } from '@marcbachmann/cel-js';
import type { KindDefinition } from './kind.js';
import type { CelRule } from './schema.js';

export interface FieldError {
  /** Field path as the apiserver prints it, e.g. `spec.tasks[1].replicas`. */
  path: string;
  message: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Schema = Record<string, unknown>;

// ---------------------------------------------------------------- ajv (structure)

/** kubectl validates strictly: an unknown field is an error, not silently pruned. */
function strictCopy(schema: Schema): Schema {
  const out: Schema = { ...schema };
  if (schema.properties) {
    out.properties = Object.fromEntries(Object.entries(schema.properties as Record<string, Schema>).map(([k, v]) => [k, strictCopy(v)]));
    if (!('additionalProperties' in schema) && !schema['x-kubernetes-preserve-unknown-fields']) out.additionalProperties = false;
  }
  if (schema.items) out.items = strictCopy(schema.items as Schema);
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
    out.additionalProperties = strictCopy(schema.additionalProperties as Schema);
  }
  return out;
}

function newAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, strictTypes: false, strictRequired: false });
  for (const keyword of [
    'x-kubernetes-validations',
    'x-kubernetes-list-type',
    'x-kubernetes-list-map-keys',
    'x-kubernetes-preserve-unknown-fields',
    'x-kubernetes-int-or-string',
    'x-kubernetes-map-type',
  ]) {
    ajv.addKeyword(keyword);
  }
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => n >= -2147483648 && n <= 2147483647 });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
  ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)) && /^\d{4}-\d{2}-\d{2}T/.test(s));
  ajv.addFormat('byte', (s: string) => /^[A-Za-z0-9+/]*={0,2}$/.test(s));
  return ajv;
}

function jsonPathToField(instancePath: string): string {
  let out = '';
  for (const segment of instancePath.split('/').slice(1)) {
    const key = segment.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(key) ? `[${key}]` : out ? `.${key}` : key;
  }
  return out;
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : typeof value === 'object' ? JSON.stringify(jsonType(value)) : String(value);
}

function get(root: unknown, instancePath: string): unknown {
  let node = root;
  for (const segment of instancePath.split('/').slice(1)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[segment.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return node;
}

/** ajv's error → the apiserver's wording for the same violation. */
function toFieldError(err: ErrorObject, root: unknown): FieldError | undefined {
  const path = jsonPathToField(err.instancePath);
  const value = get(root, err.instancePath);
  const invalid = (detail: string): FieldError => ({ path, message: `Invalid value: ${shown(value)}: ${path} in body ${detail}` });
  const p = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'required':
      return { path: path ? `${path}.${String(p.missingProperty)}` : String(p.missingProperty), message: 'Required value' };
    case 'additionalProperties':
      return { path: path ? `${path}.${String(p.additionalProperty)}` : String(p.additionalProperty), message: `unknown field "${path ? `${path}.` : ''}${String(p.additionalProperty)}"` };
    case 'type':
      return { path, message: `Invalid value: "${jsonType(value)}": ${path} in body must be of type ${String(p.type)}: "${jsonType(value)}"` };
    case 'enum':
      return { path, message: `Unsupported value: ${shown(value)}: supported values: ${(p.allowedValues as string[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'pattern':
      return invalid(`should match '${String(p.pattern)}'`);
    case 'minimum':
      return invalid(`should be greater than or equal to ${String(p.limit)}`);
    case 'maximum':
      return invalid(`should be less than or equal to ${String(p.limit)}`);
    case 'minLength':
      return invalid(`should be at least ${String(p.limit)} chars long`);
    case 'maxLength':
      return { path, message: `Too long: may not be more than ${String(p.limit)} bytes` };
    case 'maxItems':
      return { path, message: `Too many: ${(value as unknown[]).length}: must have at most ${String(p.limit)} items` };
    case 'minItems':
      return invalid(`should have at least ${String(p.limit)} items`);
    case 'maxProperties':
      return { path, message: `Too many: ${Object.keys(value as object).length}: must have at most ${String(p.limit)} items` };
    case 'minProperties':
      return invalid(`should have at least ${String(p.limit)} properties`);
    case 'format':
      return invalid(`must be of type ${String(p.format)}`);
    case 'anyOf':
      // int-or-string: the branch errors already say what is wrong.
      return undefined;
    default:
      return { path, message: err.message ?? err.keyword };
  }
}

// ---------------------------------------------------------------- list-map keys

function checkListKeys(schema: Schema, value: unknown, path: string, errors: FieldError[]): void {
  if (value === null || value === undefined) return;
  if (Array.isArray(value)) {
    const listType = schema['x-kubernetes-list-type'];
    if (listType === 'map' || listType === 'set') {
      const keys = (schema['x-kubernetes-list-map-keys'] as string[] | undefined) ?? [];
      const seen = new Set<string>();
      value.forEach((item, i) => {
        const identity =
          listType === 'map'
            ? JSON.stringify(Object.fromEntries(keys.map((k) => [k, (item as Record<string, unknown> | null)?.[k]])))
            : JSON.stringify(item);
        if (seen.has(identity)) errors.push({ path: `${path}[${i}]`, message: `Duplicate value: ${identity}` });
        seen.add(identity);
      });
    }
    const items = schema.items as Schema | undefined;
    if (items) value.forEach((item, i) => checkListKeys(items, item, `${path}[${i}]`, errors));
    return;
  }
  if (typeof value === 'object') {
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      const childSchema = (schema.properties as Record<string, Schema> | undefined)?.[key] ?? (typeof schema.additionalProperties === 'object' ? (schema.additionalProperties as Schema) : undefined);
      if (childSchema) checkListKeys(childSchema, child, path ? `${path}.${key}` : key, errors);
    }
  }
}

// ---------------------------------------------------------------- CEL

type CelProgram = (context: Record<string, unknown>) => unknown;
interface CompiledRule {
  run: CelProgram;
  /** Uses oldSelf: evaluated only on update, against the correlated old value. */
  transition: boolean;
}
const programs = new Map<string, CompiledRule>();

function program(rule: string): CompiledRule {
  let p = programs.get(rule);
  if (!p) {
    p = { run: parseCel(rule) as unknown as CelProgram, transition: /\boldSelf\b/.test(rule) };
    programs.set(rule, p);
  }
  return p;
}

/**
 * CEL integers are int64: whole numbers are handed over as BigInt so `replicas > 1` compares
 * int to int. Each object node is converted once per validation (`memo`), however many rules
 * above and below it read it — a rule deep in the tree would otherwise reconvert its subtree
 * for every rule on the way down.
 */
function toCel(value: unknown, memo: Map<object, unknown>): unknown {
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value;
  if (!value || typeof value !== 'object') return value;
  const known = memo.get(value);
  if (known !== undefined) return known;
  // Array.from builds the array in this realm; under jest's vm contexts a foreign Array is "unsupported".
  const converted = Array.isArray(value) ? Array.from(value, (v) => toCel(v, memo)) : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toCel(v, memo)]));
  memo.set(value, converted);
  return converted;
}

function evaluateRules(rules: CelRule[], value: unknown, old: unknown, path: string, errors: FieldError[], memo: Map<object, unknown>): void {
  for (const r of rules) {
    const { run, transition } = program(r.rule);
    // Transition rules apply only on update, to values that existed before (correlated).
    if (transition && old === undefined) continue;
    const where = r.fieldPath ? `${path}${r.fieldPath}` : path;
    try {
      const ok = run(transition ? { self: toCel(value, memo), oldSelf: toCel(old, memo) } : { self: toCel(value, memo) });
      if (ok !== true) errors.push({ path: where, message: `Invalid value: "${jsonType(value)}": ${r.message}` });
    } catch (err) {
      errors.push({ path: where, message: `Invalid value: "${jsonType(value)}": rule ${JSON.stringify(r.rule)} failed: ${(err as Error).message}` });
    }
  }
}

/** Walks schema, new and (correlated) old value together, like the apiserver's CEL validator. */
function checkCel(schema: Schema, value: unknown, old: unknown, path: string, errors: FieldError[], memo: Map<object, unknown>): void {
  if (value === undefined || value === null) return;
  const rules = schema['x-kubernetes-validations'] as CelRule[] | undefined;
  if (rules) evaluateRules(rules, value, old, path, errors, memo);
  if (Array.isArray(value)) {
    const items = schema.items as Schema | undefined;
    if (!items) return;
    const keys = schema['x-kubernetes-list-type'] === 'map' ? ((schema['x-kubernetes-list-map-keys'] as string[] | undefined) ?? []) : undefined;
    value.forEach((item, i) => {
      // Only map lists correlate items across an update; atomic lists are compared whole.
      const previous = keys && Array.isArray(old) ? old.find((o) => keys.every((k) => (o as Record<string, unknown>)?.[k] === (item as Record<string, unknown>)?.[k])) : undefined;
      checkCel(items, item, previous, `${path}[${i}]`, errors, memo);
    });
    return;
  }
  if (typeof value === 'object') {
    const properties = schema.properties as Record<string, Schema> | undefined;
    const additional = typeof schema.additionalProperties === 'object' ? (schema.additionalProperties as Schema) : undefined;
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      const childSchema = properties?.[key] ?? additional;
      const oldChild = old && typeof old === 'object' && !Array.isArray(old) ? (old as Record<string, unknown>)[key] : undefined;
      if (childSchema) checkCel(childSchema, child, oldChild, path ? `${path}.${key}` : key, errors, memo);
    }
  }
}

// ---------------------------------------------------------------- public

export interface Validator {
  /** Field errors of `object` (an update when `old` is given); empty means valid. */
  validate(object: unknown, old?: unknown): FieldError[];
  /** A copy of `object` with the schema's defaults applied, as the apiserver stores it. */
  withDefaults<T>(object: T): T;
}

function compile(def: KindDefinition): Validator {
  const ajv = newAjv();
  const schema = strictCopy(def.openAPIV3Schema);
  // metadata belongs to the apiserver (labels, annotations…): only its name rules are ours.
  (schema.properties as Record<string, Schema>).metadata = (def.openAPIV3Schema.properties as Record<string, Schema>).metadata!;
  const check: ValidateFunction = ajv.compile(schema);
  const defaulted = <T>(object: T): T => {
    const copy = JSON.parse(JSON.stringify(object)) as Record<string, unknown>;
    // Status is written by controllers through /status; spec changes never carry it.
    delete copy.status;
    check(copy);
    return copy as T;
  };
  return {
    withDefaults: defaulted,
    validate(object, old) {
      // One clone and one ajv pass: it applies the defaults and reports the errors together.
      const current = defaulted(object) as Json;
      const errors = (check.errors ?? []).map((e) => toFieldError(e, current)).filter((e): e is FieldError => e !== undefined);
      checkListKeys(def.openAPIV3Schema, current, '', errors);
      // Like the apiserver: rules run only over a structurally valid object.
      if (errors.length > 0) return errors;
      checkCel(def.openAPIV3Schema, current, old === undefined ? undefined : defaulted(old), '', errors, new Map());
      return errors;
    },
  };
}

const validators = new Map<string, Validator>();

/** The validator of a kind, compiled once. */
export function validatorFor(def: KindDefinition): Validator {
  let v = validators.get(def.kind);
  if (!v) {
    v = compile(def);
    validators.set(def.kind, v);
  }
  return v;
}
