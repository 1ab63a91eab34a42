/**
 * Versioned assets: Dataset, Algorithm, Model. Each version names one source; copying
 * sources are imported into a claim per version. A version is published once it is listed:
 * its source is then immutable (publish a new version instead), so lineage stays true.
 */
import { GitSource, HttpSource, ImportPolicy, NfsSource, PvcSource, S3Source, StorageRequest, command, description, statusBasics, versionName, visibility } from './common.js';
import { ageColumn, defineKind, type ObjectOf, type PrinterColumn } from './kind.js';
import { arr, describe, dnsLabel, dnsSubdomain, enumOf, freeform, int, map, obj, opt, str, withRules, type CelRule, type TSchema } from './schema.js';
import type { TProperties } from '@sinclair/typebox';

export const VersionPhases = ['Pending', 'Importing', 'Ready', 'Failed'] as const;
export type VersionPhase = (typeof VersionPhases)[number];

export const AssetConditions = {
  /** True when every listed version is Ready. */
  Ready: 'Ready',
} as const;

export const AssetReasons = {
  AllVersionsReady: 'AllVersionsReady',
  VersionsPending: 'VersionsPending',
  VersionFailed: 'VersionFailed',
  NoVersions: 'NoVersions',
} as const;

const immutableOnceListed: CelRule[] = [
  { rule: 'self == oldSelf', message: 'is immutable once the version is published; publish a new version instead' },
];

/** `{a?, b?, …}` where exactly one must be set — the CEL rule names them for the user. */
function oneOf<P extends TProperties>(properties: P, what: string) {
  const names = Object.keys(properties);
  const count = names.map((n) => `(has(self.${n}) ? 1 : 0)`).join(' + ');
  return obj(properties, {
    description: `${what}: exactly one of ${names.join(', ')}. Immutable once published.`,
    validations: [{ rule: `${count} == 1`, message: `exactly one of ${names.join(', ')} must be set` }, ...immutableOnceListed],
  });
}

function versionList<T extends TSchema>(item: T, what: string) {
  return arr(item, {
    description: `Published versions of the ${what}, keyed by name. Remove a version to retire it (its imported claim is removed).`,
    maxItems: 64,
    listType: 'map',
    listMapKeys: ['name'],
  });
}

/** Status of one version, shared by all versioned assets. */
function versionStatusProperties() {
  return {
    name: versionName,
    phase: enumOf(VersionPhases, { description: 'Pending, Importing, Ready or Failed.' }),
    claimName: opt(dnsSubdomain('PersistentVolumeClaim holding this version.')),
    subPath: opt(str({ description: 'Path of the content inside the claim.', maxLength: 1024 })),
    importJob: opt(dnsSubdomain('The batch/v1 Job importing this version, while one exists.')),
    attempts: opt(int({ description: 'Import attempts so far.', minimum: 0 })),
    size: opt(str({ description: 'Size of the content as a quantity, when known.', maxLength: 64 })),
    fileCount: opt(int({ description: 'Number of files, when known.', minimum: 0, format: 'int64' })),
    manifestDigest: opt(
      str({ description: 'sha256 of the manifest the importer wrote beside the content (.octopus-manifest.sha256, one `<sha256>  <path>` line per file), as sha256:<hex>.', pattern: '^sha256:[a-f0-9]{64}$' }),
    ),
    reason: opt(str({ description: 'Why the version is in this phase, in CamelCase.', maxLength: 256 })),
    message: opt(str({ description: 'Details, e.g. the import pod\'s termination message.', maxLength: 4096 })),
    readyTime: opt(str({ description: 'When the version became Ready.', format: 'date-time' })),
  };
}

function assetStatus<P extends TProperties>(what: string, versionExtra: P) {
  return obj(
    {
      ...statusBasics,
      versions: opt(
        arr(obj({ ...versionStatusProperties(), ...versionExtra }, { description: `Observed state of one ${what} version.` }), {
          description: 'Per-version state, keyed by name.',
          maxItems: 256,
          listType: 'map',
          listMapKeys: ['name'],
        }),
      ),
      versionCount: opt(int({ description: 'Number of versions.', minimum: 0 })),
      readyVersions: opt(int({ description: 'Number of Ready versions.', minimum: 0 })),
      latestVersion: opt(str({ description: 'The newest Ready version (last listed).', maxLength: 63 })),
      latestSize: opt(str({ description: 'Size of the newest Ready version, when known.', maxLength: 64 })),
      latestFileCount: opt(int({ description: 'Number of files of the newest Ready version, when known.', minimum: 0, format: 'int64' })),
    },
    { description: `Observed state of the ${what}.` },
  );
}

