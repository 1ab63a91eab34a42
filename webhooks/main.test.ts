import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { loadKubeConfig, parseOptions, type WebhooksOptions } from './main.js';

const defaults: WebhooksOptions = {
  mode: 'cluster',
  namespace: 'octopus-system',
  serviceName: 'octopus-webhooks',
  servicePort: 443,
  host: '0.0.0.0',
  port: 9443,
  logLevel: 'info',
  certSecret: 'octopus-webhook-tls',
  configName: 'octopus-webhooks',
  certValidityDays: 365,
  certRotateBeforeDays: 30,
  certCheckIntervalSeconds: 3600,
  shutdownDelaySeconds: 5,
  ingressDomain: 'octopus.local',
  buildRegistry: '',
};

describe('parseOptions', () => {
  it.each<[string, string[], Record<string, string>, Partial<WebhooksOptions>]>([
    ['defaults: cluster mode', [], {}, {}],
    ['local mode listens on loopback and stops at once', ['--mode', 'local'], {}, { mode: 'local', host: '127.0.0.1', shutdownDelaySeconds: 0 }],
    ['flags', ['--port=0', '--namespace', 'ops', '--log-level', 'debug', '--cert-secret', 's'], {}, { port: 0, namespace: 'ops', logLevel: 'debug', certSecret: 's' }],
    ['environment', [], { OCTOPUS_WEBHOOKS_MODE: 'local', OCTOPUS_WEBHOOKS_PORT: '8443', OCTOPUS_WEBHOOKS_CONFIG_NAME: 'c' }, { mode: 'local', host: '127.0.0.1', port: 8443, configName: 'c', shutdownDelaySeconds: 0 }],
    ['a flag wins over the environment', ['--port', '1'], { OCTOPUS_WEBHOOKS_PORT: '2' }, { port: 1 }],
    ['the downward-API namespace', [], { POD_NAMESPACE: 'from-pod' }, { namespace: 'from-pod' }],
    ['KUBECONFIG', [], { KUBECONFIG: '/k' }, { kubeconfig: '/k' }],
    ['the ingress domain, as the controller has it', ['--ingress-domain', 'apps.example.com'], {}, { ingressDomain: 'apps.example.com' }],
    ['the build registry, as the controller has it', ['--build-registry', 'registry.example.com/octopus'], {}, { buildRegistry: 'registry.example.com/octopus' }],
    ['an empty variable counts as unset', [], { OCTOPUS_WEBHOOKS_PORT: '' }, {}],
  ])('%s', (_case, argv, env, want) => {
    expect(parseOptions(argv, env)).toEqual({ ...defaults, ...want });
  });

  it.each<[string, string[], Record<string, string>, string]>([
    ['an unknown mode', ['--mode', 'kind'], {}, '--mode must be local or cluster'],
    ['a port out of range', ['--port', '70000'], {}, '--port must be an integer from 0 to 65535'],
    ['a port that is not a number', [], { OCTOPUS_WEBHOOKS_PORT: '9443x' }, '--port must be an integer'],
    ['an unknown log level', ['--log-level', 'verbose'], {}, '--log-level must be one of'],
    ['rotation longer than validity', ['--cert-validity-days', '30', '--cert-rotate-before-days', '30'], {}, 'must be less than --cert-validity-days'],
    ['a kubeconfig list', [], { KUBECONFIG: '/a:/b' }, 'must name one file'],
    ['an unknown flag', ['--verbose'], {}, "Unknown option '--verbose'"],
    ['a positional argument', ['serve'], {}, 'Unexpected argument'],
  ])('refuses %s', (_case, argv, env, wantMessage) => {
    expect(() => parseOptions(argv, env)).toThrow(wantMessage);
  });
});

describe('loadKubeConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'octopus-webhooks-'));
  const file = join(dir, 'kubeconfig');
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443' } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    }),
  );

  it('reads the named file', () => {
    expect(loadKubeConfig(file, {}).getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
  });

  it('uses the service account in a pod', () => {
    expect(loadKubeConfig(undefined, { KUBERNETES_SERVICE_HOST: '10.96.0.1' }).getCurrentCluster()?.name).toBe('inCluster');
  });

  it('refuses to guess outside a pod rather than fall back to localhost:8080', () => {
    expect(() => loadKubeConfig(undefined, {})).toThrow('no kubeconfig');
  });
});
