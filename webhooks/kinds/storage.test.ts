import { describe, expect, it } from '@jest/globals';
import { apiVersion, type Algorithm, type Dataset, type Job, type Model, type Notebook, type Workspace } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { FieldError } from '../admission.js';
import { createContext, lookupsOf, makeJob, makeNotebook, updateContext } from '../testing/octopus.js';
import type { WriteContext } from './check.js';
import { octopusAdmission } from './index.js';
import { validateStorage } from './storage.js';

const workspace = (name: string, storage?: Workspace['spec']['storage']): Workspace => ({ apiVersion, kind: 'Workspace', metadata: { name }, spec: storage ? { storage } : {} });
const lookups = lookupsOf([
  workspace('team-a', { nfs: [{ server: 'nfs.team-a.example', pathPrefix: '/exports/team-a' }], storageClasses: ['fast'] }),
  workspace('team-b'),
]);

type Version = NonNullable<Dataset['spec']['versions']>[number];
const dataset = (versions: Version[], extra: Partial<Dataset['spec']> = {}, namespace = 'team-a'): Dataset => ({ apiVersion, kind: 'Dataset', metadata: { name: 'coco', namespace }, spec: { versions, ...extra } });
const nfs = (name: string, server: string, path: string): Version => ({ name, source: { nfs: { server, path } } });
const s3 = (name: string, storageClassName?: string): Version => ({ name, source: { s3: { bucket: 'data' } }, ...(storageClassName !== undefined && { storage: { storageClassName } }) });

const nfsDenied = (i: number, export_: string, where = 'workspace team-a (its spec.storage.nfs allows nfs.team-a.example:/exports/team-a)'): FieldError => ({
  path: `spec.versions[${i}].source.nfs`,
  message: `NFS ${export_} is not allowed in ${where}`,
});
const classDenied = (path: string, name: string): FieldError => ({ path, message: `StorageClass "${name}" is not allowed in workspace team-a (its spec.storage.storageClasses allows fast)` });

describe('validateStorage', () => {
  it.each<{ name: string; ctx: WriteContext<Dataset | Algorithm | Model | Job | Notebook>; want: FieldError[] }>([
    { name: 'allows an export below an allowed prefix', ctx: createContext(dataset([nfs('v1', 'nfs.team-a.example', '/exports/team-a/coco')])), want: [] },
    { name: "refuses the platform server's root, naming the field", ctx: createContext(dataset([nfs('v1', 'nfs.platform.internal', '/')])), want: [nfsDenied(0, 'nfs.platform.internal:/')] },
    { name: 'refuses a path climbing out of the prefix', ctx: createContext(dataset([s3('v1'), nfs('v2', 'nfs.team-a.example', '/exports/team-a/../team-b')])), want: [nfsDenied(1, 'nfs.team-a.example:/exports/team-a/../team-b')] },
    {
      name: 'refuses every export where the Workspace allows none',
      ctx: createContext(dataset([nfs('v1', 'nfs.team-a.example', '/exports/team-a')], {}, 'team-b')),
      want: [nfsDenied(0, 'nfs.team-a.example:/exports/team-a', 'workspace team-b (its spec.storage.nfs allows none)')],
    },
    {
      name: 'refuses every export where no Workspace owns the namespace',
      ctx: createContext(dataset([nfs('v1', 'nfs.team-a.example', '/exports/team-a')], {}, 'scratch')),
      want: [nfsDenied(0, 'nfs.team-a.example:/exports/team-a', 'namespace scratch, which no Workspace owns (nothing is allowed there)')],
    },
    { name: 'allows import claims of the default class and of a listed one', ctx: createContext(dataset([s3('v1'), s3('v2', 'fast')], { storage: { size: '1Gi' } })), want: [] },
    {
      name: 'refuses unlisted classes on the asset and on a version',
      ctx: createContext(dataset([s3('v1', 'slow')], { storage: { storageClassName: '' } })),
      want: [classDenied('spec.storage.storageClassName', ''), classDenied('spec.versions[0].storage.storageClassName', 'slow')],
    },
    {
      name: "refuses a Job's output class",
      ctx: createContext(makeJob({ output: { model: { name: 'resnet', storage: { storageClassName: 'slow' } } } })),
      want: [classDenied('spec.output.model.storage.storageClassName', 'slow')],
    },
    { name: "refuses a Notebook's home class", ctx: createContext(makeNotebook({ homeStorage: { storageClassName: 'slow' } })), want: [classDenied('spec.homeStorage.storageClassName', 'slow')] },
    { name: 'allows a Notebook home of the default class', ctx: createContext(makeNotebook({ homeStorage: { size: '5Gi' } })), want: [] },
    {
      name: 'on update, leaves an unchanged version alone wherever it moved, and judges a new one',
      ctx: updateContext(dataset([nfs('v1', 'nfs.platform.internal', '/')]), dataset([nfs('v2', 'nfs.platform.internal', '/data'), nfs('v1', 'nfs.platform.internal', '/')])),
      want: [nfsDenied(0, 'nfs.platform.internal:/data')],
    },
    {
      name: 'on update, judges a version whose export changed',
      ctx: updateContext(dataset([nfs('v1', 'nfs.team-a.example', '/exports/team-a')]), dataset([nfs('v1', 'nfs.platform.internal', '/')])),
      want: [nfsDenied(0, 'nfs.platform.internal:/')],
    },
  ])('$name', ({ ctx, want }) => {
    expect(validateStorage(ctx, lookups).errors).toEqual(want);
  });

  it('is wired for every kind that stores: refused at the door as Forbidden, unrelated edits of old objects allowed', async () => {
    const admission = octopusAdmission(lookups);
    const old = dataset([nfs('v1', 'nfs.platform.internal', '/')]);
    const created = await admission.validators.dataset!.validate(createContext(old));
    expect(created).toMatchObject({ errors: [nfsDenied(0, 'nfs.platform.internal:/')], reason: 'Forbidden' });
    const described = { ...old, spec: { ...old.spec, description: 'COCO 2017' } };
    expect((await admission.validators.dataset!.validate(updateContext(old, described))).errors).toEqual([]);
    const algorithm: Algorithm = { apiVersion, kind: 'Algorithm', metadata: { name: 'resnet', namespace: 'team-a' }, spec: { storage: { storageClassName: 'slow' }, versions: [{ name: 'v1', source: { git: { url: 'https://git.test/r.git' } } }] } };
    expect((await admission.validators.algorithm!.validate(createContext(algorithm))).errors).toEqual([classDenied('spec.storage.storageClassName', 'slow')]);
    const model: Model = { apiVersion, kind: 'Model', metadata: { name: 'bert', namespace: 'team-a' }, spec: { storage: { storageClassName: 'slow' }, versions: [{ name: 'v1', source: { s3: { bucket: 'models' } } }] } };
    expect((await admission.validators.model!.validate(createContext(model))).errors).toEqual([classDenied('spec.storage.storageClassName', 'slow')]);
    const job = makeJob({ tasks: [{ name: 'worker', resources: { requests: { cpu: 1 } } }], output: { model: { name: 'resnet', storage: { storageClassName: 'slow' } } } });
    expect((await admission.validators.job!.validate(createContext(job))).errors).toEqual([classDenied('spec.output.model.storage.storageClassName', 'slow')]);
  });
});