function assetColumns(): PrinterColumn[] {
  return [
    { name: 'Versions', type: 'integer', jsonPath: '.status.versionCount', description: 'Number of versions.' },
    { name: 'Latest', type: 'string', jsonPath: '.status.latestVersion', description: 'Newest Ready version.' },
    { name: 'Size', type: 'string', jsonPath: '.status.latestSize', description: 'Size of the newest Ready version.' },
    { name: 'Files', type: 'integer', jsonPath: '.status.latestFileCount', description: 'Files of the newest Ready version.' },
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Every version Ready.' },
    { name: 'Visibility', type: 'string', jsonPath: '.spec.visibility', description: 'Private or Public.' },
    ageColumn,
  ];
}

const commonSpec = {
  description: opt(description),
  visibility: opt(visibility),
  tags: opt(arr(dnsLabel('A tag.'), { description: 'Tags for search.', maxItems: 16, listType: 'set' })),
  storage: opt(StorageRequest),
  import: opt(ImportPolicy),
};

// ---------------------------------------------------------------- Dataset

export const DatasetSource = oneOf(
  { pvc: opt(PvcSource), nfs: opt(NfsSource), s3: opt(S3Source), http: opt(HttpSource), git: opt(GitSource) },
  'Where the version\'s data comes from',
);

export const DatasetVersion = obj(
  {
    name: versionName,
    description: opt(description),
    source: DatasetSource,
    storage: opt(withRules(StorageRequest, immutableOnceListed)),
  },
  { description: 'One published version of a dataset.' },
);

export const Dataset = defineKind({
  kind: 'Dataset',
  plural: 'datasets',
  shortNames: ['ods'],
  scope: 'Namespaced',
  description: 'Named, versioned training data. Copying sources (s3, http, git) are imported into a claim per version; pvc and nfs are used in place.',
  spec: obj({ ...commonSpec, versions: opt(versionList(DatasetVersion, 'dataset')) }, { description: 'Desired state of the dataset.' }),
  status: assetStatus('dataset', {}),
  printerColumns: assetColumns(),
});
export type Dataset = ObjectOf<typeof Dataset>;

// ---------------------------------------------------------------- Algorithm

export const Frameworks = ['PyTorch', 'TensorFlow', 'MindSpore', 'PaddlePaddle', 'JAX', 'MPI', 'Other'] as const;

export const AlgorithmSource = oneOf(
  {
    git: opt(GitSource),
    s3: opt(S3Source),
    configMap: opt(obj({ name: dnsSubdomain('ConfigMap name.') }, { description: 'An existing ConfigMap in this namespace; each key is a file.' })),
    files: opt(
      map(str({ description: 'File content.', maxLength: 262144 }), {
        description: 'Inline files, name to content; stored in a ConfigMap the controller owns.',
        maxProperties: 64,
      }),
    ),
  },
  'Where the version\'s code comes from',
);

export const AlgorithmVersion = obj(
  {
    name: versionName,
    description: opt(description),
    source: AlgorithmSource,
    entrypoint: opt(describe(command, 'Default command of this version; overrides spec.entrypoint.')),
  },
  { description: 'One published version of an algorithm.' },
);

export const Algorithm = defineKind({
  kind: 'Algorithm',
  plural: 'algorithms',
  shortNames: ['oalg'],
  scope: 'Namespaced',
  description: 'Versioned training code, mounted at /code in jobs and notebooks.',
  spec: obj(
    {
      ...commonSpec,
      framework: opt(enumOf(Frameworks, { description: 'The framework the code uses.', default: 'Other' })),
      frameworkVersion: opt(str({ description: 'Framework version, e.g. 2.4.', maxLength: 64 })),
      entrypoint: opt(describe(command, 'Default command of a job task that sets none, e.g. [python, train.py].')),
      versions: opt(versionList(AlgorithmVersion, 'algorithm')),
    },
    { description: 'Desired state of the algorithm.' },
  ),
  status: assetStatus('algorithm', {
    configMapName: opt(dnsSubdomain('ConfigMap holding the code, for configMap and files sources.')),
  }),
  printerColumns: assetColumns(),
});
export type Algorithm = ObjectOf<typeof Algorithm>;

