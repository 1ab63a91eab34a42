/**
 * How a kind's rules become its Validator. Rules run in tiers — the CRD schema, then field rules in code
 * (422 Invalid), then policy (403 Forbidden) — and a tier runs only over an object the tiers before it
 * found clean, so code never meets a shape the schema forbids. Behind the apiserver, which applies the CRD
 * schema before it calls a validating webhook, the schema tier shrinks to what the apiserver leaves out.
 * On UPDATE an error the old object has too is dropped (ratcheting, as the apiserver does for CRD
 * schemas): tightening a rule or a Quota must not block unrelated edits such as a controller removing
 * its finalizer.
 */
import { validatorFor } from '../../apis/octopus.openi.pcl.cn/v1alpha1/validation.js';
import type { KindDefinition } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { AdmissionContext, DenialReason, FieldError, Validator, Verdict } from '../admission.js';
import { integerFormats } from './integer-formats.js';
import type { Lookups } from './lookups.js';

/** A CREATE or an UPDATE: the requests the webhooks are registered for. */
export type WriteContext<T> = Extract<AdmissionContext<T>, { operation: 'CREATE' | 'UPDATE' }>;

/** One concern's rule: pure, synchronous, reading the cluster only through `lookups`. */
export type Check<T> = (ctx: WriteContext<T>, lookups: Lookups) => Verdict;

export interface KindRules<T> {
  /** Malformed-object rules the schema cannot express; denied as Invalid. */
  fields: readonly Check<T>[];
  /** Well-formed objects that policy refuses (quota, device policy, visibility); denied as Forbidden. */
  policy: readonly Check<T>[];
}

/** The CRD schema, its list-map keys and CEL rules — transition rules too, given the old object. */
export function structure<T>(def: KindDefinition): Check<T> {
  const validator = validatorFor(def);
  return (ctx) => {
    try {
      return { errors: validator.validate(ctx.object, ctx.operation === 'UPDATE' ? ctx.oldObject : undefined) };
    } catch (err) {
      // The schema walk assumes the shapes it checks (a null list item fails it); such an object is malformed.
      return { errors: [{ path: '(root)', message: `Invalid value: the object does not have the shape of a ${def.kind}: ${(err as Error).message}` }] };
    }
  };
}

const sameError = (a: FieldError, b: FieldError): boolean => a.path === b.path && a.message === b.message;

/** What `checks` say of the old object as if it were created now. */
function errorsBefore<T>(ctx: Extract<WriteContext<T>, { operation: 'UPDATE' }>, checks: readonly Check<T>[], lookups: Lookups): FieldError[] {
  const before: WriteContext<T> = { ...ctx, operation: 'CREATE', object: ctx.oldObject, oldObject: null };
  try {
    return checks.flatMap((check) => check(before, lookups).errors);
  } catch {
    // An old object an earlier tier would refuse can break a later tier's code: then nothing is grandfathered.
    return [];
  }
}

/**
 * Who has judged an object against its CRD schema (structure, list-map keys, CEL rules) by the time it is
 * validated. `apiserver`: a request the apiserver sends, after it applied the schema; only the integer
 * formats it does not enforce are judged again. `nobody`: a file or object that never went through an
 * apiserver (examples/, offline validation); the whole schema is judged.
 */
export type SchemaJudged = 'apiserver' | 'nobody';

export function kindValidator<T>(def: KindDefinition, rules: KindRules<T>, lookups: Lookups, schema: SchemaJudged = 'nobody'): Validator<T> {
  const tiers: { checks: readonly Check<T>[]; reason: DenialReason }[] = [
    { checks: [schema === 'apiserver' ? integerFormats<T>(def) : structure<T>(def)], reason: 'Invalid' },
    { checks: rules.fields, reason: 'Invalid' },
    { checks: rules.policy, reason: 'Forbidden' },
  ];
  return {
    async validate(ctx) {
      if (ctx.operation === 'DELETE') return { errors: [] };
      const warnings: string[] = [];
      const auditAnnotations: Record<string, string> = {};
      const verdict = (errors: FieldError[], reason: DenialReason): Verdict => ({ errors, reason, warnings, auditAnnotations });
      for (const { checks, reason } of tiers) {
        const errors: FieldError[] = [];
        for (const check of checks) {
          const v = check(ctx, lookups);
          errors.push(...v.errors);
          warnings.push(...(v.warnings ?? []));
          Object.assign(auditAnnotations, v.auditAnnotations);
        }
        if (errors.length === 0) continue;
        if (ctx.operation === 'CREATE') return verdict(errors, reason);
        // Only errors the update introduced count. When every error was there before, the object is
        // grandfathered: allowed, but later tiers would meet what this one refuses, so they do not run.
        const old = errorsBefore(ctx, checks, lookups);
        return verdict(
          errors.filter((e) => !old.some((o) => sameError(e, o))),
          reason,
        );
      }
      return verdict([], 'Invalid');
    },
  };
}
