/**
 * The objects a version needs, as pure functions of the asset, the version and the controller's
 * options: the claim a copied version is imported into and the Job that imports it, the volume and
 * claim of an nfs version, the ConfigMap of inline files.
 *
 * The importer contract (any image given as --importer-image): the source is described in
 * OCTOPUS_IMPORT_* environment variables (credentials come from the version's Secret through
 * secretKeyRef, never through the controller); the content goes to OCTOPUS_IMPORT_DESTINATION
 * (/data, the claim's root). On success the importer writes `{"size":"12Gi","files":1234}` to
 * /dev/termination-log (octopus-data adds "manifestDigest", "bytes", "resumed" and, for git, "commit");
 * on failure it writes why, as text or as `{"reason":"CamelCase","message":"…"}`, and exits 3 when a
 * retry cannot help. The default importer is octopus-data (controllers/octopus-data) in the operator image.
 */
import type { V1ConfigMap, V1EnvVar, V1Job, V1PersistentVolume, V1PersistentVolumeClaim, V1PersistentVolumeClaimSpec } from '@kubernetes/client-node';
import type { ControllerOptions } from '../options.js';
import { assetAnnotations, assetLabels, exportJobName, filesConfigMapName, importJobName, nfsVolumeName, versionClaimName } from './names.js';
import { childLabels, ownedMetadata } from './owned.js';
import { runOnceJob } from './run-once-job.js';
import type { GitSource, HttpSource, NfsSource, S3Source, VersionSpec, VersionStatus, VersionedAsset } from './types.js';

export type ImportOptions = Pick<ControllerOptions, 'importerImage' | 'importerCommand' | 'importStorageSize' | 'importStorageClass' | 'importCpu' | 'importMemory' | 's3Endpoint' | 'runAsUser'>;

/** Where imported content lands inside the import pod. */
export const importMountPath = '/data';

/** The schema's default, for objects that bypassed defaulting (e.g. built in tests). */
const defaultBackoffLimit = 2;

/** A copied source: exactly one of these. */
export type CopySource = { s3: S3Source } | { http: HttpSource } | { git: GitSource };

/** Size and class of a version's claim: the version's request, else the asset's, else the controller's defaults. */
export function storageOf(asset: VersionedAsset, version: VersionSpec, options: Pick<ImportOptions, 'importStorageSize' | 'importStorageClass'>): { size: string; storageClassName?: string } {
  const size = version.storage?.size ?? asset.spec.storage?.size ?? options.importStorageSize;
  const storageClassName = version.storage?.storageClassName ?? asset.spec.storage?.storageClassName ?? options.importStorageClass;
  return { size: String(size), ...(storageClassName ? { storageClassName } : {}) };
}

/**
 * The claim a copied version is imported into. ReadWriteMany: the importer writes it once, then
 * every pod of a distributed job, on any node, reads it.
 */
export function desiredImportClaim(asset: VersionedAsset, version: VersionSpec, options: ImportOptions): V1PersistentVolumeClaim {
  const { size, storageClassName } = storageOf(asset, version, options);
  return versionClaim(asset, version, { accessModes: ['ReadWriteMany'], resources: { requests: { storage: size } }, ...(storageClassName && { storageClassName }) });
}

/** The claim of a version, owned by the asset. */
function versionClaim(asset: VersionedAsset, version: VersionSpec, spec: V1PersistentVolumeClaimSpec): V1PersistentVolumeClaim {
  return { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: ownedMetadata(asset, versionClaimName(asset, version.name), childLabels(asset.kind, version.name)), spec };
}

function secretEnv(name: string, secret: string, key: string, optional = false): V1EnvVar {
  return { name, valueFrom: { secretKeyRef: { name: secret, key, ...(optional && { optional }) } } };
}

function valueEnv(entries: [string, string | undefined][]): V1EnvVar[] {
  return entries.flatMap(([name, value]) => (value === undefined || value === '' ? [] : [{ name, value }]));
}

