/**
 * The `octopus-webhooks` process: serving certificate from its Secret, the HTTPS server, the webhook
 * configurations, certificate rotation, and a graceful stop on SIGTERM.
 *
 * Modes: `cluster` runs in a pod behind a Service, and only patches our CA into the configurations the
 * chart installed; `local` runs beside a local apiserver on loopback and creates/updates the
 * configurations itself with `url: https://127.0.0.1:<port>/…`.
 */
import { realpathSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AdmissionregistrationV1Api, CoreV1Api, KubeConfig, type V1LabelSelector } from '@kubernetes/client-node';
import { pino, type Level, type Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { defaultIngressDomain } from '../controllers/modelservice/expose.js';
import { InformerFactory, RestClient, SystemClock } from '../controllers/runtime/index.js';
import type { MutatorRegistry, ValidatorRegistry } from './admission.js';
import { CertificateRotator, ensureTlsSecret, servingIdentity } from './certs.js';
import { WebhookCaches, type AdmissionCaches } from './kinds/caches.js';
import { octopusAdmission } from './kinds/index.js';
import {
  buildMutatingWebhookConfiguration,
  buildValidatingWebhookConfiguration,
  planWebhooks,
  syncWebhookConfigurations,
  type WebhookKind,
  type WebhookTarget,
} from './registration.js';
import { createWebhookServer, type WebhookServer } from './server.js';

export interface WebhooksOptions {
  /** Absent in a pod, where the service account is used. */
  kubeconfig?: string;
  mode: 'local' | 'cluster';
  /** Holds the certificate Secret and, in cluster mode, the Service. */
  namespace: string;
  serviceName: string;
  /** The Service's port, which the apiserver dials (cluster mode). */
  servicePort: number;
  host: string;
  /** 0 picks a free port (local mode registers whichever it got). */
  port: number;
  logLevel: Level;
  certSecret: string;
  /** Name of both the Validating- and the MutatingWebhookConfiguration. */
  configName: string;
  certValidityDays: number;
  certRotateBeforeDays: number;
  certCheckIntervalSeconds: number;
  /** Time between turning unready and closing the listener, for endpoints to drop this pod. */
  shutdownDelaySeconds: number;
  /** Domain of derived ingress hosts; the controller's --ingress-domain. */
  ingressDomain: string;
  /** Registry Image builds push under; the controller's --build-registry (empty: the controller alone judges destinations). */
  buildRegistry: string;
}

type Flag = { env: string; default?: (mode: string) => string; also?: string; help: string };

/** Each flag can also come from its environment variable; a flag wins. */
export const flags: Record<string, Flag> = {
  kubeconfig: { env: 'OCTOPUS_WEBHOOKS_KUBECONFIG', also: 'KUBECONFIG', help: 'kubeconfig file; in a pod the service account is used instead' },
  mode: { env: 'OCTOPUS_WEBHOOKS_MODE', default: () => 'cluster', help: 'cluster | local' },
  namespace: { env: 'OCTOPUS_WEBHOOKS_NAMESPACE', also: 'POD_NAMESPACE', default: () => 'octopus-system', help: 'namespace of the Secret and Service' },
  'service-name': { env: 'OCTOPUS_WEBHOOKS_SERVICE_NAME', default: () => 'octopus-webhooks', help: 'Service in front of this process' },
  'service-port': { env: 'OCTOPUS_WEBHOOKS_SERVICE_PORT', default: () => '443', help: 'port of that Service' },
  host: { env: 'OCTOPUS_WEBHOOKS_HOST', default: (mode) => (mode === 'local' ? '127.0.0.1' : '0.0.0.0'), help: 'address to listen on' },
  port: { env: 'OCTOPUS_WEBHOOKS_PORT', default: () => '9443', help: 'port to listen on (0: any free port)' },
  'log-level': { env: 'OCTOPUS_WEBHOOKS_LOG_LEVEL', default: () => 'info', help: 'trace | debug | info | warn | error | fatal' },
  'cert-secret': { env: 'OCTOPUS_WEBHOOKS_CERT_SECRET', default: () => 'octopus-webhook-tls', help: 'Secret holding tls.crt, tls.key and ca.crt' },
  'config-name': { env: 'OCTOPUS_WEBHOOKS_CONFIG_NAME', default: () => 'octopus-webhooks', help: 'name of the webhook configurations' },
  'cert-validity-days': { env: 'OCTOPUS_WEBHOOKS_CERT_VALIDITY_DAYS', default: () => '365', help: 'lifetime of a generated certificate' },
  'cert-rotate-before-days': { env: 'OCTOPUS_WEBHOOKS_CERT_ROTATE_BEFORE_DAYS', default: () => '30', help: 'rotate this long before expiry' },
  'cert-check-interval-seconds': { env: 'OCTOPUS_WEBHOOKS_CERT_CHECK_INTERVAL_SECONDS', default: () => '3600', help: 'how often the Secret is checked' },
  'ingress-domain': { env: 'OCTOPUS_WEBHOOKS_INGRESS_DOMAIN', default: () => defaultIngressDomain, help: "domain of derived Notebook/ModelService hosts (the controller's --ingress-domain)" },
  'build-registry': { env: 'OCTOPUS_WEBHOOKS_BUILD_REGISTRY', help: "registry Image builds push under, <registry>/<namespace>/ (the controller's --build-registry)" },
  'shutdown-delay-seconds': {
    env: 'OCTOPUS_WEBHOOKS_SHUTDOWN_DELAY_SECONDS',
    default: (mode) => (mode === 'local' ? '0' : '5'),
    help: 'unready time before the listener closes on SIGTERM',
  },
};

const caPropagationMs = 5_000;

const levels: readonly Level[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/** Throws an Error whose message says what is wrong and what is accepted. */
export function parseOptions(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): WebhooksOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: Object.fromEntries(Object.keys(flags).map((f) => [f, { type: 'string' as const }])),
    strict: true,
    allowPositionals: false,
  });
  const raw = (flag: string, mode = ''): string | undefined => {
    const spec = flags[flag];
    if (spec === undefined) throw new Error(`unknown flag --${flag}`);
    const given = values[flag] ?? env[spec.env] ?? (spec.also === undefined ? undefined : env[spec.also]);
    return given === undefined || given === '' ? spec.default?.(mode) : given;
  };
  const mode = raw('mode');
  if (mode !== 'local' && mode !== 'cluster') throw new Error(`--mode must be local or cluster, not ${JSON.stringify(mode)}`);
  const str = (flag: string): string => raw(flag, mode) ?? '';
  const int = (flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const text = str(flag);
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < min || n > max) throw new Error(`--${flag} must be an integer from ${min} to ${max}, not ${JSON.stringify(text)}`);
    return n;
  };
  const logLevel = str('log-level') as Level;
  if (!levels.includes(logLevel)) throw new Error(`--log-level must be one of ${levels.join(', ')}`);
  const kubeconfig = raw('kubeconfig');
  if (kubeconfig?.includes(':')) throw new Error('--kubeconfig (or KUBECONFIG) must name one file');
  const options: WebhooksOptions = {
    mode,
    namespace: str('namespace'),
    serviceName: str('service-name'),
    servicePort: int('service-port', 1, 65535),
    host: str('host'),
    port: int('port', 0, 65535),
    logLevel,
    certSecret: str('cert-secret'),
    configName: str('config-name'),
    certValidityDays: int('cert-validity-days', 2),
    certRotateBeforeDays: int('cert-rotate-before-days', 1),
    certCheckIntervalSeconds: int('cert-check-interval-seconds', 1),
    shutdownDelaySeconds: int('shutdown-delay-seconds', 0, 300),
    ingressDomain: str('ingress-domain'),
    buildRegistry: str('build-registry'),
  };
  if (options.certRotateBeforeDays >= options.certValidityDays) throw new Error('--cert-rotate-before-days must be less than --cert-validity-days');
  if (kubeconfig !== undefined) options.kubeconfig = kubeconfig;
  return options;
}

