import { describe, expect, it } from '@jest/globals';
import { invalidExamples, validExamples } from '../../../e2e/harness/examples.js';
import { kindByName } from './index.js';
import { validatorFor } from './validation.js';

const octopusDocuments = validExamples().flatMap((f) =>
  f.documents.filter((d) => d.apiVersion.startsWith('octopus.openi.pcl.cn/')).map((d) => ({ file: f.file, name: `${d.kind}/${d.metadata.name}`, doc: d })),
);

describe('examples/', () => {
  it('covers every Octopus kind', () => {
    const kinds = new Set(octopusDocuments.map((d) => d.doc.kind));
    expect([...kinds].sort()).toEqual(
      ['Algorithm', 'Dataset', 'DevicePolicy', 'Image', 'Job', 'ModelService', 'Notebook', 'Quota', 'ResourcePool', 'ResourceSpec', 'WorkloadPriorityClass', 'Workspace'].sort(),
    );
  });

  it.each(octopusDocuments)('$file $name is valid', ({ doc }) => {
    const def = kindByName(doc.kind);
    expect(def).toBeDefined();
    expect(validatorFor(def!).validate(doc)).toEqual([]);
  });
});

describe('examples/invalid/', () => {
  // Rules only the webhooks enforce are proven through them, in webhooks/kinds/.
  it.each(invalidExamples().filter((e) => e.enforcedBy === 'schema'))('$file is rejected: $rule', (example) => {
    const [first, second] = example.documents;
    const def = kindByName(first!.kind)!;
    const validator = validatorFor(def);
    let errors;
    if (example.update) {
      expect(validator.validate(first)).toEqual([]);
      errors = validator.validate(second, first);
    } else {
      errors = validator.validate(first);
    }
    // One file, one rule: exactly the expected error, nothing else.
    expect(errors).toHaveLength(1);
    expect(errors[0]!.path).toBe(example.wantPath);
    expect(errors[0]!.message).toContain(example.wantMessage);
  });
});
