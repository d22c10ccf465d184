import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { alertRules } from '../infra/monitoring/alerts';
import { monitoringConfig, validateConfig, type MonitoringConfig } from '../infra/monitoring/config';
import { dashboardFiles } from '../dashboards/generate';
import { monitoringFiles, REPO_ROOT } from '../infra/monitoring/generate';
import { MONITORING_FILES } from '../infra/monitoring/paths';
import { CLOUD_ALERTS, RULE_FILES } from '../infra/monitoring/outputs';
import { readmeSectionOf } from '../infra/monitoring/readme';
import { recordingRules } from '../infra/monitoring/recording-rules';
import { HTTP_DURATION_BUCKETS } from '../src/metrics';

const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');
/** A recording-rule name (`level:metric:operations`) inside an expression. */
const RECORDED_NAME = /\b[a-z_]+:[a-z_]+:[a-z0-9_]+\b/;

describe('generated monitoring files', () => {
  const files = { ...dashboardFiles(), ...monitoringFiles() };

  test('every committed file equals a fresh in-memory generation (run `bun run generate:monitoring` if this fails)', () => {
    const stale = Object.entries(files)
      .filter(([path, content]) => (path === 'README.md' ? readmeSectionOf(read(path)) !== readmeSectionOf(content) : read(path) !== content))
      .map(([path]) => path);
    expect(stale).toEqual([]);
  });

  test('the expected files are generated at the paths the stacks mount', () => {
    expect(Object.keys(files).sort()).toEqual(
      [
        'README.md',
        MONITORING_FILES.serviceDashboard,
        'dashboards/provisioning/dashboards/pipewatch.yml',
        'infra/monitoring/generated/alertmanager.yml',
        'infra/prometheus/tests/pipewatch-scenarios-1.test.yml',
        'infra/prometheus/tests/pipewatch-scenarios-2.test.yml',
        'dashboards/provisioning/datasources/prometheus.yml',
        'infra/monitoring/generated/cloud-alerts.json',
        'infra/prometheus/prometheus.yml',
        'infra/prometheus/rules/pipewatch-alerts.yml',
        'infra/prometheus/rules/pipewatch-recording.yml',
        'infra/prometheus/tests/pipewatch-alerts.test.yml',
        'infra/prometheus/tests/pipewatch-slo-slow-burn.test.yml',
      ].sort(),
    );
  });

  test('prometheus.yml scrapes pipewatch:8000/metrics as job pipewatch and itself, <= 15 s, and loads the mounted rules', () => {
    const config = Bun.YAML.parse(files['infra/prometheus/prometheus.yml']!) as any;
    expect(config.rule_files).toEqual(['/etc/prometheus/rules/*.yml']);
    const jobs = Object.fromEntries(config.scrape_configs.map((j: any) => [j.job_name, j]));
    expect(jobs.pipewatch.static_configs[0].targets).toEqual(['pipewatch:8000']);
    expect(jobs.pipewatch.metrics_path).toBe('/metrics');
    expect(jobs.prometheus).toBeDefined();
    expect(Number.parseInt(config.global.scrape_interval, 10)).toBeLessThanOrEqual(15);
  });

  test('Grafana provisioning: datasource uid prometheus at http://prometheus:9090, provider reads /var/lib/grafana/dashboards', () => {
    const ds = (Bun.YAML.parse(files['dashboards/provisioning/datasources/prometheus.yml']!) as any).datasources[0];
    expect(ds).toMatchObject({ uid: 'prometheus', type: 'prometheus', url: 'http://prometheus:9090' });
    const provider = (Bun.YAML.parse(files['dashboards/provisioning/dashboards/pipewatch.yml']!) as any).providers[0];
    expect(provider.options.path).toBe('/var/lib/grafana/dashboards');
  });

  test('Cloud Monitoring alerts: same alerts as the rule file, documented shape, no recording rule left in the PromQL', () => {
    const cloud = JSON.parse(files[CLOUD_ALERTS]!) as Array<Record<string, unknown>>;
    const ruleAlerts = (Bun.YAML.parse(files[RULE_FILES.alerts]!) as any).groups.flatMap((g: any) => g.rules.map((r: any) => r.alert));
    expect(cloud.map((a) => a.name)).toEqual(ruleAlerts);
    for (const alert of cloud) {
      expect(Object.keys(alert).sort()).toEqual(['description', 'displayName', 'for', 'name', 'promql', 'runbook', 'severity', 'summary']);
      expect(Number.isInteger(alert.for)).toBe(true);
      expect(alert.promql as string).not.toMatch(RECORDED_NAME);
    }
    // The rule files do use the recorded names (that is what recording rules are for).
    expect(files[RULE_FILES.alerts]).toMatch(RECORDED_NAME);
  });

  test('one source: a changed SLO target changes the rules, the alerts, the Cloud alerts and the dashboard lines together', () => {
    const stricter: MonitoringConfig = structuredClone(monitoringConfig);
    stricter.slo.availability.target = 0.999; // budget 0.001: fast burn 14.4x => 0.0144
    const changed = {
      ...dashboardFiles(stricter),
      ...monitoringFiles(stricter, REPO_ROOT, JSON.parse(dashboardFiles(stricter)[MONITORING_FILES.serviceDashboard]!)),
    };
    expect(changed[RULE_FILES.recording]).toContain('/ 0.001');
    expect(changed[RULE_FILES.alerts]).toContain('> 0.0144');
    expect(files[RULE_FILES.alerts]).not.toContain('> 0.0144');
    expect(changed[CLOUD_ALERTS]).toContain('> 0.0144');
    const dashboard = JSON.parse(changed[MONITORING_FILES.serviceDashboard]!);
    const ratioPanel = dashboard.panels.find((p: any) => p.title === '5xx error ratio vs SLO');
    expect(ratioPanel.fieldConfig.defaults.thresholds.steps.map((s: any) => s.value)).toContain(0.001);
    expect(changed['README.md']).toContain('99.9% of requests');
  });

  test('the config is validated: ratios, latency threshold on a bucket bound, real-time scrape interval', () => {
    const bad: MonitoringConfig = structuredClone(monitoringConfig);
    bad.slo.availability.target = 99.5;
    bad.slo.latency.thresholdSeconds = 0.3;
    bad.scrapeIntervalSeconds = 60;
    expect(() => validateConfig(bad, HTTP_DURATION_BUCKETS)).toThrow(/availability.target must be a ratio[\s\S]*0.3 is not a bucket bound[\s\S]*at most 15/);
    expect(() => validateConfig(monitoringConfig, HTTP_DURATION_BUCKETS)).not.toThrow();
  });

  test('every alert has a runbook section in the README, linked from the alert', () => {
    const readme = read('README.md');
    for (const alert of alertRules(monitoringConfig, recordingRules(monitoringConfig))) {
      expect(readme).toContain(`<a id="runbook-${alert.alert.toLowerCase()}"></a>`);
      expect(alert.runbook.diagnose.length).toBeGreaterThan(0);
      expect(alert.runbook.mitigate.length).toBeGreaterThan(0);
    }
  });

  test('no import cycle: infra/monitoring never imports dashboards/ (dashboards render themselves from the monitoring source)', () => {
    const glob = new Bun.Glob('infra/monitoring/**/*.ts');
    const offenders = [...glob.scanSync({ cwd: REPO_ROOT })].filter((path) => /from '(\.\.\/)+dashboards\//.test(read(path)));
    expect(offenders).toEqual([]);
  });
});
