/**
 * Builders for structural OpenAPI v3 schemas, typed with TypeBox so that one declaration
 * yields the TypeScript type (Static<typeof X>), the CRD's openAPIV3Schema and the ajv
 * validator. Only shapes a CRD accepts are offered: no anyOf/const/patternProperties
 * (TypeBox's unions and records are not structural), every node carries a description.
 */
import { Type, type Static, type TSchema, type TObject, type TProperties, type TArray, type TUnsafe } from '@sinclair/typebox';
import { maxQuantityLength } from '../../quantity.js';

export type { Static, TSchema };

/** A CEL rule evaluated by the apiserver (and by our validator, same expression). */
export interface CelRule {
  rule: string;
  message: string;
  /** Path relative to the node the rule sits on, e.g. `.minSucceeded`. */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

interface Common {
  description: string;
  validations?: CelRule[];
}

function extensions(opts: Common): Record<string, unknown> {
  const out: Record<string, unknown> = { description: opts.description };
  if (opts.validations?.length) out['x-kubernetes-validations'] = opts.validations;
  return out;
}

// ---------------------------------------------------------------- scalars

export interface StringOptions extends Common {
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  format?: 'date-time' | 'byte';
  default?: string;
}

export function str(opts: StringOptions) {
  const { description, validations, ...rest } = opts;
  return Type.String({ ...extensions({ description, validations }), ...rest });
}

export interface IntegerOptions extends Common {
  minimum?: number;
  maximum?: number;
  default?: number;
  format?: 'int32' | 'int64';
}

export function int(opts: IntegerOptions) {
  const { description, validations, format = 'int32', ...rest } = opts;
  return Type.Integer({ ...extensions({ description, validations }), format, ...rest });
}

export function num(opts: Common & { minimum?: number; maximum?: number; default?: number }) {
  const { description, validations, ...rest } = opts;
  return Type.Number({ ...extensions({ description, validations }), ...rest });
}

export function bool(opts: Common & { default?: boolean }) {
  const { description, validations, ...rest } = opts;
  return Type.Boolean({ ...extensions({ description, validations }), ...rest });
}

/** A string restricted to values; CRDs need `enum`, not TypeBox's anyOf of literals. */
export function enumOf<const V extends readonly string[]>(values: V, opts: Common & { default?: V[number] }): TUnsafe<V[number]> {
  const { description, validations, ...rest } = opts;
  return Type.Unsafe<V[number]>({ ...extensions({ description, validations }), type: 'string', enum: [...values], ...rest });
}

/** Kubernetes resource.Quantity regex (same as the apiserver's quantity schemas). */
export const quantityPattern =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

/**
 * A quantity such as `4`, `500m`, `32Gi`: YAML integers and strings both accepted, like core/v1.
 * Bounded in length (maxLength applies to the string form only), so the apiserver refuses a huge
 * string before any webhook or controller reads it.
 */
export function quantity(opts: Common & { default?: string | number }): TUnsafe<string | number> {
  const { description, validations, ...rest } = opts;
  return Type.Unsafe<string | number>({
    ...extensions({ description, validations }),
    'x-kubernetes-int-or-string': true,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    pattern: quantityPattern,
    maxLength: maxQuantityLength,
    ...rest,
  });
}

// ---------------------------------------------------------------- well-known string shapes

export const dns1123LabelPattern = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
export const dns1123SubdomainPattern = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
/** registry[:port]/path[:tag][@digest] — the shape `docker pull` accepts, lower-case repository. */
export const imageReferencePattern =
  '^([a-zA-Z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[\\w][\\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$';
/** Extended resource names: `<domain>/<name>`, e.g. `nvidia.com/gpu`. */
export const extendedResourcePattern = '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$';

export function dnsLabel(description: string, extra: Omit<StringOptions, 'description'> = {}) {
  return str({ description, pattern: dns1123LabelPattern, maxLength: 63, ...extra });
}

export function dnsSubdomain(description: string, extra: Omit<StringOptions, 'description'> = {}) {
  return str({ description, pattern: dns1123SubdomainPattern, maxLength: 253, ...extra });
}

// ---------------------------------------------------------------- composites

export function opt<T extends TSchema>(schema: T) {
  return Type.Optional(schema);
}

export function obj<P extends TProperties>(properties: P, opts: Common & { minProperties?: number; maxProperties?: number }): TObject<P> {
  const { description, validations, ...rest } = opts;
  return Type.Object(properties, { ...extensions({ description, validations }), ...rest });
}

export interface ArrayOptions extends Common {
  maxItems: number;
  minItems?: number;
  /** `map` lists are merged by key under server-side apply and correlate old/new items for transition rules. */
  listType?: 'atomic' | 'set' | 'map';
  listMapKeys?: string[];
}

export function arr<T extends TSchema>(items: T, opts: ArrayOptions): TArray<T> {
  const { description, validations, listType, listMapKeys, ...rest } = opts;
  const ext: Record<string, unknown> = { ...extensions({ description, validations }), ...rest };
  if (listType) ext['x-kubernetes-list-type'] = listType;
  if (listMapKeys) ext['x-kubernetes-list-map-keys'] = listMapKeys;
  return Type.Array(items, ext);
}

/** A string-keyed map; structural schemas spell it `additionalProperties`, not `patternProperties`. */
export function map<T extends TSchema>(values: T, opts: Common & { maxProperties?: number }): TUnsafe<Record<string, Static<T>>> {
  const { description, validations, ...rest } = opts;
  return Type.Unsafe<Record<string, Static<T>>>({ ...extensions({ description, validations }), type: 'object', additionalProperties: values, ...rest });
}

/** Content that is genuinely free-form (e.g. user-reported metrics); kept verbatim by the apiserver. */
export function freeform(opts: Common): TUnsafe<Record<string, unknown>> {
  return Type.Unsafe<Record<string, unknown>>({ ...extensions(opts), type: 'object', 'x-kubernetes-preserve-unknown-fields': true });
}

/** Strips TypeBox's symbol keys and returns plain JSON, as written into the CRD. */
export function toJsonSchema(schema: TSchema): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
}

/** A copy of `schema` with a different description (shared shapes read differently in place). */
export function describe<T extends TSchema>(schema: T, description: string): T {
  return { ...schema, description };
}

/** A copy of `schema` with extra CEL rules. */
export function withRules<T extends TSchema>(schema: T, rules: CelRule[]): T {
  const existing = (schema['x-kubernetes-validations'] as CelRule[] | undefined) ?? [];
  return { ...schema, 'x-kubernetes-validations': [...existing, ...rules] };
}