/** The source as the importer reads it. */
export function importEnv(source: CopySource, options: Pick<ImportOptions, 's3Endpoint'>): V1EnvVar[] {
  const common: [string, string][] = [['OCTOPUS_IMPORT_DESTINATION', importMountPath]];
  if ('s3' in source) {
    const s3 = source.s3;
    const secret = s3.secretRef?.name;
    return [
      ...valueEnv([
        ['OCTOPUS_IMPORT_SOURCE', 's3'],
        ...common,
        ['OCTOPUS_IMPORT_ENDPOINT', s3.endpoint ?? options.s3Endpoint],
        ['OCTOPUS_IMPORT_BUCKET', s3.bucket],
        ['OCTOPUS_IMPORT_PREFIX', s3.prefix],
        ['OCTOPUS_IMPORT_REGION', s3.region],
      ]),
      ...(secret ? [secretEnv('AWS_ACCESS_KEY_ID', secret, 'accessKeyID'), secretEnv('AWS_SECRET_ACCESS_KEY', secret, 'secretAccessKey')] : []),
    ];
  }
  if ('http' in source) {
    const unpack = source.http.unpack === undefined ? undefined : String(source.http.unpack);
    return valueEnv([['OCTOPUS_IMPORT_SOURCE', 'http'], ...common, ['OCTOPUS_IMPORT_URL', source.http.url], ['OCTOPUS_IMPORT_SHA256', source.http.sha256], ['OCTOPUS_IMPORT_UNPACK', unpack]]);
  }
  const git = source.git;
  const secret = git.secretRef?.name;
  return [
    ...valueEnv([
      ['OCTOPUS_IMPORT_SOURCE', 'git'],
      ...common,
      ['OCTOPUS_IMPORT_URL', git.url],
      ['OCTOPUS_IMPORT_REVISION', git.revision],
      ['OCTOPUS_IMPORT_SUBPATH', git.subPath],
    ]),
    // The Secret holds either username/password or an SSH key: each key is optional.
    ...(secret
      ? [secretEnv('GIT_USERNAME', secret, 'username', true), secretEnv('GIT_PASSWORD', secret, 'password', true), secretEnv('GIT_SSH_KEY', secret, 'ssh-privatekey', true)]
      : []),
  ];
}

/** Exit code with which an importer says retrying cannot help (octopus-data: a 404, bad credentials, a corrupt object). */
export const importPermanentExitCode = 3;

/** The importer's command: `--importer-command` split on spaces; none leaves the image's entrypoint. */
export function importCommand(options: Pick<ImportOptions, 'importerCommand'>): string[] | undefined {
  const words = options.importerCommand.split(' ').filter(Boolean);
  return words.length > 0 ? words : undefined;
}

/**
 * A batch/v1 Job running octopus-data (`verb`: import or export) on a version's claim: the
 * controller's import size as requests and limits, labelled with the namespace it is charged to (so
 * it counts against that workspace's Quota), failed at once when the program exits with
 * importPermanentExitCode.
 */
function dataJob(asset: VersionedAsset, opts: { name: string; version: string; verb: 'import' | 'export'; env: V1EnvVar[]; claimName: string; readOnly?: boolean; subPath?: string; policy?: NonNullable<VersionedAsset['spec']['import']> }, options: ImportOptions): V1Job {
  const { policy = {}, verb } = opts;
  const size = { cpu: options.importCpu, memory: options.importMemory };
  // The configured command names the import verb; an export runs the same program with its own.
  const command = importCommand(options)?.map((word) => (word === 'import' ? verb : word));
  return runOnceJob({
    owner: asset,
    name: opts.name,
    labels: { ...childLabels(asset.kind, opts.version), [assetLabels.chargedTo]: asset.metadata.namespace! },
    ...(policy.podMetadata && { podMetadata: policy.podMetadata }),
    backoffLimit: policy.backoffLimit ?? defaultBackoffLimit,
    ...(policy.activeDeadlineSeconds !== undefined && { activeDeadlineSeconds: policy.activeDeadlineSeconds }),
    runAsUser: options.runAsUser,
    podFailurePolicy: { rules: [{ action: 'FailJob', onExitCodes: { containerName: verb, operator: 'In', values: [importPermanentExitCode] } }] },
    container: {
      name: verb,
      image: options.importerImage,
      ...(command && { command }),
      env: opts.env,
      resources: { requests: size, limits: size },
      volumeMounts: [{ name: 'data', mountPath: importMountPath, ...(opts.readOnly && { readOnly: true }), ...(opts.subPath && { subPath: opts.subPath }) }],
    },
    volumes: [{ name: 'data', persistentVolumeClaim: { claimName: opts.claimName, ...(opts.readOnly && { readOnly: true }) } }],
  });
}

/** The Job copying `source` into the version's claim, retried per the asset's import policy. */
export function desiredImportJob(asset: VersionedAsset, version: VersionSpec, source: CopySource, options: ImportOptions): V1Job {
  return dataJob(
    asset,
    { name: importJobName(asset, version.name), version: version.name, verb: 'import', env: importEnv(source, options), claimName: versionClaimName(asset, version.name), ...(asset.spec.import && { policy: asset.spec.import }) },
    options,
  );
}

