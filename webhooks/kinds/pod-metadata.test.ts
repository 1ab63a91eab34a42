import { describe, expect, it } from '@jest/globals';
import { apiVersion, Job, type Dataset, type Image, type ModelService } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { FieldError } from '../admission.js';
import { createContext, lookupsOf, makeJob, makeNotebook, makeTask, updateContext } from '../testing/octopus.js';
import { kindValidator } from './check.js';
import { refusal, validatePodMetadata } from './pod-metadata.js';

const lookups = lookupsOf([]);
type Metadata = { labels?: Record<string, string>; annotations?: Record<string, string> };
const jobWith = (podMetadata: Metadata) => makeJob({ tasks: [makeTask('worker', { cpu: 1 }), { ...makeTask('ps', { cpu: 1 }), podMetadata }] });
const platform = (path: string, value: string, what = 'label'): FieldError => ({ path, message: `Invalid value: ${JSON.stringify(value)}: the platform sets this ${what}` });

describe('refusal', () => {
  it.each<{ key: string; what: 'label' | 'annotation'; want: RegExp | undefined }>([
    { key: 'team', what: 'label', want: undefined },
    { key: 'example.com/cost-centre', what: 'label', want: undefined },
    { key: 'app.kubernetes.io/name', what: 'label', want: undefined },
    { key: 'app.kubernetes.io/part-of', what: 'label', want: undefined },
    { key: 'sim.octopus.openi.pcl.cn/outcome', what: 'annotation', want: undefined },
    // Looks like the platform's domain without being under it.
    { key: 'notoctopus.openi.pcl.cn/x', what: 'label', want: undefined },
    { key: 'octopus.openi.pcl.cn/job', what: 'label', want: /^the platform sets this label$/ },
    { key: 'Octopus.openi.pcl.cn/job', what: 'label', want: /^the platform sets this label$/ },
    { key: 'notebooks.octopus.openi.pcl.cn/last-activity', what: 'annotation', want: /^the platform sets this annotation$/ },
    { key: 'sim.octopus.openi.pcl.cn/outcome', what: 'label', want: /^the platform sets this label$/ },
    { key: 'app.kubernetes.io/managed-by', what: 'label', want: /^labels under kubernetes.io are not passed to pods/ },
    { key: 'cluster-autoscaler.kubernetes.io/safe-to-evict', what: 'annotation', want: /^annotations under kubernetes.io / },
    { key: 'scheduling.k8s.io/group-name', what: 'annotation', want: /^annotations under k8s.io / },
    { key: 'kueue.x-k8s.io/queue-name', what: 'label', want: /^labels under x-k8s.io / },
    { key: 'scheduling.volcano.sh/group-name', what: 'annotation', want: /^annotations under volcano.sh / },
    { key: 'volcano.sh/queue-name', what: 'annotation', want: /^annotations under volcano.sh / },
    { key: 'yunikorn.apache.org/app-id', what: 'label', want: /^labels under yunikorn.apache.org / },
    { key: 'karpenter.sh/do-not-disrupt', what: 'annotation', want: /^annotations under karpenter.sh / },
    { key: 'sidecar.istio.io/inject', what: 'annotation', want: /^annotations under istio.io are not passed to pods: the service mesh/ },
    { key: 'traffic.sidecar.istio.io/excludeOutboundPorts', what: 'annotation', want: /^annotations under istio.io / },
    { key: 'config.linkerd.io/skip-outbound-ports', what: 'annotation', want: /^annotations under linkerd.io / },
  ])('$what $key', ({ key, what, want }) => {
    const got = refusal(key, what);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toMatch(want);
  });
});

