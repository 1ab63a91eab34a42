/** A kind's definition: its schema pieces plus everything its CRD needs. */
import type { V1ObjectMeta } from '@kubernetes/client-node';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { apiVersion, group, version } from './common.js';
import { toJsonSchema } from './schema.js';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  priority?: number;
}

export interface KindOptions<Spec extends TSchema, Status extends TSchema> {
  kind: string;
  plural: string;
  shortNames: string[];
  scope: 'Namespaced' | 'Cluster';
  description: string;
  spec: Spec;
  status: Status;
  printerColumns: PrinterColumn[];
  /** Constraints on metadata.name beyond the apiserver's (CRDs may constrain name and generateName only). */
  name?: { maxLength?: number; pattern?: string; description: string };
}

export interface KindDefinition<Spec extends TSchema = TSchema, Status extends TSchema = TSchema> extends KindOptions<Spec, Status> {
  group: string;
  version: string;
  apiVersion: string;
  singular: string;
  categories: string[];
  /** The full object schema (apiVersion, kind, metadata, spec, status) as plain JSON. */
  openAPIV3Schema: Record<string, unknown>;
}

export const ageColumn: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Time since creation.' };

/** Every Octopus kind is listed by `kubectl get octopus`. */
export const category = 'octopus';

export function defineKind<Spec extends TSchema, Status extends TSchema>(opts: KindOptions<Spec, Status>): KindDefinition<Spec, Status> {
  const root = Type.Object(
    {
      apiVersion: Type.String({ description: 'APIVersion defines the versioned schema of this representation of an object.' }),
      kind: Type.String({ description: 'Kind is a string value representing the REST resource this object represents.' }),
      // The apiserver owns metadata's schema: a CRD may only constrain name and generateName.
      metadata: Type.Unsafe(opts.name ? { type: 'object', properties: { name: { type: 'string', ...opts.name } } } : { type: 'object' }),
      spec: opts.spec,
      status: Type.Optional(opts.status),
    },
    { description: opts.description },
  );
  // apiVersion/kind/metadata are optional in CRD schemas: the apiserver fills and checks them.
  const openAPIV3Schema = toJsonSchema(root);
  openAPIV3Schema.required = ['spec'];
  return {
    ...opts,
    group,
    version,
    apiVersion,
    singular: opts.kind.toLowerCase(),
    categories: [category],
    openAPIV3Schema,
  };
}

/** The TypeScript shape of a stored object of a kind. */
export interface KubeObject<Spec, Status> {
  apiVersion: typeof apiVersion;
  kind: string;
  metadata: V1ObjectMeta;
  spec: Spec;
  status?: Status;
}

export type ObjectOf<D> = D extends KindDefinition<infer Spec, infer Status> ? KubeObject<Static<Spec>, Static<Status>> : never;
