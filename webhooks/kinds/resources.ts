/**
 * Resource amounts, as core/v1 judges a pod's: the CRD schema checks each quantity's spelling, but not
 * that it is one Kubernetes can hold ("1e1.5" passes the pattern), that it is not negative, that a device
 * count is whole (a GPU is not shared between pods), or that a request stays within its limit. A pod
 * breaking these would be refused long after the workload was accepted; here it is refused at once.
 */
import type { Job, ModelService, Notebook, Quota, ResourceSpec } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { display, isDeviceResource, parseQuantity, QuantityError, shownQuantity } from '../../apis/quantity.js';
import type { FieldError } from '../admission.js';
import type { Check } from './check.js';

type Quantity = string | number;
type QuantityList = Readonly<Record<string, Quantity>>;
interface Requirements {
  requests?: QuantityList;
  limits?: QuantityList;
}

/** Where a kind keeps its amounts: pod requirements, plain resource lists, single quantities. */
interface Amounts {
  requirements: { path: string; value: Requirements | undefined }[];
  /** `wholeDevices` false: amounts of devices over time, such as GPU-hours, may be fractions. */
  lists: { path: string; value: QuantityList | undefined; wholeDevices: boolean }[];
  scalars: { path: string; value: Quantity | undefined }[];
}

export type WithResources = Job | Notebook | ModelService | ResourceSpec | Quota;

const none: Amounts = { requirements: [], lists: [], scalars: [] };

function amountsOf(kind: string, obj: WithResources): Amounts {
  switch (kind) {
    case 'Job': {
      const { spec } = obj as Job;
      return {
        requirements: spec.tasks.map((t, i) => ({ path: `spec.tasks[${i}].resources`, value: t.resources })),
        lists: [],
        scalars: [{ path: 'spec.shmSize', value: spec.shmSize }, ...spec.tasks.map((t, i) => ({ path: `spec.tasks[${i}].shmSize`, value: t.shmSize }))],
      };
    }
    case 'Notebook':
    case 'ModelService':
      return { ...none, requirements: [{ path: 'spec.resources', value: (obj as Notebook | ModelService).spec.resources }] };
    case 'ResourceSpec': {
      const { spec } = obj as ResourceSpec;
      return { requirements: [{ path: 'spec.resources', value: spec.resources }], lists: [], scalars: [{ path: 'spec.shmSize', value: spec.shmSize }] };
    }
    case 'Quota': {
      const { spec } = obj as Quota;
      return {
        requirements: [],
        lists: [
          { path: 'spec.hard', value: spec.hard, wholeDevices: true },
          ...(spec.pools ?? []).map((p, i) => ({ path: `spec.pools[${i}].hard`, value: p.hard, wholeDevices: true })),
          { path: 'spec.borrowingLimit', value: spec.borrowingLimit, wholeDevices: true },
          { path: 'spec.lendingLimit', value: spec.lendingLimit, wholeDevices: true },
          { path: 'spec.budget.resourceHours', value: spec.budget?.resourceHours, wholeDevices: false },
        ],
        scalars: [],
      };
    }
    default:
      return none;
  }
}

const invalid = (value: Quantity, detail: string): string => `Invalid value: ${shownQuantity(value)}: ${detail}`;

/** The amount in milli-units, or undefined after recording why it is not one. */
function amount(value: Quantity, path: string, errors: FieldError[]): bigint | undefined {
  let millis: bigint;
  try {
    millis = parseQuantity(value);
  } catch (err) {
    const why = err instanceof QuantityError && err.reason ? err.reason : 'must be a quantity such as 500m, 4 or 32Gi';
    errors.push({ path, message: invalid(value, why) });
    return undefined;
  }
  if (millis < 0n) {
    errors.push({ path, message: invalid(value, 'must be greater than or equal to 0') });
    return undefined;
  }
  return millis;
}

function amounts(list: QuantityList | undefined, path: string, errors: FieldError[], wholeDevices = true): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const [name, value] of Object.entries(list ?? {})) {
    const millis = amount(value, `${path}[${name}]`, errors);
    if (millis === undefined) continue;
    if (wholeDevices && isDeviceResource(name) && millis % 1000n !== 0n) errors.push({ path: `${path}[${name}]`, message: invalid(value, 'must be a whole number of devices') });
    else out.set(name, millis);
  }
  return out;
}

function requirementErrors(req: Requirements, path: string, errors: FieldError[]): void {
  const requests = amounts(req.requests, `${path}.requests`, errors);
  const limits = amounts(req.limits, `${path}.limits`, errors);
  for (const [name, requested] of requests) {
    const limit = limits.get(name);
    if (limit === undefined) continue;
    const where = `${path}.requests[${name}]`;
    const value = req.requests?.[name] ?? '';
    // Devices are not overcommitted: core/v1 requires a device's request to equal its limit.
    if (isDeviceResource(name) && requested !== limit) errors.push({ path: where, message: invalid(value, `must be equal to the ${name} limit of ${display(name, limit)}`) });
    else if (requested > limit) errors.push({ path: where, message: invalid(value, `must be less than or equal to the ${name} limit of ${display(name, limit)}`) });
  }
}

export const validateResources: Check<WithResources> = (ctx) => {
  const { requirements, lists, scalars } = amountsOf(ctx.kind.kind, ctx.object);
  const errors: FieldError[] = [];
  for (const { path, value } of requirements) if (value !== undefined) requirementErrors(value, path, errors);
  for (const { path, value, wholeDevices } of lists) amounts(value, path, errors, wholeDevices);
  for (const { path, value } of scalars) if (value !== undefined) amount(value, path, errors);
  return { errors };
};
