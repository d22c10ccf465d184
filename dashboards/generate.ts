import { resolve } from 'node:path';
import { monitoringConfig, type MonitoringConfig } from '../infra/monitoring/config';
import { writeFiles, yamlFile } from '../infra/monitoring/format';
import { GRAFANA_DASHBOARDS_PATH, MONITORING_FILES } from '../infra/monitoring/paths';
import { serviceDashboard } from './src/service-dashboard';

/**
 * The dashboards render themselves from the monitoring source (dashboards depend on
 * infra/monitoring, never the reverse): the service dashboard JSON and Grafana's provisioning.
 * `bun run generate:monitoring` runs this before infra/monitoring/generate.ts, whose README
 * section lists the panels of the committed JSON.
 */

export const REPO_ROOT = resolve(import.meta.dir, '..');

/** The dashboard as Grafana provisions it, with stable panel ids. */
export function dashboardJson(config: MonitoringConfig) {
  const dashboard = serviceDashboard(config) as ReturnType<typeof serviceDashboard> & { panels: Array<{ id?: number }> };
  for (const [index, panel] of dashboard.panels.entries()) panel.id = index + 1;
  return dashboard;
}

export function grafanaProvisioning(config: MonitoringConfig): Record<string, string> {
  return {
    [MONITORING_FILES.grafanaDatasources]: yamlFile({
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
    [MONITORING_FILES.grafanaDashboardProvider]: yamlFile({
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

/** Every dashboard file (path relative to the repo => content). */
export function dashboardFiles(config: MonitoringConfig = monitoringConfig): Record<string, string> {
  return {
    [MONITORING_FILES.serviceDashboard]: `${JSON.stringify(dashboardJson(config), null, 2)}\n`,
    ...grafanaProvisioning(config),
  };
}

if (import.meta.main) writeFiles(REPO_ROOT, dashboardFiles());
