import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HTTP_DURATION_BUCKETS } from '../../src/metrics';
import { alertRules } from './alerts';
import { monitoringConfig, validateConfig, type MonitoringConfig } from './config';
import { writeFiles } from './format';
import { prometheusFiles } from './outputs';
import { MONITORING_FILES } from './paths';
import { readmeSection, withReadmeSection, type DashboardJson } from './readme';
import { recordingRules } from './recording-rules';
import { cloudFiresWithin, pagesAfter, standardScenarios } from './scenarios';

/**
 * `bun run generate:monitoring` (after dashboards/generate.ts): renders every monitoring artefact
 * from infra/monitoring/config.ts and rewrites the README's monitoring section, which lists the
 * panels of the committed dashboard JSON (read as data: this folder never imports dashboards/).
 * The test suite calls `monitoringFiles()` in memory and compares with what is committed.
 */

export const REPO_ROOT = resolve(import.meta.dir, '../..');

/** Every generated file (path relative to the repo => content), README.md included. */
export function monitoringFiles(config: MonitoringConfig = monitoringConfig, root = REPO_ROOT, dashboard?: DashboardJson): Record<string, string> {
  validateConfig(config, HTTP_DURATION_BUCKETS);
  const recordings = recordingRules(config);
  const alerts = alertRules(config, recordings);
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readmeSection(config, {
    dashboard: dashboard ?? (JSON.parse(readFileSync(join(root, MONITORING_FILES.serviceDashboard), 'utf8')) as DashboardJson),
    alerts,
    recordings: recordings.groups.flatMap((g) => g.rules),
    pagesAfter: pagesAfter(config, alerts, standardScenarios(config)),
    cloudPagesAfter: cloudFiresWithin(config, alerts),
    ...(existsSync(join(root, MONITORING_FILES.screenshot)) ? { screenshot: MONITORING_FILES.screenshot } : {}),
  });
  return {
    ...prometheusFiles(config, HTTP_DURATION_BUCKETS),
    'README.md': withReadmeSection(readme, section),
  };
}

if (import.meta.main) writeFiles(REPO_ROOT, monitoringFiles());