/** The upload a Model version's export asks for, as octopus-data export reads it. */
export function exportEnv(request: NonNullable<VersionStatus['export']>, options: Pick<ImportOptions, 's3Endpoint'>): V1EnvVar[] {
  const [, bucket = '', prefix = ''] = /^s3:\/\/([^/]+)\/?(.*)$/.exec(request.uri) ?? [];
  return [
    ...valueEnv([
      ['OCTOPUS_EXPORT_SOURCE', importMountPath],
      ['OCTOPUS_EXPORT_ENDPOINT', request.endpoint ?? options.s3Endpoint],
      ['OCTOPUS_EXPORT_BUCKET', bucket],
      ['OCTOPUS_EXPORT_PREFIX', prefix],
      ['OCTOPUS_EXPORT_REGION', request.region],
    ]),
    ...(request.secretName ? [secretEnv('AWS_ACCESS_KEY_ID', request.secretName, 'accessKeyID'), secretEnv('AWS_SECRET_ACCESS_KEY', request.secretName, 'secretAccessKey')] : []),
  ];
}

/** The Job uploading a Job-produced Model version (its claim, mounted read-only) to S3. */
export function desiredExportJob(asset: VersionedAsset, version: VersionStatus, options: ImportOptions): V1Job {
  return dataJob(
    asset,
    { name: exportJobName(asset, version.name), version: version.name, verb: 'export', env: exportEnv(version.export!, options), claimName: version.claimName!, readOnly: true, ...(version.subPath && { subPath: version.subPath }) },
    options,
  );
}

/**
 * The PersistentVolume of an nfs version. It is cluster-scoped, so no owner reference can tie it
 * to the asset: labels and an annotation name the owner, and the controller deletes it itself.
 * Retain: deleting the volume object must never touch the data on the server. Read-only: a
 * published version is immutable.
 */
export function desiredNfsVolume(asset: VersionedAsset, version: VersionSpec, nfs: NfsSource, options: Pick<ImportOptions, 'importStorageSize' | 'importStorageClass'>): V1PersistentVolume {
  const name = asset.metadata.name!;
  const namespace = asset.metadata.namespace!;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: {
      name: nfsVolumeName(asset, version.name),
      labels: { ...childLabels(asset.kind, version.name), [assetLabels.ownerUid]: asset.metadata.uid! },
      annotations: { [assetAnnotations.owner]: `${namespace}/${name}` },
    },
    spec: {
      capacity: { storage: storageOf(asset, version, options).size },
      accessModes: ['ReadOnlyMany'],
      persistentVolumeReclaimPolicy: 'Retain',
      // Empty, not absent: no default StorageClass may claim this volume.
      storageClassName: '',
      nfs: { server: nfs.server, path: nfs.path, readOnly: true },
      claimRef: { kind: 'PersistentVolumeClaim', namespace, name: versionClaimName(asset, version.name) },
    },
  };
}

/** The claim bound to the nfs version's volume by name. */
export function desiredNfsClaim(asset: VersionedAsset, version: VersionSpec, options: Pick<ImportOptions, 'importStorageSize' | 'importStorageClass'>): V1PersistentVolumeClaim {
  return versionClaim(asset, version, {
    accessModes: ['ReadOnlyMany'],
    resources: { requests: { storage: storageOf(asset, version, options).size } },
    storageClassName: '',
    volumeName: nfsVolumeName(asset, version.name),
  });
}

/** ConfigMap keys the apiserver accepts, and the size it stores at most. */
const configMapKey = /^[-._a-zA-Z0-9]+$/;
const maxConfigMapBytes = 1024 * 1024;

/** Why `files` cannot be stored in a ConfigMap; empty when they can. */
export function filesProblems(files: Record<string, string>): string[] {
  const problems = Object.keys(files)
    .filter((file) => !configMapKey.test(file) || file.length > 253)
    .map((file) => `file name "${file}" is not a valid ConfigMap key (letters, digits, '-', '_', '.'; no directories)`);
  const bytes = Object.entries(files).reduce((sum, [file, content]) => sum + Buffer.byteLength(file) + Buffer.byteLength(content), 0);
  if (bytes > maxConfigMapBytes) problems.push(`the files take ${bytes} bytes; a ConfigMap holds at most ${maxConfigMapBytes}`);
  return problems;
}

/** The ConfigMap holding an algorithm version's inline files, one key per file. */
export function desiredFilesConfigMap(asset: VersionedAsset, version: VersionSpec, files: Record<string, string>): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: ownedMetadata(asset, filesConfigMapName(asset, version.name), childLabels(asset.kind, version.name)),
    data: { ...files },
  };
}
