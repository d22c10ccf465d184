import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { StackConfigError } from './config';
import type { CloudAlert } from './monitoring/outputs';
import { MONITORING_FILES } from './monitoring/paths';

/** The repository this Pulumi project deploys; monitoring files are read from it at program run time. */
export const REPO_ROOT = resolve(import.meta.dir, '..');

/**
 * Where the monitoring engineer's files live (their one owner is infra/monitoring/paths.ts). The stacks use them as they are, never copies, so a rule
 * or dashboard changed in the repo reaches Prometheus, Grafana and Cloud Monitoring on the next `pulumi up`.
 */
export const MONITORING_PATHS = {
  prometheusConfig: MONITORING_FILES.prometheusConfig,
  rulesDir: MONITORING_FILES.rulesDir,
  dashboardsDir: MONITORING_FILES.dashboardsDir,
  grafanaDatasources: MONITORING_FILES.grafanaDatasources,
  grafanaDashboardProvider: MONITORING_FILES.grafanaDashboardProvider,
  cloudAlerts: MONITORING_FILES.cloudAlerts,
} as const;

export interface RepoFile {
  /** File name (no directory), e.g. `pipewatch.yml`. */
  name: string;
  content: string;
}

export interface PrometheusFiles {
  prometheusConfig: string;
  rules: RepoFile[];
}

export interface GrafanaFiles {
  dashboards: RepoFile[];
  grafanaDatasources: string;
  grafanaDashboardProvider: string;
}

export type LocalMonitoringFiles = PrometheusFiles & GrafanaFiles;

function readRepoFile(root: string, path: string, usedFor: string): string {
  const full = join(root, path);
  if (!existsSync(full)) throw new StackConfigError(`${path} is missing: ${usedFor}`);
  return readFileSync(full, 'utf8');
}

function readRepoDir(root: string, dir: string, extension: string, usedFor: string): RepoFile[] {
  const full = join(root, dir);
  if (!existsSync(full)) throw new StackConfigError(`${dir}/ is missing: ${usedFor}`);
  const names = readdirSync(full, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(extension))
    .map((entry) => entry.name)
    .sort();
  if (names.length === 0) throw new StackConfigError(`${dir}/ has no *${extension} file: ${usedFor}`);
  return names.map((name) => ({ name, content: readFileSync(join(full, name), 'utf8') }));
}

/** What the local stack uploads into the Prometheus container. */
export function readPrometheusFiles(root = REPO_ROOT): PrometheusFiles {
  return {
    prometheusConfig: readRepoFile(root, MONITORING_PATHS.prometheusConfig, 'the Prometheus container is configured from it'),
    rules: readRepoDir(root, MONITORING_PATHS.rulesDir, '.yml', 'Prometheus loads its alert rules from there'),
  };
}

/** What the local stack uploads into the Grafana container. */
export function readGrafanaFiles(root = REPO_ROOT): GrafanaFiles {
  return {
    dashboards: readRepoDir(root, MONITORING_PATHS.dashboardsDir, '.json', 'Grafana provisions its dashboards from there'),
    grafanaDatasources: readRepoFile(root, MONITORING_PATHS.grafanaDatasources, "Grafana's Prometheus datasource is provisioned from it"),
    grafanaDashboardProvider: readRepoFile(root, MONITORING_PATHS.grafanaDashboardProvider, 'Grafana finds the dashboards through it'),
  };
}

export function readLocalMonitoringFiles(root = REPO_ROOT): LocalMonitoringFiles {
  return { ...readPrometheusFiles(root), ...readGrafanaFiles(root) };
}

/** One alert rule as the monitoring source emits it for Cloud Monitoring (PromQL over Managed Prometheus). */
export type { CloudAlert };

const STRING_FIELDS = ['name', 'displayName', 'severity', 'promql', 'summary', 'description', 'runbook'] as const;

/** The alert policies of the GCP stack, checked for the documented shape. */
export function readCloudAlerts(root = REPO_ROOT): CloudAlert[] {
  const path = MONITORING_PATHS.cloudAlerts;
  const text = readRepoFile(root, path, 'the Cloud Monitoring alert policies are made from it');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new StackConfigError(`${path} is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0) throw new StackConfigError(`${path} must be a non-empty JSON array of alerts`);
  const names = new Set<string>();
  return parsed.map((item: unknown, index) => {
    const alert = item as Record<string, unknown>;
    const where = `${path}[${index}]`;
    for (const field of STRING_FIELDS) {
      if (typeof alert?.[field] !== 'string' || (alert[field] as string).trim() === '') {
        throw new StackConfigError(`${where}.${field} must be a non-empty string`);
      }
    }
    if (typeof alert.for !== 'number' || !Number.isInteger(alert.for) || alert.for < 0) {
      throw new StackConfigError(`${where}.for must be a whole number of seconds`);
    }
    if (names.has(alert.name as string)) throw new StackConfigError(`${where}.name ${JSON.stringify(alert.name)} appears twice`);
    names.add(alert.name as string);
    return alert as unknown as CloudAlert;
  });
}
