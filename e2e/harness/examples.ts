import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../../hack/cluster/paths.js';

export interface KubeManifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

export interface ExampleFile {
  /** Path relative to the repository root. */
  file: string;
  documents: KubeManifest[];
}

export interface InvalidExample extends ExampleFile {
  rule: string;
  /** The field path the error names. */
  wantPath: string;
  /** A fragment of the message, as the apiserver words it. */
  wantMessage: string;
  /** The last two documents are one object: the first is created, the second applied over it. */
  update: boolean;
  /**
   * `schema`: the CRD's schema and CEL rules refuse the object, so the apiserver alone does.
   * `webhook` (`# Enforced-by: webhook`): only the admission webhooks do — quota, device policy, visibility,
   * immutability of an admitted Job, and field rules in code.
   */
  enforcedBy: 'schema' | 'webhook';
  /** Documents to create, in order, before the object under test (webhook rules only; `# Requires:` says what they are for). */
  prerequisites: KubeManifest[];
  /** The object whose create, or update over `oldObject`, is refused. */
  object: KubeManifest;
  oldObject?: KubeManifest;
}

const examplesDir = join(repoRoot, 'examples');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? yamlFiles(join(dir, e.name)) : e.name.endsWith('.yaml') ? [join(dir, e.name)] : []))
    .sort();
}

function load(path: string): ExampleFile {
  const documents = parseAllDocuments(readFileSync(path, 'utf8'))
    .map((d) => d.toJS() as KubeManifest | null)
    .filter((d): d is KubeManifest => d !== null);
  return { file: relative(repoRoot, path), documents };
}

/** The examples a user applies, in apply order (admin, then assets, then workloads). */
export function validExamples(): ExampleFile[] {
  return yamlFiles(examplesDir)
    .filter((p) => !p.includes(`${join('examples', 'invalid')}`))
    .map(load);
}

const sameObject = (a: KubeManifest | undefined, b: KubeManifest | undefined): boolean =>
  a !== undefined && b !== undefined && a.kind === b.kind && a.metadata.name === b.metadata.name && a.metadata.namespace === b.metadata.namespace;

/**
 * examples/invalid: one file per rule, with `# Rule:` and `# Expect: <path>: <message>` comments. A rule
 * only the webhooks enforce says `# Enforced-by: webhook`; its objects that must exist first come as
 * earlier documents, named by `# Requires:`, and the object under test comes last.
 */
export function invalidExamples(): InvalidExample[] {
  return yamlFiles(join(examplesDir, 'invalid')).map((path) => {
    const text = readFileSync(path, 'utf8');
    const rule = /^# Rule: (.+)$/m.exec(text)?.[1];
    const expect = /^# Expect: (\S+): (.+)$/m.exec(text);
    if (!rule || !expect) throw new Error(`${path}: needs "# Rule: …" and "# Expect: <path>: <message>" comments`);
    const enforcedBy = /^# Enforced-by: (.+)$/m.exec(text)?.[1] ?? 'schema';
    if (enforcedBy !== 'schema' && enforcedBy !== 'webhook') throw new Error(`${path}: "# Enforced-by:" must be schema or webhook`);
    const example = load(path);
    const docs = example.documents;
    const update = sameObject(docs[docs.length - 2], docs[docs.length - 1]);
    const object = docs[docs.length - 1];
    const prerequisites = docs.slice(0, update ? -2 : -1);
    if (object === undefined) throw new Error(`${path}: has no document`);
    if (enforcedBy === 'schema' && prerequisites.length > 0) throw new Error(`${path}: a schema rule needs no other objects; webhook rules say "# Enforced-by: webhook"`);
    if (prerequisites.length > 0 && !/^# Requires: .+$/m.test(text)) throw new Error(`${path}: say what the documents before the object under test are for in "# Requires: …"`);
    return {
      ...example,
      rule,
      wantPath: expect[1]!,
      wantMessage: expect[2]!,
      update,
      enforcedBy,
      prerequisites,
      object,
      ...(update ? { oldObject: docs[docs.length - 2] } : {}),
    };
  });
}
