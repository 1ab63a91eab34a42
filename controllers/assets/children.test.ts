import { describe, expect, it } from '@jest/globals';
import type { V1EnvVar } from '@kubernetes/client-node';
import { desiredExportJob, desiredFilesConfigMap, desiredImportClaim, desiredImportJob, desiredNfsClaim, desiredNfsVolume, filesProblems, importEnv, type CopySource } from './children.js';
import { childName, filesConfigMapName, importJobName, maxJobNameLength, nfsVolumeName, versionClaimName } from './names.js';
import { holderOf } from './owned.js';
import { asset, testOptions, version } from './testing/fixtures.js';

const s3 = { s3: { bucket: 'datasets', prefix: 'imagenet/', secretRef: { name: 's3-creds' } } };
const owner = { apiVersion: 'octopus.openi.pcl.cn/v1alpha1', kind: 'Dataset', name: 'imagenet', uid: 'uid-imagenet', controller: true, blockOwnerDeletion: true };

describe('childName', () => {
  it.each([
    { name: 'joins short parts', parts: ['imagenet', 'v1', 'import'], max: 63, want: 'imagenet-v1-import' },
    { name: 'keeps a name of exactly the limit', parts: ['a'.repeat(60), 'v1'], max: 63, want: `${'a'.repeat(60)}-v1` },
  ])('$name', ({ parts, max, want }) => {
    expect(childName(parts, max)).toBe(want);
  });

  it('cuts a long name to the limit, ends it alphanumeric, and keeps distinct inputs distinct', () => {
    const long = asset('Dataset', 'd'.repeat(70), {});
    const a = importJobName(long, 'v1');
    const b = importJobName(long, 'v2');
    expect(a.length).toBeLessThanOrEqual(maxJobNameLength);
    expect(a).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(a).not.toBe(b);
    expect(importJobName(long, 'v1')).toBe(a);
  });
});

describe('names of a version\'s children', () => {
  it.each([
    { kind: 'Dataset' as const, claim: 'resnet-v1', job: 'resnet-v1-import', volume: 'octopus-team-a-resnet-v1' },
    { kind: 'Algorithm' as const, claim: 'resnet-code-v1', job: 'resnet-code-v1-import', volume: 'octopus-team-a-resnet-code-v1' },
    { kind: 'Model' as const, claim: 'resnet-model-v1', job: 'resnet-model-v1-import', volume: 'octopus-team-a-resnet-model-v1' },
  ])('a $kind and the others of the same name and version never share one', ({ kind, claim, job, volume }) => {
    const a = asset(kind, 'resnet', {});
    expect([versionClaimName(a, 'v1'), importJobName(a, 'v1'), nfsVolumeName(a, 'v1'), filesConfigMapName(a, 'v1')]).toEqual([claim, job, volume, claim]);
  });
});

describe('holderOf', () => {
  const imagenet = asset('Dataset', 'imagenet', {});
  const ref = (kind: string, name: string, uid: string) => ({ apiVersion: 'octopus.openi.pcl.cn/v1alpha1', kind, name, uid, controller: true });
  const claim = (metadata: object) => ({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'imagenet-v1', ...metadata } });

  it.each([
    { name: 'a free name', obj: undefined, want: undefined },
    { name: "the asset's own child", obj: claim({ ownerReferences: [ref('Dataset', 'imagenet', 'uid-imagenet')] }), want: undefined },
    { name: "the asset's own volume, by label", obj: claim({ labels: { 'octopus.openi.pcl.cn/owner-uid': 'uid-imagenet' } }), want: undefined },
    { name: 'a child of an earlier dataset of that name', obj: claim({ ownerReferences: [ref('Dataset', 'imagenet', 'uid-old')] }), want: { earlier: true, holder: 'Dataset imagenet' } },
    { name: "another kind's child", obj: claim({ ownerReferences: [ref('Model', 'imagenet', 'uid-m')] }), want: { earlier: false, holder: 'Model imagenet' } },
    { name: "a user's own claim", obj: claim({}), want: { earlier: false, holder: 'another owner' } },
  ])('$name', ({ obj, want }) => {
    expect(holderOf(obj, imagenet)).toEqual(want);
  });
});

