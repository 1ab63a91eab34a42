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
  /** Two documents: the first is created, the second applied over it. */
  update: boolean;
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

/** examples/invalid: one file per rule, with `# Rule:` and `# Expect: <path>: <message>` comments. */
export function invalidExamples(): InvalidExample[] {
  return yamlFiles(join(examplesDir, 'invalid')).map((path) => {
    const text = readFileSync(path, 'utf8');
    const rule = /^# Rule: (.+)$/m.exec(text)?.[1];
    const expect = /^# Expect: (\S+): (.+)$/m.exec(text);
    if (!rule || !expect) throw new Error(`${path}: needs "# Rule: …" and "# Expect: <path>: <message>" comments`);
    const example = load(path);
    return { ...example, rule, wantPath: expect[1]!, wantMessage: expect[2]!, update: example.documents.length === 2 };
  });
}
