/** A throw-away kind for webhook tests: Gadgets may be at most size 10, and get a label on admission. */
import { jsonPointer, type Mutator, type Validator } from '../admission.js';

export interface Gadget {
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: { size?: number };
}

export const mutatedLabel = 'webhook-test.octopus.openi.pcl.cn/mutated';
export const sizeWarning = 'spec.size: 10 is the largest size allowed';

export const gadgetValidator: Validator<Gadget> = {
  async validate(req) {
    if (req.operation === 'DELETE') return { errors: [] };
    const size = req.object.spec?.size ?? 0;
    if (size > 10) return { errors: [{ path: 'spec.size', message: 'must be at most 10' }], auditAnnotations: { size: String(size) } };
    return { errors: [], warnings: size === 10 ? [sizeWarning] : [] };
  },
};

export const gadgetLabeler: Mutator<Gadget> = {
  async mutate(req) {
    if (req.operation === 'DELETE' || req.object.metadata?.labels?.[mutatedLabel] !== undefined) return [];
    return req.object.metadata?.labels === undefined
      ? [{ op: 'add', path: jsonPointer(['metadata', 'labels']), value: { [mutatedLabel]: 'true' } }]
      : [{ op: 'add', path: jsonPointer(['metadata', 'labels', mutatedLabel]), value: 'true' }];
  },
};

/** An AdmissionReview v1 for a Gadget of `size`; `request` overrides request fields. */
export function makeGadgetReview(size: number, request: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'uid-1',
      kind: { group: 'webhook-test.octopus.openi.pcl.cn', version: 'v1alpha1', kind: 'Gadget' },
      resource: { group: 'webhook-test.octopus.openi.pcl.cn', version: 'v1alpha1', resource: 'gadgets' },
      name: 'g',
      namespace: 'team-a',
      operation: 'CREATE',
      userInfo: { username: 'alice' },
      object: { apiVersion: 'webhook-test.octopus.openi.pcl.cn/v1alpha1', kind: 'Gadget', metadata: { name: 'g' }, spec: { size } },
      ...request,
    },
  };
}
