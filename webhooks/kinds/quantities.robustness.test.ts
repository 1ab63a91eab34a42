// Hostile quantities through the real webhook server: exponents of millions, thousands of digits, in a
// Job's tasks, a Notebook, a Quota and a ResourceSpec, many at once. Each is refused with a message that
// names the field and stays short, and the server answers a valid review right after — evaluating 10^n
// exactly would have held the event loop for minutes (no timing is measured: the refusals are what show
// the arithmetic never ran, see apis/quantity.test.ts). Both servers are tried: one that judges the CRD
// schema itself, and the served one that leaves it to the apiserver, whose code must refuse them as well.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import { kindKey } from '../registration.js';
import { send, serveOnLoopback, type LoopbackWebhooks } from '../testing/https.js';
import { admissionReview, lookupsOf, makeJob, makeNotebook, makeQuota, makeResourceSpec, makeTask } from '../testing/octopus.js';
import { octopusAdmission } from './index.js';

const servers: Record<'offline' | 'served', LoopbackWebhooks> = {} as never;

beforeAll(async () => {
  servers.offline = await serveOnLoopback(octopusAdmission(lookupsOf([]), undefined, { schemaJudgedBy: 'nobody' }));
  servers.served = await serveOnLoopback(octopusAdmission(lookupsOf([])));
});

afterAll(async () => {
  await servers.offline.close();
  await servers.served.close();
});

const both = ['offline', 'served'] as const;

interface Answer {
  allowed: boolean;
  status?: { code: number; message: string; details?: { causes?: { field: string; message: string }[] } };
}

async function review(webhooks: LoopbackWebhooks, obj: KubernetesObject, uid: string): Promise<Answer> {
  const reply = await send(webhooks.agent, `${webhooks.base}/validate/${kindKey(obj.kind!)}`, { body: JSON.stringify(admissionReview(obj, undefined, uid)) });
  expect(reply.status).toBe(200);
  const { response } = JSON.parse(reply.text) as { response: Answer & { uid: string } };
  expect(response.uid).toBe(uid);
  return response;
}

const hostile = ['1e300000000', '1e3000000', '1e-300000000', '9'.repeat(10_000), `0.${'1'.repeat(10_000)}`, `1e${'9'.repeat(1_000)}`];

const carriers: { name: string; field: string; make: (q: string) => KubernetesObject }[] = [
  { name: "a Job's inline requests", field: 'spec.tasks[0].resources.requests', make: (q) => makeJob({ pool: 'cpu', tasks: [makeTask('worker', { cpu: q })] }) },
  { name: "a Job's shm size", field: 'spec.shmSize', make: (q) => makeJob({ pool: 'cpu', tasks: [makeTask('worker', { cpu: 1 })], shmSize: q }) },
  { name: "a Notebook's limits", field: 'spec.resources.limits', make: (q) => makeNotebook({ resources: { requests: { cpu: 1 }, limits: { memory: q } } }) },
  { name: "a Quota's hard limits", field: 'spec.hard', make: (q) => makeQuota('default', { hard: { 'nvidia.com/gpu': q } }) },
  { name: "a ResourceSpec's requests", field: 'spec.resources.requests', make: (q) => makeResourceSpec('huge', { cpu: q }) },
];

it.each(both.flatMap((server) => carriers.map((c) => ({ ...c, server }))))('$server: refuses hostile quantities in $name, naming the field in a short message', async ({ server, field, make }) => {
  for (const [i, q] of hostile.entries()) {
    const answer = await review(servers[server], make(q), `uid-${i}`);
    expect(answer.allowed).toBe(false);
    expect(answer.status?.code).toBe(422);
    // A path such as spec.tasks[0].resources.requests[cpu] or .cpu, whatever tier refused it.
    expect(answer.status?.details?.causes?.map((c) => c.field)).toEqual([expect.stringContaining(field)]);
    expect(answer.status!.message.length).toBeLessThan(300);
  }
});

it('says why: the exponent is out of range, or the string too long', async () => {
  const job = (q: string) => makeJob({ pool: 'cpu', tasks: [makeTask('worker', { cpu: q })] });
  for (const server of both) {
    expect((await review(servers[server], job('1e300000000'), 'exp')).status?.message).toBe('spec.tasks[0].resources.requests[cpu]: Invalid value: "1e300000000": exponent out of range (at most ±36)');
  }
  // The CRD's maxLength, which the apiserver applies before the served webhook is called; behind it, the code's own bound.
  expect((await review(servers.offline, job('9'.repeat(10_000)), 'long')).status?.message).toBe('spec.tasks[0].resources.requests.cpu: Too long: may not be more than 64 bytes');
  expect((await review(servers.served, job('9'.repeat(10_000)), 'long')).status?.message).toBe(`spec.tasks[0].resources.requests[cpu]: Invalid value: "${'9'.repeat(32)}…": longer than 64 characters`);
});

it.each(both)('%s: keeps answering: a burst of hostile reviews, then a valid one', async (server) => {
  const webhooks = servers[server];
  const burst = Array.from({ length: 64 }, (_, i) => review(webhooks, carriers[i % carriers.length]!.make(hostile[i % hostile.length]!), `burst-${i}`));
  const answers = await Promise.all(burst);
  expect(answers.every((a) => !a.allowed)).toBe(true);
  const valid = await review(webhooks, makeJob({ pool: 'cpu', tasks: [makeTask('worker', { cpu: '1e3', memory: '1Gi' })] }), 'valid');
  expect(valid).toMatchObject({ allowed: true });
  expect((await send(webhooks.agent, `${webhooks.base}/healthz`)).status).toBe(200);
});
