import { alertRules, runbookUrl, type AlertRule } from './alerts';
import { durationSeconds, type MonitoringConfig } from './config';
import { byName, inline } from './promql';
import { recordingRules, type RecordingRules } from './recording-rules';
import { alertmanagerConfig } from './alertmanager';
import { yamlFile } from './format';
import { MONITORING_FILES } from './paths';
import { isCoarse, promtoolTests, SLOW_STEP_MINUTES } from './rule-tests';
import { scenarioTests, splitByCost, standardScenarios } from './scenarios';

/**
 * Renders the monitoring source into the files the stacks consume: Prometheus rule files,
 * promtool unit tests, the local stack's prometheus.yml and Cloud Monitoring alert definitions.
 */

export interface PrometheusRuleGroup {
  name: string;
  interval?: string;
  rules: Array<
    | { record: string; expr: string; labels?: Record<string, string> }
    | { alert: string; expr: string; for: string; labels: Record<string, string>; annotations: Record<string, string> }
  >;
}

export function recordingGroups(rules: RecordingRules): PrometheusRuleGroup[] {
  return rules.groups.map((group) => ({
    name: group.name,
    rules: group.rules.map((rule) => ({ record: rule.record, expr: rule.build(byName), ...(rule.labels ? { labels: rule.labels } : {}) })),
  }));
}

function alertEntry(config: MonitoringConfig, alert: AlertRule) {
  return {
    alert: alert.alert,
    expr: alert.build(byName),
    for: alert.for,
    labels: { severity: alert.severity, ...alert.labels },
    annotations: { summary: alert.summary, description: alert.description, runbook_url: runbookUrl(config, alert.alert) },
  };
}

export function alertGroups(config: MonitoringConfig, alerts: AlertRule[]): PrometheusRuleGroup[] {
  const isSlo = (a: AlertRule) => a.labels?.slo !== undefined;
  return [
    { name: 'pipewatch.alerts', rules: alerts.filter((a) => !isSlo(a)).map((a) => alertEntry(config, a)) },
    { name: 'pipewatch.slo.alerts', rules: alerts.filter(isSlo).map((a) => alertEntry(config, a)) },
  ];
}

export interface CloudAlert {
  name: string;
  displayName: string;
  severity: string;
  /** Seconds the condition must hold before the policy fires. */
  for: number;
  /** Self-contained PromQL: recording rules inlined, since Cloud Monitoring evaluates none. */
  promql: string;
  summary: string;
  description: string;
  runbook: string;
}

export function cloudAlerts(config: MonitoringConfig, alerts: AlertRule[]): CloudAlert[] {
  return alerts.map((alert) => ({
    name: alert.alert,
    displayName: `${config.selector.job}: ${alert.summary.replace(/\.$/, '')}`,
    severity: alert.severity,
    for: durationSeconds(alert.for),
    promql: alert.build(inline),
    summary: alert.summary,
    description: alert.description,
    runbook: runbookUrl(config, alert.alert),
  }));
}

/** The local stack's Prometheus: scrapes the service container and itself, loads the mounted rules. */
export function localPrometheusConfig(config: MonitoringConfig) {
  return {
    global: {
      scrape_interval: `${config.scrapeIntervalSeconds}s`,
      scrape_timeout: `${Math.min(10, config.scrapeIntervalSeconds)}s`,
      evaluation_interval: `${config.evaluationIntervalSeconds}s`,
    },
    rule_files: ['/etc/prometheus/rules/*.yml'],
    scrape_configs: [
      { job_name: config.selector.job, metrics_path: '/metrics', static_configs: [{ targets: ['pipewatch:8000'] }] },
      { job_name: 'prometheus', static_configs: [{ targets: ['localhost:9090'] }] },
    ],
  };
}

export const RULE_FILES = { recording: MONITORING_FILES.recordingRules, alerts: MONITORING_FILES.alertRules } as const;
export const PROMTOOL_TESTS = { minutes: MONITORING_FILES.alertTests, days: MONITORING_FILES.slowBurnTests } as const;
/** Every promtool test file. */
export const PROMTOOL_TEST_FILES: string[] = [MONITORING_FILES.alertTests, MONITORING_FILES.slowBurnTests, ...MONITORING_FILES.scenarioTests];
/** Rule files as promtool resolves them: relative to the test file. */
const testRuleFiles = { rule_files: ['../rules/pipewatch-recording.yml', '../rules/pipewatch-alerts.yml'] };
export const PROMETHEUS_CONFIG = MONITORING_FILES.prometheusConfig;
export const CLOUD_ALERTS = MONITORING_FILES.cloudAlerts;

/** Everything Prometheus-side, built in memory: path (relative to the repo) => file content. */
export function prometheusFiles(config: MonitoringConfig, httpBuckets: readonly number[]): Record<string, string> {
  const recordings = recordingRules(config);
  const alerts = alertRules(config, recordings);
  const tests = promtoolTests(config, alerts, httpBuckets);
  return {
    [PROMETHEUS_CONFIG]: yamlFile(localPrometheusConfig(config)),
    [RULE_FILES.recording]: yamlFile({ groups: recordingGroups(recordings) }),
    [RULE_FILES.alerts]: yamlFile({ groups: alertGroups(config, alerts) }),
    [PROMTOOL_TESTS.minutes]: yamlFile({ ...testRuleFiles, evaluation_interval: '1m', tests: tests.filter((t) => !isCoarse(t)) }),
    [PROMTOOL_TESTS.days]: yamlFile({ ...testRuleFiles, evaluation_interval: `${SLOW_STEP_MINUTES}m`, tests: tests.filter(isCoarse) }),
    ...Object.fromEntries(
      splitByCost(standardScenarios(config), MONITORING_FILES.scenarioTests.length).map((part, i) => [
        MONITORING_FILES.scenarioTests[i]!,
        yamlFile({ ...testRuleFiles, evaluation_interval: `${config.evaluationIntervalSeconds}s`, tests: scenarioTests(config, alerts, part) }),
      ]),
    ),
    [CLOUD_ALERTS]: `${JSON.stringify(cloudAlerts(config, alerts), null, 2)}\n`,
    [MONITORING_FILES.alertmanagerConfig]: yamlFile(alertmanagerConfig(config, alerts)),
  };
}
