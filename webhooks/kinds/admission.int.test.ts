// The Octopus webhooks registered in the real apiserver (local mode, URL webhooks on a fresh loopback
// port, served from this process with informer caches), driven with kubectl as a user would: every
// examples/invalid/ file whose rule only the webhooks enforce is refused with its expected message, and
// what must pass — a reference to an asset that does not exist yet, a job that has to wait — passes.
//
// The apiserver is shared with other suites, so the webhooks only see objects labelled with this run's
// id, every namespace is fresh, and cluster-scoped objects get this run's suffix.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AdmissionregistrationV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { stringify } from 'yaml';
import { group, kindByName, version, workspaceLabel } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { InformerFactory, RestClient, SystemClock } from '../../controllers/runtime/index.js';
import { installCrds } from '../../e2e/harness/crds.js';
import { invalidExamples, type InvalidExample, type KubeManifest } from '../../e2e/harness/examples.js';
import { createTestNamespace, deleteNamespace, eventually, testKubeConfig } from '../../e2e/harness/kube.js';
import { parseOptions, startWebhooks, type RunningWebhooks } from '../main.js';
import { deleteWebhookConfigurations, ignoreNotFound } from '../testing/kube.js';
import { WebhookCaches, type CachedKind } from './caches.js';
import { octopusAdmission } from './index.js';

const suffix = randomBytes(3).toString('hex');
const runLabel = 'webhook-test.octopus.openi.pcl.cn/run';
const configName = `octopus-webhooks-kinds-${suffix}`;

let kc: KubeConfig;
let custom: CustomObjectsApi;
let caches: WebhookCaches;
let running: RunningWebhooks | undefined;
const namespaces: string[] = [];
const clusterObjects: KubeManifest[] = [];

interface Kubectl {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** kubectl from PATH against the test cluster, with `documents` as YAML on stdin. */
function kubectl(args: string[], documents: KubeManifest[] = []): Promise<Kubectl> {
  return new Promise((resolve, reject) => {
    const child = spawn('kubectl', ['--kubeconfig', process.env.OCTOPUS_TEST_KUBECONFIG ?? '', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(documents.map((d) => stringify(d)).join('---\n'));
  });
}

async function apply(documents: KubeManifest[]): Promise<Kubectl> {
  for (const d of documents) if (kindByName(d.kind)?.scope === 'Cluster') clusterObjects.push(d);
  // Status is a subresource: apply would drop it; writeStatus sets it.
  return kubectl(['apply', '-f', '-'], documents.map(({ status: _status, ...d }) => d as KubeManifest));
}

function resourceOf(doc: KubeManifest) {
  const def = kindByName(doc.kind)!;
  const where = { group, version, plural: def.plural, name: doc.metadata.name };
  return def.scope === 'Namespaced' ? { ...where, namespace: doc.metadata.namespace! } : where;
}

async function read(doc: KubeManifest): Promise<KubernetesObject> {
  const where = resourceOf(doc);
  return (await ('namespace' in where ? custom.getNamespacedCustomObject(where) : custom.getClusterCustomObject(where))) as KubernetesObject;
}

/** Writes `doc.status` the way a controller does, through the status subresource. */
async function writeStatus(doc: KubeManifest): Promise<void> {
  const where = resourceOf(doc);
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const body = { status: doc.status };
  if ('namespace' in where) await custom.patchNamespacedCustomObjectStatus({ ...where, body }, merge);
  else await custom.patchClusterCustomObjectStatus({ ...where, body }, merge);
}

/** Waits until the webhooks' caches hold `doc` as the apiserver has it now. */
async function cached(doc: KubeManifest): Promise<void> {
  const informer = caches.informers[doc.kind as CachedKind];
  if (informer === undefined) return;
  const want = BigInt((await read(doc)).metadata?.resourceVersion ?? '0');
  const key = doc.metadata.namespace ? `${doc.metadata.namespace}/${doc.metadata.name}` : doc.metadata.name;
  // At that version or later: on a shared cluster another suite's controller may write the object too.
  await eventually(`${doc.kind} ${key} in the webhooks' cache`, async () => (BigInt(informer.get(key)?.metadata?.resourceVersion ?? '0') >= want ? true : undefined));
}

/** Creates `docs` (with their status) and waits until the webhooks see them. */
async function establish(docs: KubeManifest[]): Promise<void> {
  if (docs.length === 0) return;
  const result = await apply(docs);
  // Accepted, perhaps with warnings (e.g. NoQuota: the examples' Workspaces name no cpu or memory limit).
  expect(result.stderr.split('\n').filter((line) => line !== '' && !line.startsWith('Warning: '))).toEqual([]);
  for (const d of docs.filter((d) => d.status !== undefined)) await writeStatus(d);
  for (const d of docs) await cached(d);
}

function replaceStrings(value: unknown, names: ReadonlyMap<string, string>): unknown {
  if (typeof value === 'string') return names.get(value) ?? value;
  if (Array.isArray(value)) return value.map((v) => replaceStrings(v, names));
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replaceStrings(v, names)]));
  return value;
}

