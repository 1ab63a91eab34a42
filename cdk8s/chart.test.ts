import { describe, expect, it } from '@jest/globals';
import { Ajv } from 'ajv';
import { parse, parseAllDocuments } from 'yaml';
import { conditional, fileBlock, rawValue, renderTemplate, yamlBlock } from './helm.js';
import { allKinds, group } from '../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { renderChartFiles } from './synth.js';
import { defaultValues, valuesJsonSchema } from './values.js';

const files = renderChartFiles();
const file = (path: string) => {
  const f = files.get(path);
  if (f === undefined) throw new Error(`no ${path} among ${[...files.keys()].join(', ')}`);
  return f;
};

describe('renderTemplate', () => {
  it.each([
    { name: 'raw values lose their quotes', yaml: `replicas: '${rawValue('controller.replicas')}'`, want: 'replicas: {{ .Values.controller.replicas }}' },
    {
      name: 'a YAML block becomes toYaml at the right indentation',
      yaml: `    nodeSelector: ${yamlBlock('global.nodeSelector')}`,
      want: '    nodeSelector:\n    {{- toYaml .Values.global.nodeSelector | nindent 6 }}',
    },
    {
      name: 'a chart file is inserted verbatim, never templated',
      yaml: `  octopus.json: ${fileBlock('files/dash.json')}`,
      want: '  octopus.json: |-\n{{ .Files.Get "files/dash.json" | indent 4 }}',
    },
    { name: 'other lines are left alone', yaml: 'name: octopus-controller', want: 'name: octopus-controller' },
  ])('$name', ({ yaml, want }) => {
    expect(renderTemplate(yaml)).toBe(want);
  });

  it('wraps optional objects in a condition', () => {
    expect(conditional('.Values.x', 'a: 1\n')).toBe('{{- if .Values.x }}\na: 1\n{{- end }}\n');
  });
});

