import { describe, expect, it } from '@jest/globals';
import { apiVersion, type Image } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { createContext, lookupsOf, updateContext } from '../testing/octopus.js';
import { validateImageBuild } from './image-build.js';

const image = (spec: Image['spec']): Image => ({ apiVersion, kind: 'Image', metadata: { name: 'trainer', namespace: 'team-a' }, spec });
const dockerfile = 'FROM busybox\n';

describe('validateImageBuild', () => {
  const registry = 'registry.test/octopus';
  it.each<{ name: string; spec: Image['spec']; registry?: string; want: string[] }>([
    { name: 'allows a reference', spec: { reference: 'docker.io/library/busybox:1.36' }, want: [] },
    { name: 'allows the default destination', spec: { build: { dockerfile } }, want: [] },
    { name: "allows a destination under the workspace's prefix", spec: { build: { dockerfile, destination: 'registry.test/octopus/team-a/x:1' } }, want: [] },
    { name: "refuses another workspace's repositories", spec: { build: { dockerfile, destination: 'registry.test/octopus/team-b/x:1' } }, want: ['spec.build.destination'] },
    { name: 'refuses another registry', spec: { build: { dockerfile, destination: 'anywhere.test/x:1' } }, want: ['spec.build.destination'] },
    { name: 'leaves the destination to the controller when it knows no registry', spec: { build: { dockerfile, destination: 'anywhere.test/x:1' } }, registry: '', want: [] },
    { name: 'allows a public git context', spec: { build: { context: { git: { url: 'https://git.test/app.git' } } } }, want: [] },
    { name: "refuses the workspace's push Secret", spec: { build: { dockerfile, pushSecretRef: { name: 'mine' } } }, want: ['spec.build.pushSecretRef'] },
    { name: 'refuses a private git context', spec: { build: { context: { git: { url: 'https://git.test/app.git', secretRef: { name: 'git' } } } } }, want: ['spec.build.context.git.secretRef'] },
    { name: 'refuses Secrets even without a registry', spec: { build: { dockerfile, pushSecretRef: { name: 'mine' } } }, registry: '', want: ['spec.build.pushSecretRef'] },
  ])('$name', ({ spec, registry: r, want }) => {
    expect(validateImageBuild(r ?? registry)(createContext(image(spec)), lookupsOf([])).errors.map((e) => e.path)).toEqual(want);
  });

  it('says why, and refuses an update that adds the Secret', () => {
    const [error] = validateImageBuild(registry)(updateContext(image({ build: { dockerfile } }), image({ build: { dockerfile, pushSecretRef: { name: 'mine' } } })), lookupsOf([])).errors;
    expect(error).toEqual({ path: 'spec.build.pushSecretRef', message: "builds push with the platform's credential; a workspace's push Secret is never used: remove the field" });
  });
});