/**
 * A kubeconfig file when one is named, the service account in a pod, and an error otherwise — never
 * loadFromDefault(), which silently falls back to http://localhost:8080.
 */
export function loadKubeConfig(path: string | undefined, env: Readonly<Record<string, string | undefined>>): KubeConfig {
  const kc = new KubeConfig();
  if (path !== undefined) kc.loadFromFile(path);
  else if (env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else throw new Error('no kubeconfig: pass --kubeconfig or set KUBECONFIG when not running in a pod');
  if (kc.getCurrentCluster() === null) throw new Error(`kubeconfig ${path ?? '(in-cluster)'} has no current cluster`);
  return kc;
}

export interface WebhooksDeps {
  kubeConfig: KubeConfig;
  logger: Logger;
  registry: Registry;
  now: () => Date;
  kinds: readonly WebhookKind[];
  validators: ValidatorRegistry;
  mutators: MutatorRegistry;
  /**
   * What the validators read. Waited for before the configurations are registered and /readyz turns 200,
   * so no request is judged against a cache that has not listed yet; stopped with the server.
   */
  caches?: AdmissionCaches;
  /** Only objects with these labels are sent to the webhooks; tests on a shared cluster confine themselves with it. */
  objectSelector?: V1LabelSelector;
}

export interface RunningWebhooks {
  /** The port actually listened on. */
  port: number;
  server: WebhookServer;
  /** Checks the certificate now (the periodic check calls the same); true when it was rotated. */
  checkCertificate(): Promise<boolean>;
  stop(): Promise<void>;
}

/** Ready (and registered) when the promise resolves; a failure leaves nothing listening. */
export async function startWebhooks(opts: WebhooksOptions, deps: WebhooksDeps): Promise<RunningWebhooks> {
  const { logger } = deps;
  const plan = planWebhooks(deps);
  const core = deps.kubeConfig.makeApiClient(CoreV1Api);
  const admission = deps.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  const local = opts.mode === 'local';
  const identity = servingIdentity({ service: opts.serviceName, namespace: opts.namespace, local });
  const ensure = () =>
    ensureTlsSecret({
      core,
      namespace: opts.namespace,
      name: opts.certSecret,
      identity,
      now: deps.now,
      validityDays: opts.certValidityDays,
      rotateBeforeDays: opts.certRotateBeforeDays,
      logger,
    });
  const bundle = await ensure();
  const server = createWebhookServer({ validators: deps.validators, mutators: deps.mutators, tls: bundle, logger, registry: deps.registry });
  const { port } = await server.listen(opts.port, opts.host);
  // /healthz answers from here on; /readyz stays 503 until the caches have listed and the configurations are in.
  deps.caches?.start();
  const target: WebhookTarget = local
    ? { url: `https://127.0.0.1:${port}` }
    : { service: { namespace: opts.namespace, name: opts.serviceName, port: opts.servicePort } };
  const sync = (caBundle: string) =>
    syncWebhookConfigurations({
      api: admission,
      validating: buildValidatingWebhookConfiguration({ name: opts.configName, kinds: plan.validating, target, objectSelector: deps.objectSelector }),
      mutating: buildMutatingWebhookConfiguration({ name: opts.configName, kinds: plan.mutating, target, objectSelector: deps.objectSelector }),
      caBundle,
      manage: local ? 'all' : 'caBundle',
      logger,
    });
  try {
    if (deps.caches !== undefined && !(await deps.caches.waitForSync())) throw new Error('the caches stopped before they listed');
    await sync(bundle.caBundle);
  } catch (err) {
    await server.close(0);
    await deps.caches?.stop();
    throw err;
  }
  server.setReady(true);
  const rotator = new CertificateRotator({
    ensure,
    current: bundle,
    // The new CA must be trusted before any connection is served with a certificate it signed. The apiserver
    // learns the new caBundle through a watch, so give it a moment; the old certificate is valid for weeks yet.
    onRotate: async (next) => {
      await sync(next.caBundle);
      await sleep(caPropagationMs);
      server.reloadTls(next);
    },
    intervalMs: opts.certCheckIntervalSeconds * 1000,
    logger,
  });
  rotator.start();
  logger.info({ mode: opts.mode, port, validating: plan.validating.length, mutating: plan.mutating.length }, 'octopus-webhooks ready');
  return {
    port,
    server,
    checkCertificate: () => rotator.check(),
    stop: async () => {
      rotator.stop();
      server.setReady(false);
      await sleep(opts.shutdownDelaySeconds * 1000);
      await server.close();
      await deps.caches?.stop();
    },
  };
}

async function main(): Promise<void> {
  let opts: WebhooksOptions;
  try {
    opts = parseOptions(process.argv.slice(2), process.env);
  } catch (err) {
    const help = Object.entries(flags).map(([f, s]) => `  --${f.padEnd(28)} ${s.help} (${s.env}${s.also ? ` or ${s.also}` : ''})`);
    console.error(`octopus-webhooks: ${(err as Error).message}\n\nflags:\n${help.join('\n')}`);
    process.exit(2);
  }
  const logger = pino({ level: opts.logLevel, base: { component: 'octopus-webhooks' } });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'octopus_webhooks_' });
  let running: RunningWebhooks;
  try {
    const kubeConfig = loadKubeConfig(opts.kubeconfig, process.env);
    const rest = new RestClient(kubeConfig);
    const caches = new WebhookCaches(new InformerFactory({ rest, watch: rest, clock: new SystemClock(), logger }));
    running = await startWebhooks(opts, { kubeConfig, logger, registry, now: () => new Date(), caches, ...octopusAdmission(caches.lookups, { ingressDomain: opts.ingressDomain, buildRegistry: opts.buildRegistry }) });
  } catch (err) {
    logger.fatal({ err }, 'octopus-webhooks failed to start');
    process.exit(1);
  }
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'stopping: finishing requests in flight');
      running.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'unclean stop');
          process.exit(1);
        },
      );
    });
  }
}

// Run only as the entry point (also through a symlinked bin), not when imported by tests.
if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) void main();
