/**
 * The one owner of the generated monitoring files' paths (relative to the repository root). The
 * generators write them, the tests read them, and the stacks (infra/monitoring-files.ts) upload
 * them from here; nothing else spells these paths.
 */
export const MONITORING_FILES = {
  prometheusConfig: 'infra/prometheus/prometheus.yml',
  rulesDir: 'infra/prometheus/rules',
  recordingRules: 'infra/prometheus/rules/pipewatch-recording.yml',
  alertRules: 'infra/prometheus/rules/pipewatch-alerts.yml',
  /** Per-alert unit tests, sampled each minute. */
  alertTests: 'infra/prometheus/tests/pipewatch-alerts.test.yml',
  /** The slow-burn SLO alerts, whose windows span days, sampled every few minutes. */
  slowBurnTests: 'infra/prometheus/tests/pipewatch-slo-slow-burn.test.yml',
  /** Failure and quiet scenarios at the real 15 s evaluation interval, with hours of history, in two halves of similar cost (promtool runs them in parallel). */
  scenarioTests: ['infra/prometheus/tests/pipewatch-scenarios-1.test.yml', 'infra/prometheus/tests/pipewatch-scenarios-2.test.yml'],
  alertmanagerConfig: 'infra/monitoring/generated/alertmanager.yml',
  cloudAlerts: 'infra/monitoring/generated/cloud-alerts.json',
  dashboardsDir: 'dashboards',
  serviceDashboard: 'dashboards/pipewatch-service.json',
  grafanaDatasources: 'dashboards/provisioning/datasources/prometheus.yml',
  grafanaDashboardProvider: 'dashboards/provisioning/dashboards/pipewatch.yml',
  /** Optional picture taken by the end-to-end test from real data; the README shows it when present. */
  screenshot: 'dashboards/screenshots/prometheus-failure-ratio.png',
} as const;

/** Where the stacks mount dashboards/*.json inside the Grafana container. */
export const GRAFANA_DASHBOARDS_PATH = '/var/lib/grafana/dashboards';