describe('desiredImportClaim', () => {
  it.each([
    { name: 'the controller default when nothing is asked', spec: {}, versionStorage: undefined, want: { storage: '10Gi', class: undefined } },
    { name: "the asset's request", spec: { storage: { size: '200Gi', storageClassName: 'fast' } }, versionStorage: undefined, want: { storage: '200Gi', class: 'fast' } },
    { name: "the version's request over the asset's", spec: { storage: { size: '200Gi', storageClassName: 'fast' } }, versionStorage: { size: '1Ti' }, want: { storage: '1Ti', class: 'fast' } },
    { name: 'a YAML integer size as a string', spec: { storage: { size: 1073741824 } }, versionStorage: undefined, want: { storage: '1073741824', class: undefined } },
  ])('sizes the claim from $name', ({ spec, versionStorage, want }) => {
    const v = version('v1', s3, versionStorage ? { storage: versionStorage } : {});
    const claim = desiredImportClaim(asset('Dataset', 'imagenet', { ...spec, versions: [v] }), v, testOptions);
    expect(claim.spec?.resources?.requests).toEqual({ storage: want.storage });
    expect(claim.spec?.storageClassName).toBe(want.class);
  });

  it('is named after asset and version, owned by the asset, labelled for the informers', () => {
    const v = version('v1', s3);
    const claim = desiredImportClaim(asset('Dataset', 'imagenet', { versions: [v] }), v, { ...testOptions, importStorageClass: 'standard' });
    expect(claim.metadata).toEqual({
      name: 'imagenet-v1',
      namespace: 'team-a',
      labels: { 'app.kubernetes.io/managed-by': 'octopus', 'octopus.openi.pcl.cn/asset-kind': 'Dataset', 'octopus.openi.pcl.cn/asset-version': 'v1' },
      ownerReferences: [owner],
    });
    expect(claim.spec).toEqual({ accessModes: ['ReadWriteMany'], resources: { requests: { storage: '10Gi' } }, storageClassName: 'standard' });
  });
});

const envNames = (env: V1EnvVar[]) => Object.fromEntries(env.map((e) => [e.name, e.value ?? e.valueFrom]));

describe('importEnv', () => {
  it.each<{ name: string; source: CopySource; want: Record<string, unknown> }>([
    {
      name: 's3 with credentials: the default endpoint and a secretKeyRef per key',
      source: s3,
      want: {
        OCTOPUS_IMPORT_SOURCE: 's3',
        OCTOPUS_IMPORT_DESTINATION: '/data',
        OCTOPUS_IMPORT_ENDPOINT: 'https://s3.test',
        OCTOPUS_IMPORT_BUCKET: 'datasets',
        OCTOPUS_IMPORT_PREFIX: 'imagenet/',
        AWS_ACCESS_KEY_ID: { secretKeyRef: { name: 's3-creds', key: 'accessKeyID' } },
        AWS_SECRET_ACCESS_KEY: { secretKeyRef: { name: 's3-creds', key: 'secretAccessKey' } },
      },
    },
    {
      name: 's3 with its own endpoint and region, anonymous',
      source: { s3: { bucket: 'open-data', endpoint: 'http://minio:9000', region: 'eu-1' } },
      want: { OCTOPUS_IMPORT_SOURCE: 's3', OCTOPUS_IMPORT_DESTINATION: '/data', OCTOPUS_IMPORT_ENDPOINT: 'http://minio:9000', OCTOPUS_IMPORT_BUCKET: 'open-data', OCTOPUS_IMPORT_REGION: 'eu-1' },
    },
    {
      name: 'http with a checksum',
      source: { http: { url: 'https://example.com/a.tar.gz', sha256: 'a'.repeat(64) } },
      want: { OCTOPUS_IMPORT_SOURCE: 'http', OCTOPUS_IMPORT_DESTINATION: '/data', OCTOPUS_IMPORT_URL: 'https://example.com/a.tar.gz', OCTOPUS_IMPORT_SHA256: 'a'.repeat(64) },
    },
    {
      name: 'http with unpacking turned off',
      source: { http: { url: 'https://example.com/a.zip', unpack: false } },
      want: { OCTOPUS_IMPORT_SOURCE: 'http', OCTOPUS_IMPORT_DESTINATION: '/data', OCTOPUS_IMPORT_URL: 'https://example.com/a.zip', OCTOPUS_IMPORT_UNPACK: 'false' },
    },
    {
      name: 'git with optional credentials (password or SSH key)',
      source: { git: { url: 'https://git.test/x.git', revision: 'v2', subPath: 'resnet', secretRef: { name: 'git-creds' } } },
      want: {
        OCTOPUS_IMPORT_SOURCE: 'git',
        OCTOPUS_IMPORT_DESTINATION: '/data',
        OCTOPUS_IMPORT_URL: 'https://git.test/x.git',
        OCTOPUS_IMPORT_REVISION: 'v2',
        OCTOPUS_IMPORT_SUBPATH: 'resnet',
        GIT_USERNAME: { secretKeyRef: { name: 'git-creds', key: 'username', optional: true } },
        GIT_PASSWORD: { secretKeyRef: { name: 'git-creds', key: 'password', optional: true } },
        GIT_SSH_KEY: { secretKeyRef: { name: 'git-creds', key: 'ssh-privatekey', optional: true } },
      },
    },
  ])('$name', ({ source, want }) => {
    expect(envNames(importEnv(source, testOptions))).toEqual(want);
  });
});