describe('the generated chart', () => {
  it('has the chart files Helm needs', () => {
    for (const path of ['Chart.yaml', 'values.yaml', 'values.schema.json', 'templates/deployment-octopus-controller.yaml', 'crds/jobs.octopus.openi.pcl.cn.yaml']) {
      expect(files.has(path)).toBe(true);
    }
    expect(parse(file('Chart.yaml'))).toMatchObject({ apiVersion: 'v2', name: 'octopus', type: 'application' });
  });

  it('keeps the seed chart value names and their defaults', () => {
    const values = parse(file('values.yaml')) as Record<string, Record<string, unknown>>;
    expect(values.global).toMatchObject({ image: { repository: { address: expect.any(String), pathname: expect.any(String) }, pullPolicy: 'IfNotPresent' }, nodeSelector: { 'octopus.openi.pcl.cn/node': 'server' } });
    expect(values.Common).toEqual({ resourceTagKey: 'octopus.pcl.ac.cn/resource', resourceTagValuePrefix: '' });
  });

  it('validates its own defaults against values.schema.json, and rejects a bad value by name', () => {
    const ajv = new Ajv({ strict: false });
    const validate = ajv.compile(valuesJsonSchema());
    expect(validate(defaultValues())).toBe(true);
    const bad = structuredClone(defaultValues()) as { controller: { replicas: unknown } };
    bad.controller.replicas = 'two';
    expect(validate(bad)).toBe(false);
    expect(validate.errors?.[0]?.instancePath).toBe('/controller/replicas');
  });

  it('templates the controller Deployment from values', () => {
    const t = file('templates/deployment-octopus-controller.yaml');
    expect(t).toContain('replicas: {{ .Values.controller.replicas }}');
    expect(t).toContain('{{- toYaml .Values.global.nodeSelector | nindent 8 }}');
    expect(t).toContain('image: "{{ .Values.global.image.repository.address }}/{{ .Values.global.image.repository.pathname }}:{{ .Values.global.image.tag | default .Chart.AppVersion }}"');
    expect(t).toContain('--resource-tag-key={{ .Values.Common.resourceTagKey }}');
  });

  it('registers webhooks that fail closed, have no side effects and answer within 5 s', () => {
    for (const kind of ['validatingwebhookconfiguration', 'mutatingwebhookconfiguration']) {
      const doc = parse(file(`templates/${kind}-octopus-webhooks.yaml`).replace(/\{\{[^}]*\}\}/g, 'x')) as { webhooks: Record<string, unknown>[] };
      expect(doc.webhooks.length).toBeGreaterThan(0);
      for (const w of doc.webhooks) {
        expect(w).toMatchObject({ failurePolicy: 'Fail', sideEffects: 'None', timeoutSeconds: 5 });
        expect((w.clientConfig as Record<string, unknown>).caBundle).toBeUndefined();
      }
    }
  });

  it('gives the controller no Secret access and no power over nodes beyond reading them', () => {
    const role = parse(file('templates/clusterrole-octopus-controller.yaml').replace(/\{\{[^}]*\}\}/g, 'x')) as { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] };
    for (const r of role.rules) {
      expect(r.resources).not.toContain('secrets');
      if (r.resources.includes('nodes')) expect(r.verbs).toEqual(['get', 'list', 'watch']);
      expect(r.verbs).not.toContain('*');
    }
  });

  it('hands the platform ingress and network settings to both processes, and lets the controller keep workspace NetworkPolicies', () => {
    const controller = file('templates/deployment-octopus-controller.yaml');
    for (const arg of ['--ingress-domain={{ .Values.ingress.domain }}', '--ingress-class={{ .Values.ingress.className }}', '--ingress-namespace={{ .Values.ingress.namespace }}', '--monitoring-namespace={{ .Values.monitoring.namespace }}']) {
      expect(controller).toContain(arg);
    }
    // The webhook judges derived hosts under the same domain.
    expect(file('templates/deployment-octopus-webhooks.yaml')).toContain('--ingress-domain={{ .Values.ingress.domain }}');
    const role = parse(file('templates/clusterrole-octopus-controller.yaml').replace(/\{\{[^}]*\}\}/g, 'x')) as { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] };
    expect(role.rules.find((r) => r.apiGroups.includes('networking.k8s.io') && r.resources.includes('networkpolicies'))?.verbs).toEqual(['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']);
  });

  it('creates the builds namespace, privileged and closed to connections, and hands the build settings to both processes', () => {
    const ns = parse(file('templates/namespace-buildNamespace.yaml')) as { metadata: { name: string; labels: Record<string, string> } };
    expect(ns.metadata.name).toBe('{{ .Values.controller.buildNamespace }}');
    expect(ns.metadata.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'privileged', 'pod-security.kubernetes.io/audit': 'baseline', 'pod-security.kubernetes.io/warn': 'baseline' });
    const policy = parse(file('templates/networkpolicy-octopus-builds.yaml')) as { metadata: { namespace: string }; spec: unknown };
    expect(policy.metadata.namespace).toBe('{{ .Values.controller.buildNamespace }}');
    expect(policy.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress'] });
    const controller = file('templates/deployment-octopus-controller.yaml');
    for (const arg of ['--build-namespace={{ .Values.controller.buildNamespace }}', '--build-registry={{ .Values.controller.buildRegistry }}', '--build-cpu={{ .Values.controller.buildCpu }}', '--build-memory={{ .Values.controller.buildMemory }}', '--pusher-image={{ .Values.controller.pusherImage }}']) {
      expect(controller).toContain(arg);
    }
    // The webhook refuses destinations outside a workspace's prefix of the same registry.
    expect(file('templates/deployment-octopus-webhooks.yaml')).toContain('--build-registry={{ .Values.controller.buildRegistry }}');
  });

  it('wraps optional objects in their toggles', () => {
    expect(file('templates/servicemonitor-octopus-controller.yaml')).toContain('{{- if .Values.monitoring.serviceMonitor.enabled }}');
    expect(file('templates/networkpolicy-octopus.yaml')).toContain('{{- if .Values.networkPolicy.enabled }}');
    expect(file('templates/resourcepool-gpu.yaml')).toContain('{{- if .Values.defaults.enabled }}');
  });

  it('ships an Argo CD health check for every kind', () => {
    const doc = parseAllDocuments(file('argocd/health-checks.yaml'))[0]!.toJS() as { configs: { cm: Record<string, string> } };
    const keys = Object.keys(doc.configs.cm);
    expect(keys.sort()).toEqual(allKinds.map((k) => `resource.customizations.health.${group}_${k.kind}`).sort());
    expect(doc.configs.cm['resource.customizations.health.octopus.openi.pcl.cn_Job']).toContain('if obj.status.phase == "Failed" then\n    hs.status = "Degraded"');
  });
});
