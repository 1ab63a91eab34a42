import { describe, expect, it } from '@jest/globals';
import type { Mutator, Validator } from './admission.js';
import { buildMutatingWebhookConfiguration, buildValidatingWebhookConfiguration, planWebhooks, webhookPath, type WebhookKind } from './registration.js';

const job: WebhookKind = { kind: 'Job', plural: 'jobs', scope: 'Namespaced', group: 'octopus.openi.pcl.cn', version: 'v1alpha1' };
const pool: WebhookKind = { kind: 'ResourcePool', plural: 'resourcepools', scope: 'Cluster', group: 'octopus.openi.pcl.cn', version: 'v1alpha1' };
const service = { service: { namespace: 'octopus-system', name: 'octopus-webhooks', port: 443 } };
const validator: Validator = { validate: async () => ({ errors: [] }) };
const mutator: Mutator = { mutate: async () => [] };

describe('buildValidatingWebhookConfiguration', () => {
  it('builds one webhook per kind, dialling the Service, without a caBundle for the chart', () => {
    expect(buildValidatingWebhookConfiguration({ name: 'octopus-webhooks', kinds: [job], target: service })).toEqual({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name: 'octopus-webhooks', labels: { 'app.kubernetes.io/part-of': 'octopus', 'app.kubernetes.io/component': 'webhooks' } },
      webhooks: [
        {
          name: 'job.validate.octopus.openi.pcl.cn',
          admissionReviewVersions: ['v1'],
          clientConfig: { service: { namespace: 'octopus-system', name: 'octopus-webhooks', port: 443, path: '/validate/job' } },
          rules: [{ apiGroups: ['octopus.openi.pcl.cn'], apiVersions: ['v1alpha1'], resources: ['jobs'], operations: ['CREATE', 'UPDATE'], scope: 'Namespaced' }],
          failurePolicy: 'Fail',
          matchPolicy: 'Equivalent',
          sideEffects: 'None',
          timeoutSeconds: 5,
        },
      ],
    });
  });

  it.each([
    ['https://127.0.0.1:9443', 'https://127.0.0.1:9443/validate/resourcepool'],
    ['https://127.0.0.1:9443/', 'https://127.0.0.1:9443/validate/resourcepool'],
  ])('dials url %s in local mode, with the CA', (url, wantUrl) => {
    const [webhook] = buildValidatingWebhookConfiguration({ name: 'x', kinds: [pool], target: { url }, caBundle: 'PEM' }).webhooks ?? [];
    expect(webhook?.clientConfig).toEqual({ url: wantUrl, caBundle: Buffer.from('PEM').toString('base64') });
    expect(webhook?.rules?.[0]?.scope).toBe('Cluster');
  });

  it('has no webhooks for no kinds', () => {
    expect(buildValidatingWebhookConfiguration({ name: 'x', kinds: [], target: service }).webhooks).toEqual([]);
  });
});

describe('buildMutatingWebhookConfiguration', () => {
  it('uses the mutate paths and names, and never reinvokes', () => {
    const config = buildMutatingWebhookConfiguration({ name: 'x', kinds: [job, pool], target: service });
    expect(config.kind).toBe('MutatingWebhookConfiguration');
    expect(config.webhooks?.map((w) => [w.name, w.clientConfig.service?.path, w.reinvocationPolicy, w.failurePolicy, w.rules?.[0]?.operations])).toEqual([
      ['job.mutate.octopus.openi.pcl.cn', '/mutate/job', 'Never', 'Fail', ['CREATE', 'UPDATE']],
      ['resourcepool.mutate.octopus.openi.pcl.cn', '/mutate/resourcepool', 'Never', 'Fail', ['CREATE', 'UPDATE']],
    ]);
  });
});

describe('webhookPath', () => {
  it.each([
    ['validate', 'Job', '/validate/job'],
    ['mutate', 'ModelService', '/mutate/modelservice'],
  ] as const)('%s %s → %s', (type, kind, want) => {
    expect(webhookPath(type, kind)).toBe(want);
  });
});

describe('planWebhooks', () => {
  it.each([
    ['validated and mutated', { job: validator }, { job: mutator }, [job], [job]],
    ['validated only', { job: validator, resourcepool: validator }, {}, [job, pool], []],
    ['neither: not registered', {}, {}, [], []],
  ])('%s', (_case, validators, mutators, wantValidating, wantMutating) => {
    expect(planWebhooks({ kinds: [job, pool], validators, mutators })).toEqual({ validating: wantValidating, mutating: wantMutating });
  });

  it.each([
    ['a handler without a descriptor', [job], { dataset: validator }, 'without a kind descriptor (keys must be lowercased kinds): dataset'],
    ['a key that is not lowercased', [job], { Job: validator }, 'without a kind descriptor (keys must be lowercased kinds): Job'],
    ['a descriptor listed twice', [job, job], {}, 'kind descriptors listed twice: job'],
  ])('refuses %s', (_case, kinds, validators, wantMessage) => {
    expect(() => planWebhooks({ kinds, validators, mutators: {} })).toThrow(wantMessage);
  });
});