/**
 * The example moved into this run: each namespace it names becomes a fresh one, cluster-scoped objects get
 * this run's suffix, every object this run's label; the expected message follows the renames.
 */
async function localize(example: InvalidExample): Promise<{ prerequisites: KubeManifest[]; object: KubeManifest; oldObject?: KubeManifest; wantMessage: string; wantPath: string }> {
  const all = [...example.prerequisites, ...(example.oldObject ? [example.oldObject] : []), example.object];
  const names = new Map<string, string>();
  for (const d of all) {
    if (kindByName(d.kind)?.scope === 'Cluster') names.set(d.metadata.name, `${d.metadata.name}-${suffix}`);
    else d.metadata.namespace ??= 'team-a';
  }
  for (const ns of new Set(all.flatMap((d) => d.metadata.namespace ?? []))) {
    const created = await createTestNamespace(kc, `wh-${ns}`.slice(0, 20));
    namespaces.push(created);
    names.set(ns, created);
  }
  const move = (d: KubeManifest): KubeManifest => {
    const moved = replaceStrings(d, names) as KubeManifest;
    return { ...moved, metadata: { ...moved.metadata, labels: { ...(moved.metadata.labels as Record<string, string> | undefined), [runLabel]: suffix } } };
  };
  // Longest first, and whole names only: team-a must not turn npu-not-for-team-a into something else.
  const rename = (text: string) =>
    [...names.keys()]
      .sort((a, b) => b.length - a.length)
      .reduce((t, from) => t.replace(new RegExp(`(?<![\\w.-])${from.replace(/[.]/g, '\\.')}(?![\\w-])`, 'g'), names.get(from)!), text);
  return {
    prerequisites: example.prerequisites.map(move),
    object: move(example.object),
    ...(example.oldObject ? { oldObject: move(example.oldObject) } : {}),
    wantPath: example.wantPath,
    wantMessage: rename(example.wantMessage),
  };
}


const job = (name: string, ns: string, spec: Record<string, unknown> = {}): KubeManifest => ({
  apiVersion: `${group}/${version}`,
  kind: 'Job',
  metadata: { name, namespace: ns, labels: { [runLabel]: suffix } },
  spec: { image: { reference: 'docker.io/library/python:3.12' }, pool: 'cpu', tasks: [{ name: 'worker', resources: { requests: { cpu: 1 } } }], ...spec },
});

beforeAll(async () => {
  kc = testKubeConfig();
  custom = kc.makeApiClient(CustomObjectsApi);
  await installCrds(kc);
  const home = await createTestNamespace(kc, 'wh-kinds');
  namespaces.push(home);
  const logger = pino({ level: 'silent' });
  caches = new WebhookCaches(new InformerFactory({ rest: new RestClient(kc), watch: new Watch(kc), clock: new SystemClock(), logger }));
  running = await startWebhooks(
    parseOptions(['--mode', 'local', '--port', '0', '--namespace', home, '--config-name', configName], {}),
    { kubeConfig: kc, logger, registry: new Registry(), now: () => new Date(), caches, objectSelector: { matchLabels: { [runLabel]: suffix } }, ...octopusAdmission(caches.lookups) },
  );
  // The apiserver learns of new configurations through a watch: wait until it consults ours.
  const probe = job('probe', home, { tasks: [{ name: 'worker', resources: { requests: { 'nvidia.com/gpu': '0.5' } } }] });
  await eventually('the apiserver to call the Octopus webhooks', async () => ((await kubectl(['apply', '--dry-run=server', '-f', '-'], [probe])).stderr.includes('must be a whole number of devices') ? true : undefined));
});

