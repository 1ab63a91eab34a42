/**
 * Webhook configurations for the kinds the webhooks serve: pure builders (the chart generator can use
 * them too) and the start-up step that puts our CA bundle into the configurations in the cluster.
 */
import {
  ApiException,
  PatchStrategy,
  setHeaderOptions,
  type AdmissionregistrationV1Api,
  type V1MutatingWebhook,
  type V1LabelSelector,
  type V1MutatingWebhookConfiguration,
  type V1ValidatingWebhook,
  type V1ValidatingWebhookConfiguration,
  type AdmissionregistrationV1WebhookClientConfig,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { MutatorRegistry, ValidatorRegistry } from './admission.js';

/** What registration needs to know about a kind; an apis/ KindDefinition satisfies it. */
export interface WebhookKind {
  readonly kind: string;
  readonly plural: string;
  readonly scope: 'Namespaced' | 'Cluster';
  readonly group: string;
  readonly version: string;
}

export type WebhookType = 'validate' | 'mutate';

/** In-cluster: the apiserver dials the Service. Local: the webhook runs on the apiserver's host. */
export type WebhookTarget = { service: { namespace: string; name: string; port: number } } | { url: string };

export const kindKey = (kind: string): string => kind.toLowerCase();

export function webhookPath(type: WebhookType, kind: string): string {
  return `/${type}/${kindKey(kind)}`;
}

/** A webhook name must be a fully qualified domain name and unique within its configuration. */
export function webhookName(type: WebhookType, k: WebhookKind): string {
  return `${kindKey(k.kind)}.${type}.${k.group}`;
}

const labels = { 'app.kubernetes.io/part-of': 'octopus', 'app.kubernetes.io/component': 'webhooks' };

export interface ConfigurationOptions {
  name: string;
  kinds: readonly WebhookKind[];
  target: WebhookTarget;
  /** PEM; left out for a chart whose caBundle is patched in at start-up. */
  caBundle?: string;
  /** Limits every webhook to objects with these labels. @default every object of the kinds */
  objectSelector?: V1LabelSelector;
}

export function buildValidatingWebhookConfiguration(opts: ConfigurationOptions): V1ValidatingWebhookConfiguration {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: opts.name, labels: { ...labels } },
    webhooks: opts.kinds.map((k): V1ValidatingWebhook => webhook('validate', k, opts)),
  };
}

export function buildMutatingWebhookConfiguration(opts: ConfigurationOptions): V1MutatingWebhookConfiguration {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: opts.name, labels: { ...labels } },
    // Our patches touch labels and finalizers only, which no later mutation should undo.
    webhooks: opts.kinds.map((k): V1MutatingWebhook => ({ ...webhook('mutate', k, opts), reinvocationPolicy: 'Never' })),
  };
}

function webhook(type: WebhookType, k: WebhookKind, opts: ConfigurationOptions): V1ValidatingWebhook {
  const path = webhookPath(type, k.kind);
  const clientConfig: AdmissionregistrationV1WebhookClientConfig =
    'url' in opts.target ? { url: opts.target.url.replace(/\/+$/, '') + path } : { service: { ...opts.target.service, path } };
  if (opts.caBundle !== undefined) clientConfig.caBundle = base64(opts.caBundle);
  return {
    name: webhookName(type, k),
    ...(opts.objectSelector === undefined ? {} : { objectSelector: opts.objectSelector }),
    admissionReviewVersions: ['v1'],
    clientConfig,
    rules: [{ apiGroups: [k.group], apiVersions: [k.version], resources: [k.plural], operations: ['CREATE', 'UPDATE'], scope: k.scope }],
    // Denying when the webhook is unreachable is the safe side: quota and device policy are enforced here.
    failurePolicy: 'Fail',
    matchPolicy: 'Equivalent',
    sideEffects: 'None',
    timeoutSeconds: 5,
  };
}

/** The kinds that get a validating and a mutating webhook; throws when a handler has no descriptor to register it by. */
export function planWebhooks(opts: { kinds: readonly WebhookKind[]; validators: ValidatorRegistry; mutators: MutatorRegistry }): {
  validating: WebhookKind[];
  mutating: WebhookKind[];
} {
  const keys = opts.kinds.map((k) => kindKey(k.kind));
  const duplicates = keys.filter((k, i) => keys.indexOf(k) !== i);
  if (duplicates.length > 0) throw new Error(`kind descriptors listed twice: ${duplicates.join(', ')}`);
  const orphans = [...Object.keys(opts.validators), ...Object.keys(opts.mutators)].filter((k) => !keys.includes(k));
  if (orphans.length > 0) throw new Error(`validators or mutators without a kind descriptor (keys must be lowercased kinds): ${orphans.join(', ')}`);
  return {
    validating: opts.kinds.filter((k) => Object.hasOwn(opts.validators, kindKey(k.kind))),
    mutating: opts.kinds.filter((k) => Object.hasOwn(opts.mutators, kindKey(k.kind))),
  };
}