// ---------------------------------------------------------------- Model

export const ModelFormats = ['PyTorch', 'SafeTensors', 'TorchScript', 'ONNX', 'TensorFlowSavedModel', 'GGUF', 'Other'] as const;
export const ModelVersionOrigins = ['Import', 'Job'] as const;

export const ModelSource = oneOf({ s3: opt(S3Source), http: opt(HttpSource), pvc: opt(PvcSource) }, 'Where the version\'s weights come from');

const metrics = map(str({ description: 'Metric value, e.g. 0.761.', maxLength: 64 }), {
  description: 'Evaluation metrics, name to value, e.g. {top1: "0.761"}.',
  maxProperties: 32,
});

export const ModelVersion = obj(
  { name: versionName, description: opt(description), source: ModelSource, metrics: opt(metrics) },
  { description: 'One imported version of a model.' },
);

const assetRefStatus = (what: string) =>
  obj(
    {
      name: dnsSubdomain(`${what} name.`),
      namespace: dnsLabel(`${what} namespace.`),
      version: opt(dnsLabel(`${what} version.`)),
    },
    { description: `The ${what} version used.` },
  );

export const Lineage = obj(
  {
    job: obj(
      {
        name: dnsSubdomain('Job name.'),
        namespace: dnsLabel('Job namespace.'),
        uid: str({ description: 'Job UID, which survives the Job\'s deletion in this record.', maxLength: 64 }),
      },
      { description: 'The Job that produced the version.' },
    ),
    attempt: int({ description: 'The Job attempt that succeeded (0 is the first).', minimum: 0 }),
    image: str({ description: 'Image reference the pods ran.', maxLength: 512 }),
    imageDigest: opt(str({ description: 'Image digest, when resolved.', maxLength: 128 })),
    algorithm: opt(assetRefStatus('Algorithm')),
    datasets: opt(arr(assetRefStatus('Dataset'), { description: 'Dataset versions mounted.', maxItems: 16 })),
    pretrainedModel: opt(assetRefStatus('Model')),
    finishedAt: str({ description: 'When the Job succeeded.', format: 'date-time' }),
  },
  { description: 'How a Job-produced version came to be: everything an auditor needs to reproduce it.' },
);

export const Model = defineKind({
  kind: 'Model',
  plural: 'models',
  shortNames: ['omodel'],
  scope: 'Namespaced',
  description: 'A versioned model. Versions are imported (spec.versions) or produced by Jobs with output.model (recorded in status with lineage).',
  spec: obj(
    {
      ...commonSpec,
      format: opt(enumOf(ModelFormats, { description: 'Serialization format of the weights.', default: 'Other' })),
      versions: opt(versionList(ModelVersion, 'model')),
    },
    { description: 'Desired state of the model.' },
  ),
  status: assetStatus('model', {
    origin: opt(enumOf(ModelVersionOrigins, { description: 'Import (spec.versions) or Job (produced by a training job).' })),
    metrics: opt(metrics),
    lineage: opt(Lineage),
    extra: opt(freeform({ description: 'Free-form metadata reported by the producing job (e.g. hyper-parameters).' })),
    export: opt(
      obj(
        {
          uri: str({ description: 'Where the files go: s3://<bucket>/<prefix>.', maxLength: 2048 }),
          endpoint: opt(str({ description: 'S3 endpoint; empty for the controller\'s object store.', maxLength: 512 })),
          region: opt(str({ description: 'Bucket region.', maxLength: 64 })),
          secretName: opt(dnsSubdomain('Secret with the keys, in this namespace.')),
          phase: enumOf(['Pending', 'Exporting', 'Exported', 'Failed'] as const, { description: 'Pending, Exporting, Exported or Failed.' }),
          reason: opt(str({ description: 'Why the export is in this phase, in CamelCase.', maxLength: 256 })),
          message: opt(str({ description: 'Details, e.g. the export pod\'s termination message.', maxLength: 4096 })),
          exportJob: opt(dnsSubdomain('The batch/v1 Job uploading the version.')),
          manifestDigest: opt(str({ description: 'sha256 of the manifest uploaded beside the files, as sha256:<hex>.', pattern: '^sha256:[a-f0-9]{64}$' })),
        },
        { description: 'The upload of a Job-produced version to S3 that the Job asked for (output.model.s3).' },
      ),
    ),
  }),
  printerColumns: assetColumns(),
});
export type Model = ObjectOf<typeof Model>;
