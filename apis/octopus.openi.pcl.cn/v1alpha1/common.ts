/** Shapes shared by several kinds: conditions, references, data sources, resources. */
import { arr, bool, dnsLabel, dnsSubdomain, enumOf, extendedResourcePattern, imageReferencePattern, int, map, obj, opt, quantity, str, type Static } from './schema.js';

export const group = 'octopus.openi.pcl.cn';
export const version = 'v1alpha1';
export const apiVersion = `${group}/${version}`;

// ---------------------------------------------------------------- status basics

/** metav1.Condition, field for field. */
export const Condition = obj(
  {
    type: str({ description: 'Type of condition in CamelCase, e.g. Ready.', maxLength: 316, pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$' }),
    status: enumOf(['True', 'False', 'Unknown'] as const, { description: 'Status of the condition: True, False or Unknown.' }),
    observedGeneration: opt(int({ description: 'The .metadata.generation the condition was set from.', minimum: 0, format: 'int64' })),
    lastTransitionTime: str({ description: 'Last time the condition changed status.', format: 'date-time' }),
    reason: str({ description: 'Programmatic identifier of the reason for the last transition, in CamelCase.', maxLength: 1024, minLength: 1, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$' }),
    message: str({ description: 'Human-readable details of the last transition.', maxLength: 32768 }),
  },
  { description: 'A condition in the standard metav1.Condition shape.' },
);
export type Condition = Static<typeof Condition>;

export const conditions = arr(Condition, {
  description: 'Current state of the object as standard conditions.',
  maxItems: 16,
  listType: 'map',
  listMapKeys: ['type'],
});

export const observedGeneration = int({
  description: 'The .metadata.generation the controller last acted on.',
  minimum: 0,
  format: 'int64',
});

/** Every status starts with these. */
export const statusBasics = {
  observedGeneration: opt(observedGeneration),
  conditions: opt(conditions),
};

// ---------------------------------------------------------------- references

export const visibility = enumOf(['Private', 'Public'] as const, {
  description: 'Who may use this asset: Private (its namespace only) or Public (every workspace, read-only).',
  default: 'Private',
});
export type Visibility = 'Private' | 'Public';

export const description = str({ description: 'Free text shown to users.', maxLength: 2048 });

/** A reference to a versioned asset (Dataset, Algorithm, Model), possibly in another namespace. */
export function assetReference(what: string) {
  return obj(
    {
      name: dnsSubdomain(`Name of the ${what}.`),
      namespace: opt(dnsLabel(`Namespace of the ${what}; defaults to this object's namespace. Across namespaces the ${what} must be Public.`)),
      version: opt(dnsLabel(`Version of the ${what}; defaults to its latest Ready version.`)),
    },
    { description: `A reference to a ${what} version.` },
  );
}
export const AssetReference = assetReference('asset');
export type AssetReference = Static<typeof AssetReference>;

export const imageReference = str({
  description: 'A container image reference: registry/repository[:tag][@sha256:digest].',
  pattern: imageReferencePattern,
  maxLength: 512,
});

/** The image a workload runs: an Octopus Image or a plain registry reference. */
export const ImageSelector = obj(
  {
    name: opt(dnsSubdomain('Name of an Octopus Image; it must be Ready.')),
    namespace: opt(dnsLabel("Namespace of the Image; defaults to this object's namespace. Across namespaces the Image must be Public.")),
    reference: opt(imageReference),
  },
  {
    description: 'The container image: an Octopus Image by name, or a registry reference.',
    validations: [
      { rule: 'has(self.name) != has(self.reference)', message: 'exactly one of name or reference must be set' },
      { rule: '!has(self.namespace) || has(self.name)', message: 'namespace applies only to an Image referenced by name', fieldPath: '.namespace' },
    ],
  },
);
export type ImageSelector = Static<typeof ImageSelector>;

export const LocalObjectReference = obj({ name: dnsSubdomain('Name of the object in the same namespace.') }, { description: 'A reference to an object in the same namespace.' });

// ---------------------------------------------------------------- data sources

export const PvcSource = obj(
  {
    claimName: dnsSubdomain('Name of an existing PersistentVolumeClaim in this namespace.'),
    subPath: opt(str({ description: 'Path inside the claim; defaults to its root.', maxLength: 1024, pattern: '^[^/].*$|^$' })),
  },
  { description: 'Data already in a PersistentVolumeClaim; used in place, not copied.' },
);

export const NfsSource = obj(
  {
    server: str({ description: 'NFS server host name or IP.', maxLength: 253, minLength: 1 }),
    path: str({ description: 'Exported path on the server.', maxLength: 1024, pattern: '^/' }),
  },
  { description: 'An NFS export; mounted through a PersistentVolume and claim the controller creates.' },
);

/** An S3 location: the fields a source and a destination share; the bucket and prefix say which it is. */
function s3Location(bucket: string, prefix: string) {
  return {
    endpoint: opt(str({ description: 'S3 endpoint URL; defaults to the controller\'s configured object store.', maxLength: 512, pattern: '^https?://' })),
    bucket: str({ description: bucket, minLength: 3, maxLength: 63, pattern: '^[a-z0-9][a-z0-9.-]*[a-z0-9]$' }),
    prefix: opt(str({ description: prefix, maxLength: 1024 })),
    region: opt(str({ description: 'Bucket region.', maxLength: 64 })),
    secretRef: opt(obj({ name: dnsSubdomain('Secret name.') }, { description: 'A Secret in this namespace with keys accessKeyID and secretAccessKey.' })),
  };
}

export const S3Source = obj(s3Location('Bucket name.', 'Key prefix to copy; defaults to the whole bucket.'), {
  description: 'Objects in S3-compatible storage, copied into a claim by an import Job.',
});

export const S3Destination = obj(s3Location('Bucket name; it must exist.', 'Key prefix the files are uploaded under; defaults to <model>/<version>/.'), {
  description: 'Where an export Job uploads files, with a sha256 manifest (.octopus-manifest.sha256) beside them.',
});

export const HttpSource = obj(
  {
    url: str({ description: 'URL of a file or archive (.tar, .tar.gz/.tgz, .zip are unpacked unless unpack is false).', maxLength: 2048, pattern: '^https?://' }),
    sha256: opt(str({ description: 'Expected SHA-256 of the download; the import fails on mismatch.', pattern: '^[a-f0-9]{64}$' })),
    unpack: opt(bool({ description: 'Unpack the download into the claim; absent means unpack when the URL ends in .tar, .tar.gz, .tgz or .zip. true with any other URL fails the import.' })),
  },
  { description: 'A download over HTTP(S), copied into a claim by an import Job.' },
);

export const GitSource = obj(
  {
    url: str({ description: 'Repository URL (https:// or ssh).', maxLength: 2048, pattern: '^(https?://|ssh://|git@)' }),
    revision: opt(str({ description: 'Branch, tag or commit; defaults to the default branch.', maxLength: 256 })),
    subPath: opt(str({ description: 'Directory inside the repository to keep.', maxLength: 1024 })),
    secretRef: opt(obj({ name: dnsSubdomain('Secret name.') }, { description: 'A Secret in this namespace with username/password or ssh-privatekey.' })),
  },
  { description: 'A Git repository, cloned into a claim by an import Job.' },
);

export const StorageRequest = obj(
  {
    size: opt(quantity({ description: 'Claim size for imported content, e.g. 50Gi; defaults to the controller\'s setting.' })),
    storageClassName: opt(str({ description: 'StorageClass of import claims; defaults to the cluster default.', maxLength: 253 })),
  },
  { description: 'Where imported content is stored.' },
);

export const ImportPolicy = obj(
  {
    backoffLimit: opt(int({ description: 'Retries of a failed import before the version is Failed.', minimum: 0, maximum: 10, default: 2 })),
    activeDeadlineSeconds: opt(int({ description: 'Time limit of one import; the version fails when exceeded.', minimum: 1, format: 'int64' })),
    podMetadata: opt(
      obj(
        {
          labels: opt(map(str({ description: 'Label value.', maxLength: 63 }), { description: 'Labels added to import pods.', maxProperties: 32 })),
          annotations: opt(map(str({ description: 'Annotation value.', maxLength: 4096 }), { description: 'Annotations added to import pods.', maxProperties: 32 })),
        },
        { description: 'Metadata added to import pods, e.g. for cost allocation; keys the platform or a scheduler, autoscaler or service mesh reads are refused (as in a Job task\'s podMetadata).' },
      ),
    ),
  },
  { description: 'How imports of copied sources run.' },
);

// ---------------------------------------------------------------- resources

export const resourceName = str({ description: 'A resource name, e.g. cpu, memory or nvidia.com/gpu.', pattern: extendedResourcePattern, maxLength: 253 });

export const ResourceList = map(quantity({ description: 'Amount of the resource.' }), {
  description: 'Amounts per resource name, e.g. {cpu: 8, memory: 32Gi, nvidia.com/gpu: 1}.',
  maxProperties: 32,
});
export type ResourceList = Static<typeof ResourceList>;

export const ResourceRequirements = obj(
  {
    requests: opt(ResourceList),
    limits: opt(ResourceList),
  },
  { description: 'Compute resources of one pod, as in core/v1 (limits default to requests for extended resources).' },
);

export const EnvVar = obj(
  {
    name: str({ description: 'Variable name.', pattern: '^[-._a-zA-Z][-._a-zA-Z0-9]*$', maxLength: 256 }),
    value: opt(str({ description: 'Value.', maxLength: 32768 })),
    secretKeyRef: opt(
      obj({ name: dnsSubdomain('Secret name.'), key: str({ description: 'Key in the Secret.', maxLength: 253 }) }, { description: 'Take the value from a Secret in this namespace.' }),
    ),
  },
  {
    description: 'An environment variable of the main container.',
    validations: [{ rule: 'has(self.value) != has(self.secretKeyRef)', message: 'exactly one of value or secretKeyRef must be set' }],
  },
);

export const env = arr(EnvVar, { description: 'Environment variables for the main container.', maxItems: 64, listType: 'map', listMapKeys: ['name'] });

export const command = arr(str({ description: 'An argument.', maxLength: 4096 }), { description: 'Entrypoint, as in a container command.', maxItems: 64 });

export const PodMetadata = obj(
  {
    labels: opt(map(str({ description: 'Label value.', maxLength: 63 }), { description: 'Labels added to the pods.', maxProperties: 32 })),
    annotations: opt(map(str({ description: 'Annotation value.', maxLength: 4096 }), { description: 'Annotations added to the pods.', maxProperties: 32 })),
  },
  { description: 'Labels and annotations passed through to the pods, e.g. for cost allocation or monitoring. Refused: keys under octopus.openi.pcl.cn and its subdomains (but sim.octopus.openi.pcl.cn annotations, read by simulated nodes), and under kubernetes.io, k8s.io, x-k8s.io, volcano.sh, yunikorn.apache.org, karpenter.sh, istio.io and linkerd.io and their subdomains, save app.kubernetes.io/{name,instance,version,component,part-of}: schedulers, autoscalers and meshes act on those.' },
);

export const Toleration = obj(
  {
    key: opt(str({ description: 'Taint key; empty with operator Exists matches every taint.', maxLength: 317 })),
    operator: opt(enumOf(['Exists', 'Equal'] as const, { description: 'Exists or Equal.', default: 'Equal' })),
    value: opt(str({ description: 'Taint value for Equal.', maxLength: 63 })),
    effect: opt(enumOf(['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const, { description: 'Taint effect to match; empty matches all.' })),
    tolerationSeconds: opt(int({ description: 'How long a NoExecute taint is tolerated.', format: 'int64', minimum: 0 })),
  },
  { description: 'A toleration, as in core/v1.' },
);

export const Ingress = obj(
  {
    enabled: opt(bool({ description: 'Create an Ingress.', default: false })),
    host: opt(dnsSubdomain("Host name; defaults to <name>-<namespace>.<the platform's ingress domain>. Any other host must be allowed by the Workspace's spec.hosts, and no two workloads may claim the same host and path. The IngressClass is the platform's.")),
    path: opt(str({ description: 'URL path prefix.', pattern: '^/', maxLength: 1024, default: '/' })),
  },
  { description: 'Expose over HTTP through an Ingress.' },
);

export const versionName = dnsLabel('Version name, e.g. v1; unique within the object.');