describe('desiredImportJob', () => {
  const v = version('v1', s3);
  const spec = {
    import: { backoffLimit: 1, activeDeadlineSeconds: 600, podMetadata: { labels: { team: 'vision', 'octopus.openi.pcl.cn/charged-to': 'team-b' }, annotations: { note: 'x', 'octopus.openi.pcl.cn/owner': 'spoofed' } } },
    versions: [v],
  };
  const job = desiredImportJob(asset('Dataset', 'imagenet', spec), v, s3, testOptions);
  const podSpec = job.spec!.template.spec!;
  const container = podSpec.containers[0]!;

  it('is named deterministically, owned by the asset, retried per the import policy', () => {
    expect(job.metadata?.name).toBe('imagenet-v1-import');
    expect(job.metadata?.ownerReferences).toEqual([owner]);
    expect(job.spec?.backoffLimit).toBe(1);
    expect(job.spec?.activeDeadlineSeconds).toBe(600);
  });

  it('fails at once, without retries, when the importer exits 3 (retrying cannot help)', () => {
    expect(job.spec?.podFailurePolicy).toEqual({ rules: [{ action: 'FailJob', onExitCodes: { containerName: 'import', operator: 'In', values: [3] } }] });
  });

  it.each([
    { name: 'octopus-data by default', command: 'octopus-data import', want: ['octopus-data', 'import'] },
    { name: "the image's entrypoint when the command is empty", command: '', want: undefined },
    { name: 'extra spaces ignored', command: ' /bin/importer  --all ', want: ['/bin/importer', '--all'] },
  ])('runs $name', ({ command, want }) => {
    const j = desiredImportJob(asset('Dataset', 'imagenet', spec), v, s3, { ...testOptions, importerCommand: command });
    expect(j.spec!.template.spec!.containers[0]!.command).toEqual(want);
  });

  it('falls back to the schema default of 2 retries and no deadline', () => {
    const plain = desiredImportJob(asset('Dataset', 'imagenet', { versions: [v] }), v, s3, testOptions);
    expect(plain.spec?.backoffLimit).toBe(2);
    expect(plain.spec).not.toHaveProperty('activeDeadlineSeconds');
  });

  it("passes the user's pod metadata through, but not over its own keys", () => {
    expect(job.spec?.template.metadata).toEqual({
      labels: {
        team: 'vision',
        'app.kubernetes.io/managed-by': 'octopus',
        'octopus.openi.pcl.cn/asset-kind': 'Dataset',
        'octopus.openi.pcl.cn/asset-version': 'v1',
        'octopus.openi.pcl.cn/charged-to': 'team-a',
      },
      annotations: { note: 'x', 'octopus.openi.pcl.cn/owner': 'team-a/imagenet' },
    });
  });

  it("requests and is limited to the controller's import size, so it is never BestEffort and counts against the Quota", () => {
    expect(container.resources).toEqual({ requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '500m', memory: '1Gi' } });
    const sized = desiredImportJob(asset('Dataset', 'imagenet', spec), v, s3, { ...testOptions, importCpu: '2', importMemory: '3Gi' });
    expect(sized.spec!.template.spec!.containers[0]!.resources).toEqual({ requests: { cpu: '2', memory: '3Gi' }, limits: { cpu: '2', memory: '3Gi' } });
  });

  it('runs the importer once, restricted, with the claim at /data', () => {
    expect(podSpec.restartPolicy).toBe('Never');
    expect(podSpec.automountServiceAccountToken).toBe(false);
    expect(podSpec.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true });
    expect(container.image).toBe('registry.test/importer:1');
    expect(container.terminationMessagePolicy).toBe('FallbackToLogsOnError');
    expect(container.volumeMounts).toEqual([{ name: 'data', mountPath: '/data' }]);
    expect(podSpec.volumes).toEqual([{ name: 'data', persistentVolumeClaim: { claimName: 'imagenet-v1' } }]);
  });
});

