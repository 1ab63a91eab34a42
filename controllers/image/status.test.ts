import { describe, expect, it } from '@jest/globals';
import type { Image } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { image, jobState, pod } from '../assets/testing/fixtures.js';
import { buildMessage, imageEvent, imageStatus, parseDigest, referenceDigest, type BuildState, type ImageStatus } from './status.js';

const nowMs = Date.parse('2025-06-01T12:00:00Z');
const digest = `sha256:${'b'.repeat(64)}`;
const oldDigest = `sha256:${'a'.repeat(64)}`;
const dest = 'r.test/team-a/trainer:2';

describe('digests', () => {
  it.each([
    { name: "Kaniko's digest file", message: `${digest}\n`, want: digest },
    { name: 'a JSON report', message: JSON.stringify({ digest }), want: digest },
    { name: "the push step's pushed reference", message: `r.test/team-a/trainer:2@${digest}\n`, want: digest },
    { name: 'anything else', message: 'pushed', want: undefined },
    { name: 'a malformed digest', message: '{"digest":"sha256:xyz"}', want: undefined },
  ])('parses $name', ({ message, want }) => {
    expect(parseDigest(message)).toBe(want);
  });

  it('finds the digest a reference pins', () => {
    expect(referenceDigest(`docker.io/pytorch/pytorch:2.4@${digest}`)).toBe(digest);
    expect(referenceDigest('localhost:5000/x:1')).toBeUndefined();
  });
});

/** The status fields that matter here: phase, references, generation, and the Ready condition's status and reason. */
function summary(s: ImageStatus) {
  const ready = s.conditions?.find((c) => c.type === 'Ready');
  return { phase: s.phase, ready: `${ready?.status}/${ready?.reason}`, resolvedReference: s.resolvedReference, digest: s.digest, buildJob: s.buildJob, builtGeneration: s.builtGeneration };
}

const built: ImageStatus = { phase: 'Ready', resolvedReference: `r.test/team-a/trainer:1@${oldDigest}`, digest: oldDigest, builtGeneration: 1, buildJob: 'trainer-build-1', conditions: [{ type: 'Ready', status: 'True', reason: 'Built', message: 'pushed', lastTransitionTime: '2025-01-01T00:00:00Z' }] };
const build = (state: Partial<BuildState>): BuildState => ({ destination: dest, jobName: 'trainer-build-2', job: undefined, pods: [], ...state });
const building = (previous?: ImageStatus): Image => ({ ...image('trainer', { build: { dockerfile: 'FROM x' } }, 2), ...(previous && { status: previous }) });

