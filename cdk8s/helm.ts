/**
 * Helm template expressions inside cdk8s output. cdk8s writes typed YAML, where a template
 * expression can only be a quoted string; Helm needs some unquoted (numbers, booleans, whole
 * YAML blocks). Constructs put markers in those places and `renderTemplate` turns each
 * marked line into the template Helm expects — the rest of the file stays cdk8s's.
 */

/** A string value from values.yaml, e.g. an image pull policy. */
export function value(path: string): string {
  return `{{ .Values.${path} }}`;
}

/** A value written unquoted (a number or boolean), e.g. replicas. */
export function raw(expression: string): string {
  return `@@RAW@@${expression}@@`;
}

export function rawValue(path: string): string {
  return raw(`.Values.${path}`);
}

/** A whole YAML block from values.yaml (a map or list), e.g. nodeSelector or resources. */
export function yamlBlock(path: string): string {
  return `@@YAML@@${path}@@`;
}

/** A file of the chart inserted verbatim (never templated), e.g. a dashboard whose JSON contains {{ }}. */
export function fileBlock(path: string): string {
  return `@@FILE@@${path}@@`;
}

/** The release namespace. */
export const releaseNamespace = '{{ .Release.Namespace }}';

const rawRe = /'@@RAW@@(.*?)@@'|"@@RAW@@(.*?)@@"|@@RAW@@(.*?)@@/g;
const yamlLineRe = /^(\s*)(- )?([^:\s][^:]*):\s*['"]?@@YAML@@([^@]+)@@['"]?\s*$/;
const fileLineRe = /^(\s*)([^:\s][^:]*):\s*['"]?@@FILE@@([^@]+)@@['"]?\s*$/;

/**
 * Turns cdk8s YAML with markers into a Helm template. A `key: <yamlBlock>` line becomes
 * `key:` followed by `toYaml` at the right indentation; raw markers lose their quotes.
 */
export function renderTemplate(yaml: string): string {
  const lines = yaml.split('\n').map((line) => {
    const file = fileLineRe.exec(line);
    if (file) {
      const [, indent = '', key, path] = file;
      return `${indent}${key}: |-\n{{ .Files.Get "${path}" | indent ${indent.length + 2} }}`;
    }
    const block = yamlLineRe.exec(line);
    if (block) {
      const [, indent = '', dash = '', key, path] = block;
      const childIndent = indent.length + dash.length + 2;
      return `${indent}${dash}${key}:\n${' '.repeat(indent.length)}{{- toYaml .Values.${path} | nindent ${childIndent} }}`;
    }
    return line.replace(rawRe, (_m, a: string | undefined, b: string | undefined, c: string | undefined) => `{{ ${a ?? b ?? c} }}`);
  });
  return lines.join('\n');
}

/** Wraps a whole template in `if <condition>`, e.g. optional monitoring objects. */
export function conditional(condition: string, template: string): string {
  return `{{- if ${condition} }}\n${template.trimEnd()}\n{{- end }}\n`;
}
