import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { serviceDashboard, SERVICE_DASHBOARD_UID } from '../../dashboards/src/service-dashboard';
import { HTTP_DURATION_BUCKETS } from '../../src/metrics';
import { alertRules } from './alerts';
import { monitoringConfig, validateConfig, type MonitoringConfig } from './config';
import { GENERATED_HEADER, prometheusFiles } from './outputs';
import { readmeSection, withReadmeSection } from './readme';
import { recordingRules } from './recording-rules';

/**
 * `bun run generate:monitoring`: renders every monitoring artefact from infra/monitoring/config.ts
 * and dashboards/src/, and rewrites the README's monitoring section. The test suite calls
 * `monitoringFiles()` in memory and compares with what is committed.
 */

export const REPO_ROOT = resolve(import.meta.dir, '../..');
export const DASHBOARD_FILE = `dashboards/${SERVICE_DASHBOARD_UID}.json`;
export const GRAFANA_DATASOURCES = 'dashboards/provisioning/datasources/prometheus.yml';
export const GRAFANA_DASHBOARD_PROVIDER = 'dashboards/provisioning/dashboards/pipewatch.yml';
/** Optional picture taken by the end-to-end test from real data; the README shows it when present. */
export const SCREENSHOT = 'dashboards/screenshots/prometheus-failure-ratio.png';
/** Where the stacks mount dashboards/*.json inside the Grafana container. */
export const GRAFANA_DASHBOARDS_PATH = '/var/lib/grafana/dashboards';

const yaml = (value: unknown) => GENERATED_HEADER + Bun.YAML.stringify(value, null, 2) + '\n';

/** The dashboard as Grafana provisions it, with stable panel ids. */
export function dashboardJson(config: MonitoringConfig) {
  const dashboard = serviceDashboard(config) as ReturnType<typeof serviceDashboard> & { panels: Array<{ id?: number }> };
  dashboard.panels.forEach((panel, index) => (panel.id = index + 1));
  return dashboard;
}

export function grafanaProvisioning(config: MonitoringConfig): Record<string, string> {
  return {
    [GRAFANA_DATASOURCES]: yaml({
      apiVersion: 1,
      datasources: [
        {
          name: 'Prometheus',
          uid: 'prometheus',
          type: 'prometheus',
          access: 'proxy',
          url: 'http://prometheus:9090',
          isDefault: true,
          editable: false,
          // $__rate_interval is derived from this: it must match the real scrape interval.
          jsonData: { timeInterval: `${config.scrapeIntervalSeconds}s`, httpMethod: 'POST' },
        },
      ],
    }),
    [GRAFANA_DASHBOARD_PROVIDER]: yaml({
      apiVersion: 1,
      providers: [
        {
          name: 'pipewatch',
          folder: 'pipewatch',
          type: 'file',
          disableDeletion: true,
          allowUiUpdates: false,
          updateIntervalSeconds: 30,
          options: { path: GRAFANA_DASHBOARDS_PATH, foldersFromFilesStructure: false },
        },
      ],
    }),
  };
}

/** Every generated file (path relative to the repo => content), README.md included. */
export function monitoringFiles(config: MonitoringConfig = monitoringConfig, root = REPO_ROOT): Record<string, string> {
  validateConfig(config, HTTP_DURATION_BUCKETS);
  const recordings = recordingRules(config);
  const alerts = alertRules(config, recordings);
  const dashboard = dashboardJson(config);
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readmeSection(config, {
    dashboard: dashboard as unknown as Parameters<typeof readmeSection>[1]['dashboard'],
    alerts,
    recordings: recordings.groups.flatMap((g) => g.rules),
    ...(existsSync(join(root, SCREENSHOT)) ? { screenshot: SCREENSHOT } : {}),
  });
  return {
    ...prometheusFiles(config, HTTP_DURATION_BUCKETS),
    [DASHBOARD_FILE]: JSON.stringify(dashboard, null, 2) + '\n',
    ...grafanaProvisioning(config),
    'README.md': withReadmeSection(readme, section),
  };
}

if (import.meta.main) {
  const files = monitoringFiles();
  for (const [path, content] of Object.entries(files)) {
    const full = join(REPO_ROOT, path);
    const before = existsSync(full) ? readFileSync(full, 'utf8') : undefined;
    if (before === content) continue;
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content);
    console.log(`${before === undefined ? 'created' : 'updated'} ${path}`);
  }
  console.log(`${Object.keys(files).length} monitoring files up to date`);
}