describe('nfs volume and claim', () => {
  const nfs = { server: 'nfs.test', path: '/exports/coco' };
  const v = version('v1', { nfs });
  const coco = asset('Dataset', 'coco', { storage: { size: '50Gi' }, versions: [v] });

  it('makes a read-only, retained volume, labelled with its owner since it cannot be owned', () => {
    const pv = desiredNfsVolume(coco, v, nfs, testOptions);
    expect(pv.metadata).toEqual({
      name: 'octopus-team-a-coco-v1',
      labels: { 'app.kubernetes.io/managed-by': 'octopus', 'octopus.openi.pcl.cn/asset-kind': 'Dataset', 'octopus.openi.pcl.cn/asset-version': 'v1', 'octopus.openi.pcl.cn/owner-uid': 'uid-coco' },
      annotations: { 'octopus.openi.pcl.cn/owner': 'team-a/coco' },
    });
    expect(pv.spec).toEqual({
      capacity: { storage: '50Gi' },
      accessModes: ['ReadOnlyMany'],
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: '',
      nfs: { server: 'nfs.test', path: '/exports/coco', readOnly: true },
      claimRef: { kind: 'PersistentVolumeClaim', namespace: 'team-a', name: 'coco-v1' },
    });
  });

  it('binds the claim to that volume by name', () => {
    const claim = desiredNfsClaim(coco, v, testOptions);
    expect(claim.metadata?.name).toBe('coco-v1');
    expect(claim.metadata?.ownerReferences?.[0]?.uid).toBe('uid-coco');
    expect(claim.spec).toEqual({ accessModes: ['ReadOnlyMany'], resources: { requests: { storage: '50Gi' } }, storageClassName: '', volumeName: 'octopus-team-a-coco-v1' });
  });
});

describe('inline files', () => {
  it.each<{ name: string; files: Record<string, string>; want: string[] }>([
    { name: 'plain file names', files: { 'train.py': 'print(1)', 'requirements.txt': 'torch' }, want: [] },
    { name: 'a directory in a name', files: { 'src/train.py': '' }, want: ['file name "src/train.py" is not a valid ConfigMap key (letters, digits, \'-\', \'_\', \'.\'; no directories)'] },
    { name: 'more than a ConfigMap holds', files: { a: 'x'.repeat(600_000), b: 'y'.repeat(600_000) }, want: ['the files take 1200002 bytes; a ConfigMap holds at most 1048576'] },
  ])('$name', ({ files, want }) => {
    expect(filesProblems(files)).toEqual(want);
  });

  it('stores them one key per file in a ConfigMap the algorithm owns', () => {
    const v = version('v1', { files: { 'train.py': 'print(1)' } });
    const cm = desiredFilesConfigMap(asset('Algorithm', 'resnet', { versions: [v] }), v, { 'train.py': 'print(1)' });
    expect(cm.metadata?.name).toBe('resnet-code-v1');
    expect(cm.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'Algorithm', name: 'resnet', controller: true });
    expect(cm.data).toEqual({ 'train.py': 'print(1)' });
  });
});

describe('desiredExportJob', () => {
  const model = asset('Model', 'weights', {});
  const version = { name: 'run1', phase: 'Ready' as const, claimName: 'run1-output', export: { uri: 's3://b/runs/run1/', secretName: 's3', phase: 'Pending' as const } };
  const job = desiredExportJob(model, version, testOptions);
  const container = job.spec!.template.spec!.containers[0]!;

  it('runs octopus-data export on the version claim, read-only, with the destination from status', () => {
    expect(job.metadata?.name).toBe('weights-model-run1-export');
    expect(container.command).toEqual(['octopus-data', 'export']);
    expect(envNames(container.env!)).toEqual({
      OCTOPUS_EXPORT_SOURCE: '/data',
      OCTOPUS_EXPORT_ENDPOINT: 'https://s3.test',
      OCTOPUS_EXPORT_BUCKET: 'b',
      OCTOPUS_EXPORT_PREFIX: 'runs/run1/',
      AWS_ACCESS_KEY_ID: { secretKeyRef: { name: 's3', key: 'accessKeyID' } },
      AWS_SECRET_ACCESS_KEY: { secretKeyRef: { name: 's3', key: 'secretAccessKey' } },
    });
    expect(container.volumeMounts).toEqual([{ name: 'data', mountPath: '/data', readOnly: true }]);
    expect(job.spec!.template.spec!.volumes).toEqual([{ name: 'data', persistentVolumeClaim: { claimName: 'run1-output', readOnly: true } }]);
    expect(job.spec?.podFailurePolicy?.rules[0]?.onExitCodes).toEqual({ containerName: 'export', operator: 'In', values: [3] });
  });
});
