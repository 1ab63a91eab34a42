/**
 * One shape for the three versioned kinds (Dataset, Algorithm, Model): their specs and statuses
 * differ only in which sources a version may name and in a few status extras, so the import
 * machinery is written once against this superset.
 */
import type { Algorithm, Condition, Dataset, KubeObject, Model, Visibility } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';

type SpecOf<T extends { spec: unknown }> = T['spec'];
type VersionSpecOf<T extends { spec: { versions?: unknown[] } }> = NonNullable<SpecOf<T>['versions']>[number];
type VersionStatusOf<T extends { status?: { versions?: unknown[] } }> = NonNullable<NonNullable<T['status']>['versions']>[number];

type DatasetVersionStatus = VersionStatusOf<Dataset>;
type AlgorithmVersionStatus = VersionStatusOf<Algorithm>;
export type ModelVersionStatus = VersionStatusOf<Model>;

/** Status of one version of any versioned kind; the extras are set only where the kind has them. */
export type VersionStatus = DatasetVersionStatus & Partial<Pick<AlgorithmVersionStatus, 'configMapName'>> & Partial<Pick<ModelVersionStatus, 'origin' | 'metrics' | 'lineage' | 'extra' | 'export'>>;

type DatasetSource = VersionSpecOf<Dataset>['source'];
type AlgorithmSource = VersionSpecOf<Algorithm>['source'];

/** Every source a version of some versioned kind may name; exactly one is set. */
export type VersionSource = DatasetSource & AlgorithmSource;
export type S3Source = NonNullable<VersionSource['s3']>;
export type HttpSource = NonNullable<VersionSource['http']>;
export type GitSource = NonNullable<VersionSource['git']>;
export type NfsSource = NonNullable<VersionSource['nfs']>;
type StorageRequest = NonNullable<SpecOf<Dataset>['storage']>;
type ImportPolicy = NonNullable<SpecOf<Dataset>['import']>;

export interface VersionSpec {
  name: string;
  source: VersionSource;
  storage?: StorageRequest;
  /** Model versions only. */
  metrics?: Record<string, string>;
}

export interface AssetSpec {
  visibility?: Visibility;
  storage?: StorageRequest;
  import?: ImportPolicy;
  versions?: VersionSpec[];
}

export interface AssetStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  versions?: VersionStatus[];
  versionCount?: number;
  readyVersions?: number;
  latestVersion?: string;
  latestSize?: string;
  latestFileCount?: number;
}

/** A Dataset, Algorithm or Model, seen through the fields they share. */
export type VersionedAsset = KubeObject<AssetSpec, AssetStatus>;

/** The kinds this module reconciles. */
export type AssetKindName = 'Dataset' | 'Algorithm' | 'Model';