afterAll(async () => {
  // Configurations first: with failurePolicy Fail they would refuse this run's objects once the server is gone.
  await deleteWebhookConfigurations(kc.makeApiClient(AdmissionregistrationV1Api), configName);
  await running?.stop();
  for (const d of clusterObjects) await custom.deleteClusterCustomObject(resourceOf(d)).catch(ignoreNotFound);
  for (const ns of namespaces) await deleteNamespace(kc, ns);
});

describe('examples/invalid/ through kubectl and the apiserver', () => {
  it.each(invalidExamples().filter((e) => e.enforcedBy === 'webhook'))('$file is denied: $rule', async (example) => {
    const { prerequisites, object, oldObject, wantPath, wantMessage } = await localize(example);
    await establish(prerequisites);
    if (oldObject) await establish([oldObject]);
    const result = await apply([object]);
    expect(result.code).not.toBe(0);
    // kubectl words a 403 with the webhook's name, and a 422 (field errors) as it words the apiserver's own;
    // warnings of the same review (e.g. NoQuota) come first.
    expect(result.stderr).toMatch(
      new RegExp(`^(Warning: .*\n)*(Error from server \\(Forbidden\\): .*admission webhook "${object.kind.toLowerCase()}\\.validate\\.${group.replaceAll('.', '\\.')}" denied the request|The ${object.kind} "${object.metadata.name}" is invalid)`),
    );
    expect(result.stderr).toContain(wantPath);
    expect(result.stderr).toContain(wantMessage);
  });
});

describe('what the webhooks let through', () => {
  let team: string;
  let shared: string;

  beforeAll(async () => {
    team = await createTestNamespace(kc, 'wh-team');
    shared = await createTestNamespace(kc, 'wh-shared');
    namespaces.push(team, shared);
  });

  it('admits references to assets that do not exist yet, and labels the Job with its workspace', async () => {
    const refs = job('later', team, {
      image: { name: 'pytorch', namespace: shared },
      algorithm: { name: 'resnet', namespace: shared },
      datasets: [{ name: 'imagenet', namespace: shared }],
      pretrainedModel: { name: 'bert', namespace: shared },
    });
    const result = await apply([refs]);
    expect(result.stderr).toBe('');
    expect((await read(refs)).metadata?.labels?.[workspaceLabel]).toBe(team);
  });

  it('admits a Public dataset of another namespace, and refuses it once it turns Private', async () => {
    const dataset: KubeManifest = {
      apiVersion: `${group}/${version}`,
      kind: 'Dataset',
      metadata: { name: 'coco', namespace: shared, labels: { [runLabel]: suffix } },
      spec: { visibility: 'Public', versions: [{ name: 'v1', source: { pvc: { claimName: 'coco' } } }] },
    };
    await establish([dataset]);
    expect((await apply([job('public-data', team, { datasets: [{ name: 'coco', namespace: shared }] })])).stderr).toBe('');
    const narrowed = await apply([{ ...dataset, spec: { ...(dataset.spec as object), visibility: 'Private' } }]);
    expect(narrowed.stderr).toContain(`Warning: spec.visibility: other namespaces can no longer start workloads with Dataset ${shared}/coco`);
    await cached(dataset);
    const refused = await apply([job('private-data', team, { datasets: [{ name: 'coco', namespace: shared }] })]);
    expect(refused.stderr).toContain(`Error from server (Forbidden)`);
    expect(refused.stderr).toContain(`spec.datasets[0]: Dataset ${shared}/coco is Private`);
  });

  it('admits a Job that only has to wait for quota, warning why, and warns when the Quota is lowered below use', async () => {
    const quota: KubeManifest = {
      apiVersion: `${group}/${version}`,
      kind: 'Quota',
      metadata: { name: 'cpu', namespace: team, labels: { [runLabel]: suffix } },
      spec: { hard: { cpu: 8 } },
      status: { used: { cpu: 6 } },
    };
    await establish([quota]);
    const waits = await apply([job('waits', team, { tasks: [{ name: 'worker', replicas: 4, resources: { requests: { cpu: 1 } } }] })]);
    expect(waits.code).toBe(0);
    expect(waits.stderr).toContain('Warning: spec.tasks: queues until quota frees up, waiting for Quota cpu: cpu 6 in use + 4 requested > 8 hard');
    const result = await apply([{ ...quota, spec: { hard: { cpu: 4 } } }]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('Warning: spec.hard[cpu]: 4 is below the 6 in use');
  });
});
