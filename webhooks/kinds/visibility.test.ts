import { describe, expect, it } from '@jest/globals';
import { apiVersion, type Job, type ModelService, type Notebook } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import type { FieldError } from '../admission.js';
import { createContext, lookupsOf, makeAsset, makeJob, makeNotebook, updateContext } from '../testing/octopus.js';
import type { WriteContext } from './check.js';
import { validateVisibility } from './visibility.js';

const cache = lookupsOf([
  makeAsset('Dataset', 'shared', 'imagenet', 'Public'),
  makeAsset('Dataset', 'shared', 'faces', 'Private'),
  makeAsset('Dataset', 'shared', 'legacy'), // written before visibility had a default: Private
  makeAsset('Dataset', 'team-a', 'own', 'Private'),
  makeAsset('Algorithm', 'shared', 'resnet', 'Private'),
  makeAsset('Image', 'shared', 'pytorch', 'Private'),
  makeAsset('Image', 'shared', 'tensorflow', 'Public'),
  makeAsset('Model', 'shared', 'bert', 'Private'),
]);

const modelService = (model: ModelService['spec']['model']): ModelService => ({
  apiVersion,
  kind: 'ModelService',
  metadata: { name: 'serve', namespace: 'team-a' },
  spec: { model, image: { reference: 'docker.io/pytorch/torchserve:0.12.0-cpu' }, pool: 'cpu', resources: { requests: { cpu: 1 } } },
});

const privateError = (path: string, what: string): FieldError => ({ path, message: `${what} is Private: only Public assets can be used from another namespace` });

describe('validateVisibility', () => {
  it.each<{ name: string; ctx: WriteContext<Job | Notebook | ModelService>; want: FieldError[] }>([
    { name: 'allows a Public dataset of another namespace', ctx: createContext(makeJob({ datasets: [{ name: 'imagenet', namespace: 'shared' }] })), want: [] },
    { name: 'allows a Private dataset of its own namespace, named or implied', ctx: createContext(makeJob({ datasets: [{ name: 'own' }, { name: 'own', namespace: 'team-a' }] })), want: [] },
    { name: 'allows a reference to an asset that does not exist yet', ctx: createContext(makeJob({ datasets: [{ name: 'tomorrow', namespace: 'shared' }], algorithm: { name: 'nope', namespace: 'elsewhere' } })), want: [] },
    {
      name: 'denies a Private dataset of another namespace',
      ctx: createContext(makeJob({ datasets: [{ name: 'imagenet', namespace: 'shared' }, { name: 'faces', namespace: 'shared', version: 'v1' }] })),
      want: [privateError('spec.datasets[1]', 'Dataset shared/faces')],
    },
    { name: 'treats an asset without visibility as Private', ctx: createContext(makeJob({ datasets: [{ name: 'legacy', namespace: 'shared' }] })), want: [privateError('spec.datasets[0]', 'Dataset shared/legacy')] },
    { name: 'denies a Private algorithm', ctx: createContext(makeJob({ algorithm: { name: 'resnet', namespace: 'shared' } })), want: [privateError('spec.algorithm', 'Algorithm shared/resnet')] },
    { name: 'denies a Private image', ctx: createContext(makeJob({ image: { name: 'pytorch', namespace: 'shared' } })), want: [privateError('spec.image', 'Image shared/pytorch')] },
    { name: 'allows a Public image', ctx: createContext(makeJob({ image: { name: 'tensorflow', namespace: 'shared' } })), want: [] },
    { name: 'denies a Private pretrained model', ctx: createContext(makeJob({ pretrainedModel: { name: 'bert', namespace: 'shared' } })), want: [privateError('spec.pretrainedModel', 'Model shared/bert')] },
    { name: "judges a Notebook's references", ctx: createContext(makeNotebook({ datasets: [{ name: 'faces', namespace: 'shared' }] })), want: [privateError('spec.datasets[0]', 'Dataset shared/faces')] },
    { name: "judges a ModelService's model", ctx: createContext(modelService({ name: 'bert', namespace: 'shared', version: 'v1' })), want: [privateError('spec.model', 'Model shared/bert')] },
    { name: "allows a ModelService's own model", ctx: createContext(modelService({ name: 'bert', version: 'v1' })), want: [] },
    {
      // The ratchet in kindValidator drops it again: the old object names the same asset.
      name: 'reports an unchanged reference on update too',
      ctx: updateContext(makeJob({ datasets: [{ name: 'faces', namespace: 'shared' }] }), makeJob({ datasets: [{ name: 'faces', namespace: 'shared' }], suspend: true })),
      want: [privateError('spec.datasets[0]', 'Dataset shared/faces')],
    },
  ])('$name', ({ ctx, want }) => {
    expect(validateVisibility(ctx, cache)).toEqual({ errors: want });
  });
});