export interface SyncOptions {
  api: AdmissionregistrationV1Api;
  validating: V1ValidatingWebhookConfiguration;
  mutating: V1MutatingWebhookConfiguration;
  /** PEM. */
  caBundle: string;
  /**
   * `all`: create the configurations or overwrite their webhooks (local mode owns them).
   * `caBundle`: only patch the CA into configurations the chart installed, leaving the rest to the chart.
   */
  manage: 'all' | 'caBundle';
  logger: Logger;
}

interface WebhookConfiguration {
  metadata?: { name?: string };
  webhooks?: { name: string; clientConfig: AdmissionregistrationV1WebhookClientConfig }[];
}

interface ConfigurationApi {
  resource: string;
  read(name: string): Promise<WebhookConfiguration>;
  create(body: WebhookConfiguration): Promise<unknown>;
  patch(name: string, body: object, type: PatchStrategy): Promise<unknown>;
}

/** Brings both configurations to `caBundle` (and, with manage `all`, to their whole desired state). */
export async function syncWebhookConfigurations(opts: SyncOptions): Promise<void> {
  const { api } = opts;
  const validating: ConfigurationApi = {
    resource: 'ValidatingWebhookConfiguration',
    read: (name) => api.readValidatingWebhookConfiguration({ name }),
    create: (body) => api.createValidatingWebhookConfiguration({ body: body as V1ValidatingWebhookConfiguration }),
    patch: (name, body, type) => api.patchValidatingWebhookConfiguration({ name, body }, setHeaderOptions('Content-Type', type)),
  };
  const mutating: ConfigurationApi = {
    resource: 'MutatingWebhookConfiguration',
    read: (name) => api.readMutatingWebhookConfiguration({ name }),
    create: (body) => api.createMutatingWebhookConfiguration({ body: body as V1MutatingWebhookConfiguration }),
    patch: (name, body, type) => api.patchMutatingWebhookConfiguration({ name, body }, setHeaderOptions('Content-Type', type)),
  };
  const sync = opts.manage === 'all' ? applyConfiguration : patchCaBundle;
  // One after the other: a failure then always names the first configuration at fault.
  await sync(validating, opts.validating, opts);
  await sync(mutating, opts.mutating, opts);
}

async function applyConfiguration(api: ConfigurationApi, desired: WebhookConfiguration, opts: SyncOptions): Promise<void> {
  const name = desired.metadata?.name ?? '';
  const caBundle = base64(opts.caBundle);
  const webhooks = (desired.webhooks ?? []).map((w) => ({ ...w, clientConfig: { ...w.clientConfig, caBundle } }));
  try {
    await api.create({ ...desired, webhooks });
    opts.logger.info({ name }, `created ${api.resource}`);
  } catch (err) {
    if (!(err instanceof ApiException && err.code === 409)) throw new Error(`creating ${api.resource} ${name}`, { cause: err });
    // A merge patch replaces the webhooks list whole, dropping webhooks of kinds no longer served.
    await api.patch(name, { metadata: { labels }, webhooks }, PatchStrategy.MergePatch).catch((cause: unknown) => {
      throw new Error(`updating ${api.resource} ${name}`, { cause });
    });
    opts.logger.info({ name }, `updated ${api.resource}`);
  }
}

async function patchCaBundle(api: ConfigurationApi, desired: WebhookConfiguration, opts: SyncOptions): Promise<void> {
  const name = desired.metadata?.name ?? '';
  const caBundle = base64(opts.caBundle);
  for (let attempt = 0; attempt < 3; attempt++) {
    let current: WebhookConfiguration;
    try {
      current = await api.read(name);
    } catch (err) {
      if (err instanceof ApiException && err.code === 404 && (desired.webhooks ?? []).length === 0) return;
      if (err instanceof ApiException && err.code === 404) throw new Error(`${api.resource} ${name} not found: in cluster mode the chart installs it`, { cause: err });
      throw new Error(`reading ${api.resource} ${name}`, { cause: err });
    }
    // `test` pins each index to the webhook we read, so a concurrent edit fails the patch instead of misplacing the CA.
    const ops = (current.webhooks ?? []).flatMap((w, i) =>
      w.clientConfig.caBundle === caBundle
        ? []
        : [
            { op: 'test', path: `/webhooks/${i}/name`, value: w.name },
            { op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle },
          ],
    );
    if (ops.length === 0) return;
    try {
      await api.patch(name, ops, PatchStrategy.JsonPatch);
      opts.logger.info({ name, webhooks: ops.length / 2 }, `patched the CA bundle into ${api.resource}`);
      return;
    } catch (err) {
      // 422 is how the apiserver reports a failed `test`; 409 a conflicting write.
      if (err instanceof ApiException && (err.code === 409 || err.code === 422)) continue;
      throw new Error(`patching ${api.resource} ${name}`, { cause: err });
    }
  }
  throw new Error(`${api.resource} ${name} kept changing while its CA bundle was being patched`);
}

function base64(pem: string): string {
  return Buffer.from(pem).toString('base64');
}
