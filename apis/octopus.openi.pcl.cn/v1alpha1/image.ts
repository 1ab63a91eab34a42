/** Image: a container image users run, referenced from a registry or built from a Dockerfile. */
import { GitSource, LocalObjectReference, PodMetadata, description, imageReference, statusBasics, visibility } from './common.js';
import { ageColumn, defineKind, type ObjectOf } from './kind.js';
import { describe, dnsSubdomain, enumOf, int, map, obj, opt, str } from './schema.js';

export const ImagePhases = ['Pending', 'Building', 'Ready', 'Failed'] as const;
export type ImagePhase = (typeof ImagePhases)[number];

export const ImageConditions = { Ready: 'Ready' } as const;
export const ImageReasons = {
  Referenced: 'Referenced',
  Building: 'Building',
  Built: 'Built',
  BuildFailed: 'BuildFailed',
  /** A build names no destination and the controller has no registry to default to. */
  NoRegistry: 'NoRegistry',
  /** The build Job's name is taken by an object the Image does not own. */
  NameConflict: 'NameConflict',
} as const;

export const ImageBuild = obj(
  {
    dockerfile: opt(str({ description: 'Inline Dockerfile content.', maxLength: 65536 })),
    context: opt(obj({ git: GitSource }, { description: 'Build context; without it the build context holds only the Dockerfile.' })),
    dockerfilePath: opt(str({ description: 'Path of the Dockerfile inside the context, when not inline.', maxLength: 1024, default: 'Dockerfile' })),
    destination: opt(describe(imageReference, "Where to push, under <controller's registry>/<namespace>/ (a build pushing elsewhere is refused); defaults to <registry>/<namespace>/<name>:<generation>.")),
    buildArgs: opt(map(str({ description: 'Value.', maxLength: 4096 }), { description: 'Docker build arguments.', maxProperties: 64 })),
    pushSecretRef: opt(describe(LocalObjectReference, "Not supported: builds push with the platform's credential from the builds namespace, and a build naming a Secret here is refused.")),
    timeoutSeconds: opt(int({ description: 'Build time limit.', minimum: 60, maximum: 86400, default: 3600 })),
    podMetadata: opt(describe(PodMetadata, 'Labels and annotations added to the build pod.')),
  },
  {
    description: 'Build the image in the cluster with a Kaniko-style executor and push it.',
    validations: [{ rule: 'has(self.dockerfile) || has(self.context)', message: 'a build needs an inline dockerfile or a git context' }],
  },
);

export const Image = defineKind({
  kind: 'Image',
  plural: 'images',
  shortNames: ['oimg'],
  scope: 'Namespaced',
  description: 'A container image for jobs, notebooks and model services: a registry reference or an in-cluster build.',
  spec: obj(
    {
      description: opt(description),
      visibility: opt(visibility),
      reference: opt(imageReference),
      build: opt(ImageBuild),
      pullSecretRef: opt(describe(LocalObjectReference, 'A kubernetes.io/dockerconfigjson Secret in this namespace for pulling.')),
    },
    {
      description: 'Desired state of the image.',
      validations: [{ rule: 'has(self.reference) != has(self.build)', message: 'exactly one of reference or build must be set' }],
    },
  ),
  status: obj(
    {
      ...statusBasics,
      phase: opt(enumOf(ImagePhases, { description: 'Pending, Building, Ready or Failed.' })),
      resolvedReference: opt(str({ description: 'The reference workloads use (pinned to a digest when known).', maxLength: 512 })),
      digest: opt(str({ description: 'Image digest, when known.', maxLength: 128 })),
      buildJob: opt(dnsSubdomain('The batch/v1 Job building the image, while one exists.')),
      builtGeneration: opt(int({ description: 'The .metadata.generation the last build was for.', format: 'int64', minimum: 0 })),
    },
    { description: 'Observed state of the image.' },
  ),
  printerColumns: [
    { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Pending, Building, Ready or Failed.' },
    { name: 'Reference', type: 'string', jsonPath: '.status.resolvedReference', description: 'Reference workloads use.' },
    { name: 'Visibility', type: 'string', jsonPath: '.spec.visibility', description: 'Private or Public.' },
    ageColumn,
  ],
});
export type Image = ObjectOf<typeof Image>;