describe('imageStatus', () => {
  it.each<{ name: string; image: Image; build?: BuildState; want: ReturnType<typeof summary> }>([
    {
      name: 'a reference is Ready as it is, pinned when it names a digest',
      image: image('pytorch', { reference: `docker.io/pytorch/pytorch:2.4@${digest}` }),
      want: { phase: 'Ready', ready: 'True/Referenced', resolvedReference: `docker.io/pytorch/pytorch:2.4@${digest}`, digest, buildJob: undefined, builtGeneration: undefined },
    },
    {
      name: 'a build with nowhere to push fails with NoRegistry',
      image: building(),
      build: build({ destination: undefined }),
      want: { phase: 'Failed', ready: 'False/NoRegistry', resolvedReference: undefined, digest: undefined, buildJob: undefined, builtGeneration: undefined },
    },
    {
      name: 'a refused build fails with the fields and reasons, keeping the last good build',
      image: building(built),
      build: build({ refused: 'spec.build.destination: evil.test/x:1 is outside' }),
      want: { phase: 'Failed', ready: 'False/BuildRefused', resolvedReference: built.resolvedReference, digest: oldDigest, buildJob: undefined, builtGeneration: undefined },
    },
    {
      name: "a running build keeps the last good build's reference for workloads",
      image: building(built),
      build: build({ job: jobState({ backoffLimit: 0 }) }),
      want: { phase: 'Building', ready: 'False/Building', resolvedReference: built.resolvedReference, digest: oldDigest, buildJob: 'trainer-build-2', builtGeneration: undefined },
    },
    {
      name: 'a finished build is pinned to the reported digest',
      image: building(built),
      build: build({ job: jobState({ condition: 'Complete' }), pods: [pod('Succeeded', digest)] }),
      want: { phase: 'Ready', ready: 'True/Built', resolvedReference: `${dest}@${digest}`, digest, buildJob: 'trainer-build-2', builtGeneration: 2 },
    },
    {
      name: 'a finished build without a digest uses the destination',
      image: building(),
      build: build({ job: jobState({ condition: 'Complete' }), pods: [] }),
      want: { phase: 'Ready', ready: 'True/Built', resolvedReference: dest, digest: undefined, buildJob: 'trainer-build-2', builtGeneration: 2 },
    },
    {
      name: 'a failed build',
      image: building(),
      build: build({ job: jobState({ failed: 1, condition: 'Failed' }), pods: [pod('Failed', 'error building image: parsing dockerfile')] }),
      want: { phase: 'Failed', ready: 'False/BuildFailed', resolvedReference: undefined, digest: undefined, buildJob: 'trainer-build-2', builtGeneration: 2 },
    },
    {
      name: 'a build whose Job was removed stays built',
      image: building({ ...built, builtGeneration: 2, buildJob: 'trainer-build-2' }),
      build: build({}),
      want: { phase: 'Ready', ready: 'True/Built', resolvedReference: built.resolvedReference, digest: oldDigest, buildJob: undefined, builtGeneration: 2 },
    },
  ])('$name', ({ image: img, build: b, want }) => {
    expect(summary(imageStatus(img, b, nowMs))).toEqual(want);
  });

  it("takes the failure's reason text from the build pod", () => {
    const s = imageStatus(building(), build({ job: jobState({ failed: 1, condition: 'Failed' }), pods: [pod('Failed', 'error building image: parsing dockerfile')] }), nowMs);
    expect(s.conditions?.[0]?.message).toBe('error building image: parsing dockerfile');
  });

  it('tells why a build was refused, naming the field', () => {
    const s = imageStatus(building(), build({ refused: 'spec.build.pushSecretRef: never used' }), nowMs);
    expect(s.conditions?.[0]).toMatchObject({ reason: 'BuildRefused', message: 'spec.build.pushSecretRef: never used' });
  });

  it("reads a failed build step's message from the init container, the push step's first", () => {
    const terminated = (name: string, message: string) => ({ name, image: 'x', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 1, message } } });
    expect(buildMessage({ status: { initContainerStatuses: [terminated('build', 'error building image')], containerStatuses: [] } })).toBe('error building image');
    expect(buildMessage({ status: { initContainerStatuses: [terminated('build', 'built')], containerStatuses: [terminated('push', 'denied')] } })).toBe('denied');
  });

  it('is equal when recomputed from an unchanged world', () => {
    const img = building();
    const first = imageStatus(img, build({ job: jobState({}) }), nowMs);
    expect(imageStatus({ ...img, status: first }, build({ job: jobState({}) }), nowMs + 60_000)).toEqual(first);
  });
});

describe('imageEvent', () => {
  const at = (previous: ImageStatus | undefined, img: Image, b?: BuildState) => imageEvent(previous, imageStatus({ ...img, ...(previous && { status: previous }) }, b, nowMs));
  const running = imageStatus(building(), build({ job: jobState({}) }), nowMs);

  it.each([
    { name: 'a build starting', event: () => at(undefined, building(), build({ job: jobState({}) })), want: { type: 'Normal', reason: 'BuildStarted' } },
    { name: 'a build finishing', event: () => at(running, building(), build({ job: jobState({ condition: 'Complete' }) })), want: { type: 'Normal', reason: 'Built' } },
    { name: 'a build failing', event: () => at(running, building(), build({ job: jobState({ condition: 'Failed' }) })), want: { type: 'Warning', reason: 'BuildFailed' } },
    { name: 'no registry', event: () => at(undefined, building(), build({ destination: undefined })), want: { type: 'Warning', reason: 'NoRegistry' } },
    { name: 'a reference recorded', event: () => at(undefined, image('p', { reference: 'x.test/p:1' })), want: { type: 'Normal', reason: 'Referenced' } },
    { name: 'nothing new', event: () => at(running, building(), build({ job: jobState({}) })), want: undefined },
  ])('$name', ({ event, want }) => {
    const got = event();
    expect(got && { type: got.type, reason: got.reason }).toEqual(want);
  });
});
