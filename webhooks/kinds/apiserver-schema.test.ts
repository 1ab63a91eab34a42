// What the served webhooks leave to the apiserver, and what they do not. They skip the CRD schema tier
// (structure, list-map keys, CEL rules) because the apiserver applies the same schema before calling them:
// the installed CRDs carry exactly the schema, and every CEL rule, that offline validation judges. The one
// part the apiserver strips before Kubernetes 1.36, integer formats, the served webhooks still refuse, with
// the offline wording.
import { describe, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import { allKinds, type DevicePolicy, type Job, type Notebook } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { CelRule } from '../../apis/octopus.openi.pcl.cn/v1alpha1/schema.js';
import { chartCrds } from '../../e2e/harness/crds.js';
import type { FieldError } from '../admission.js';
import { kindKey } from '../registration.js';
import { createContext, lookupsOf, makeDevicePolicy, makeJob, makeNotebook, makeTask, updateContext } from '../testing/octopus.js';
import type { WriteContext } from './check.js';
import { octopusAdmission } from './index.js';

type Schema = Record<string, unknown>;

/** Every CEL rule of a schema, by where it sits. */
function celRules(schema: Schema, path = ''): string[] {
  const own = ((schema['x-kubernetes-validations'] as CelRule[] | undefined) ?? []).map((r) => `${path || '.'}: ${r.rule}`);
  const children = [
    ...Object.entries((schema.properties as Record<string, Schema> | undefined) ?? {}).map(([k, v]) => celRules(v, `${path}.${k}`)),
    schema.items ? celRules(schema.items as Schema, `${path}[]`) : [],
    typeof schema.additionalProperties === 'object' ? celRules(schema.additionalProperties as Schema, `${path}{}`) : [],
  ];
  return [...own, ...children.flat()];
}

describe('the installed CRDs', () => {
  const installed = new Map(chartCrds().map((crd) => [crd.spec.names.kind, crd]));

  it.each(allKinds.map((def) => ({ kind: def.kind, def })))('$kind carries the schema offline validation judges', ({ def }) => {
    const versions = installed.get(def.kind)?.spec.versions ?? [];
    expect(versions.map((v) => v.name)).toEqual([def.version]);
    expect(versions[0]!.schema?.openAPIV3Schema).toEqual(def.openAPIV3Schema);
  });

  it('carry every CEL rule offline validation evaluates, where it evaluates it', () => {
    const judged = allKinds.flatMap((def) => celRules(def.openAPIV3Schema).map((r) => `${def.kind}${r}`));
    const carried = allKinds.flatMap((def) => celRules(installed.get(def.kind)!.spec.versions[0]!.schema!.openAPIV3Schema as Schema).map((r) => `${def.kind}${r}`));
    expect(carried.sort()).toEqual(judged.sort());
    expect(judged.length).toBeGreaterThan(30);
  });
});

describe('integer formats, which the apiserver does not enforce on custom resources', () => {
  const served = octopusAdmission(lookupsOf([]));
  const offline = octopusAdmission(lookupsOf([]), undefined, { schemaJudgedBy: 'nobody' });
  const judge = async (which: typeof served, ctx: WriteContext<KubernetesObject>) => (await which.validators[kindKey(ctx.object.kind!)]!.validate(ctx)).errors;
  const outOfRange = (path: string, value: number, format: 'int32' | 'int64'): FieldError => ({ path, message: `Invalid value: ${value}: ${path} in body must be of type ${format}` });

  const task = { ...makeTask('worker', { cpu: 1 }, 2), completion: { maxFailed: 2 ** 31 } };
  it.each<{ name: string; object: Job | Notebook | DevicePolicy; want: FieldError[] }>([
    { name: "an int32 in a Job's task", object: makeJob({ pool: 'cpu', tasks: [task] }), want: [outOfRange('spec.tasks[0].completion.maxFailed', 2 ** 31, 'int32')] },
    { name: 'an int64 beyond 2^53 in a Job', object: makeJob({ pool: 'cpu', tasks: [makeTask('worker', { cpu: 1 })], policy: { activeDeadlineSeconds: 2 ** 60 } }), want: [outOfRange('spec.policy.activeDeadlineSeconds', 2 ** 60, 'int64')] },
    { name: 'an int64 in a Notebook', object: makeNotebook({ autoStopSeconds: 2 ** 54 }), want: [outOfRange('spec.autoStopSeconds', 2 ** 54, 'int64')] },
    { name: "an int32 in a DevicePolicy's rule", object: makeDevicePolicy('p', [{ resource: 'nvidia.com/gpu', maxPerJob: 2 ** 32 }]), want: [outOfRange('spec.rules[0].maxPerJob', 2 ** 32, 'int32')] },
  ])('refuses $name, served as offline', async ({ object, want }) => {
    const ctx = createContext(object) as WriteContext<KubernetesObject>;
    expect(await judge(offline, ctx)).toEqual(want);
    expect(await judge(served, ctx)).toEqual(want);
  });

  it('ratchets them on UPDATE as offline: an edit elsewhere keeps a value stored before', async () => {
    const stored = makeJob({ pool: 'cpu', tasks: [task] });
    const labelled = { ...stored, metadata: { ...stored.metadata, labels: { run: 'b' } } };
    const ctx = updateContext(stored, labelled) as WriteContext<KubernetesObject>;
    expect(await judge(offline, ctx)).toEqual([]);
    expect(await judge(served, ctx)).toEqual([]);
  });

  it('do not judge status, which controllers write through /status', async () => {
    const job = { ...makeJob({ pool: 'cpu', tasks: [makeTask('worker', { cpu: 1 })] }), status: { observedGeneration: 2 ** 60 } } as Job;
    expect(await judge(served, createContext(job) as WriteContext<KubernetesObject>)).toEqual([]);
  });
});
