/** A Grafana dashboard over the octopus_* metrics, shipped as JSON in a ConfigMap. */

interface Panel {
  title: string;
  expr: string;
  legend: string;
  unit?: string;
}

const panels: Panel[] = [
  { title: 'Jobs by phase', expr: 'sum by (phase) (octopus_jobs)', legend: '{{phase}}' },
  { title: 'Admission wait (p50, p99)', expr: 'histogram_quantile(0.99, sum by (le) (rate(octopus_admission_wait_seconds_bucket[5m])))', legend: 'p99', unit: 's' },
  { title: 'Admissions per second', expr: 'sum(rate(octopus_admission_attempts_total{result="admitted"}[5m]))', legend: 'admitted/s' },
  { title: 'Waiting by reason', expr: 'sum by (reason) (rate(octopus_admission_attempts_total{result="waiting"}[5m]))', legend: '{{reason}}' },
  { title: 'Quota used / hard (accelerators)', expr: 'sum by (namespace, resource) (octopus_quota_used{resource=~".*/.*"}) / sum by (namespace, resource) (octopus_quota_hard{resource=~".*/.*"})', legend: '{{namespace}} {{resource}}', unit: 'percentunit' },
  { title: 'Reconcile errors', expr: 'sum by (controller) (rate(octopus_reconcile_errors_total[5m]))', legend: '{{controller}}' },
  { title: 'Work queue depth', expr: 'sum by (name) (octopus_workqueue_depth)', legend: '{{name}}' },
  { title: 'Webhook latency p99', expr: 'histogram_quantile(0.99, sum by (le, kind) (rate(octopus_webhook_duration_seconds_bucket[5m])))', legend: '{{kind}}', unit: 's' },
];

export function dashboardJson(): string {
  const dashboard = {
    title: 'Octopus',
    uid: 'octopus',
    schemaVersion: 39,
    tags: ['octopus'],
    time: { from: 'now-6h', to: 'now' },
    templating: { list: [{ name: 'datasource', type: 'datasource', query: 'prometheus' }] },
    panels: panels.map((p, i) => ({
      id: i + 1,
      type: 'timeseries',
      title: p.title,
      datasource: { type: 'prometheus', uid: '${datasource}' },
      gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
      fieldConfig: { defaults: { unit: p.unit ?? 'short' }, overrides: [] },
      targets: [{ expr: p.expr, legendFormat: p.legend, refId: 'A' }],
    })),
  };
  return JSON.stringify(dashboard, null, 2);
}