describe('validatePodMetadata', () => {
  const service: ModelService = {
    apiVersion,
    kind: 'ModelService',
    metadata: { name: 'serve', namespace: 'team-a' },
    spec: { model: { name: 'bert', version: 'v1' }, image: { reference: 'docker.io/pytorch/torchserve:0.12.0-cpu' }, pool: 'cpu', resourceSpec: 'cpu-4c', podMetadata: { labels: { 'octopus.openi.pcl.cn/modelservice': 'other' } } },
  };
  const image: Image = { apiVersion, kind: 'Image', metadata: { name: 'img', namespace: 'team-a' }, spec: { build: { dockerfile: 'FROM scratch', podMetadata: { annotations: { 'sidecar.istio.io/inject': 'false' } } } } };
  const dataset = (kind: 'Dataset' | 'Algorithm' | 'Model'): Dataset =>
    ({ apiVersion, kind, metadata: { name: 'd', namespace: 'team-a' }, spec: { import: { podMetadata: { labels: { 'octopus.openi.pcl.cn/job': 'x' } } } } }) as Dataset;

  it.each<{ name: string; obj: Parameters<typeof validatePodMetadata>[0]['object']; want: FieldError[] }>([
    {
      name: 'names the task, map and key of a spoofed Job label',
      obj: jobWith({ labels: { team: 'vision', 'octopus.openi.pcl.cn/job': 'other' } }),
      want: [platform('spec.tasks[1].podMetadata.labels[octopus.openi.pcl.cn/job]', 'other')],
    },
    {
      name: 'refuses labels and annotations alike, keeping the simulation annotations',
      obj: jobWith({ labels: { 'kueue.x-k8s.io/queue-name': 'q' }, annotations: { 'sim.octopus.openi.pcl.cn/outcome': 'Succeed', 'sidecar.istio.io/inject': 'false' } }),
      want: [
        { path: 'spec.tasks[1].podMetadata.labels[kueue.x-k8s.io/queue-name]', message: expect.stringMatching(/^Invalid value: "q": labels under x-k8s.io are not passed to pods: /) as unknown as string },
        { path: 'spec.tasks[1].podMetadata.annotations[sidecar.istio.io/inject]', message: expect.stringMatching(/^Invalid value: "false": annotations under istio.io /) as unknown as string },
      ],
    },
    { name: 'passes a Job with ordinary metadata', obj: jobWith({ labels: { team: 'vision', 'app.kubernetes.io/name': 'resnet' }, annotations: { 'example.com/owner': 'alice' } }), want: [] },
    {
      name: 'checks a Notebook',
      obj: makeNotebook({ podMetadata: { annotations: { 'notebooks.octopus.openi.pcl.cn/last-activity': '2099-01-01T00:00:00Z' } } }),
      want: [platform('spec.podMetadata.annotations[notebooks.octopus.openi.pcl.cn/last-activity]', '2099-01-01T00:00:00Z', 'annotation')],
    },
    { name: 'checks a ModelService', obj: service, want: [platform('spec.podMetadata.labels[octopus.openi.pcl.cn/modelservice]', 'other')] },
    { name: 'checks an image build', obj: image, want: [{ path: 'spec.build.podMetadata.annotations[sidecar.istio.io/inject]', message: expect.stringContaining('annotations under istio.io') as unknown as string }] },
    ...(['Dataset', 'Algorithm', 'Model'] as const).map((kind) => ({ name: `checks the imports of a ${kind}`, obj: dataset(kind), want: [platform('spec.import.podMetadata.labels[octopus.openi.pcl.cn/job]', 'x')] })),
    { name: 'shows at most 32 characters of a value', obj: jobWith({ annotations: { 'octopus.openi.pcl.cn/x': 'v'.repeat(4096) } }), want: [platform('spec.tasks[1].podMetadata.annotations[octopus.openi.pcl.cn/x]', `${'v'.repeat(32)}…`, 'annotation')] },
  ])('$name', ({ obj, want }) => {
    expect(validatePodMetadata(createContext(obj), lookups)).toEqual({ errors: want });
  });
});

describe('the pod metadata rule on UPDATE (ratchet)', () => {
  const validator = kindValidator(Job, { fields: [validatePodMetadata], policy: [] }, lookups);
  const old = jobWith({ labels: { 'octopus.openi.pcl.cn/job': 'other' } });

  it('keeps an entry written before the rule while its key and value are unchanged', async () => {
    const relabelled = { ...old, metadata: { ...old.metadata, labels: { run: 'b' } } };
    expect((await validator.validate(updateContext(old, relabelled))).errors).toEqual([]);
  });

  it('refuses a changed value', async () => {
    const changed = jobWith({ labels: { 'octopus.openi.pcl.cn/job': 'victim' } });
    expect((await validator.validate(updateContext(old, changed))).errors).toEqual([platform('spec.tasks[1].podMetadata.labels[octopus.openi.pcl.cn/job]', 'victim')]);
  });

  it('refuses a key added beside the kept one', async () => {
    const added = jobWith({ labels: { 'octopus.openi.pcl.cn/job': 'other' }, annotations: { 'sidecar.istio.io/inject': 'false' } });
    expect((await validator.validate(updateContext(old, added))).errors.map((e) => e.path)).toEqual(['spec.tasks[1].podMetadata.annotations[sidecar.istio.io/inject]']);
  });
});
