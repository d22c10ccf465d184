import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitoringConfig } from '../infra/monitoring/config';
import { REPO_ROOT } from '../infra/monitoring/generate';
import { MONITORING_FILES } from '../infra/monitoring/paths';
import { SEED_QUERIES } from '../dashboards/src/service-dashboard';

interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type: string; uid: string };
  fieldConfig?: { defaults?: { unit?: string; thresholds?: { steps: Array<{ value: number | null }> } } };
  targets?: Array<{ expr: string; refId: string; datasource?: { uid: string } }>;
}

/** Reads the committed JSON: what Grafana actually provisions. */
const dashboard = JSON.parse(readFileSync(join(REPO_ROOT, MONITORING_FILES.serviceDashboard), 'utf8')) as {
  schemaVersion: number;
  uid: string;
  templating: { list: Array<{ name: string; type: string; query: string; includeAll?: boolean; allValue?: string }> };
  panels: Panel[];
};
const panels = dashboard.panels.filter((p) => p.type !== 'row');
const seed = new Set<string>(Object.values(SEED_QUERIES));
const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

describe('service dashboard (lint)', () => {
  test('schema version for Grafana 11.6 (41), stable uid, unique panel ids', () => {
    expect(dashboard.schemaVersion).toBe(41);
    expect(dashboard.uid).toBe('pipewatch-service');
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
  });

  test('datasource and instance are variables, and every panel and query uses the datasource variable', () => {
    const vars = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]));
    expect(vars.datasource).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(vars.instance).toMatchObject({ type: 'query', includeAll: true, allValue: '.*' });
    expect(vars.instance!.query).toContain(`job="${monitoringConfig.selector.job}"`);
    for (const panel of panels) {
      expect(panel.datasource?.uid, panel.title).toBe('${datasource}');
      for (const target of panel.targets ?? []) expect(target.datasource?.uid, panel.title).toBe('${datasource}');
    }
  });

  test('every panel has a unit, a description and at least one query with a distinct refId', () => {
    for (const panel of panels) {
      expect(panel.fieldConfig?.defaults?.unit, panel.title).toBeTruthy();
      expect(panel.description, panel.title).toBeTruthy();
      const refIds = (panel.targets ?? []).map((t) => t.refId);
      expect(refIds.length, panel.title).toBeGreaterThan(0);
      expect(new Set(refIds).size, panel.title).toBe(refIds.length);
      expect(
        refIds.every((r) => /^[A-Z]$/.test(r)),
        panel.title,
      ).toBe(true);
    }
  });

  test("the seed's three panels are present with their exact queries", () => {
    for (const [title, expr] of [
      ['Requests/s', SEED_QUERIES.requests],
      ['Error rate', SEED_QUERIES.errors],
      ['Average processing time', SEED_QUERIES.processingTime],
    ] as const) {
      expect(
        panels.find((p) => p.title === title)?.targets?.map((t) => t.expr),
        title,
      ).toEqual([expr]);
    }
    expect(SEED_QUERIES).toEqual({
      requests: 'rate(app_requests_total[1m])',
      errors: 'rate(app_errors_total[1m])',
      processingTime: 'rate(app_processing_seconds_sum[1m]) / rate(app_processing_seconds_count[1m])',
    });
  });

  test('rates use $__rate_interval (the seed queries excepted; $__range for "in the time range" totals)', () => {
    for (const { panel, expr } of exprs) {
      if (seed.has(expr)) continue;
      for (const [, range] of expr.matchAll(/\[([^\]]+)\]/g)) expect(['$__rate_interval', '$__range'], `${panel}: ${expr}`).toContain(range!);
    }
  });

  test('averages and ratios come from rates, never from lifetime counters', () => {
    // Every counter or histogram series (_total, _count, _sum, _bucket) is read through rate() or increase().
    for (const { panel, expr } of exprs) {
      for (const match of expr.matchAll(/\b([a-z_:]+_(?:total|count|sum|bucket))\b/g)) {
        const before = expr.slice(0, match.index);
        expect(before, `${panel}: ${match[1]} in ${expr}`).toMatch(/(rate|increase)\($/);
      }
    }
  });

  test('raw-metric queries select the job and the instance variable', () => {
    for (const { panel, expr } of exprs) {
      if (seed.has(expr)) continue;
      for (const [selector] of expr.matchAll(/\{[^}]*\}/g)) expect(selector, `${panel}: ${expr}`).toContain(`job="${monitoringConfig.selector.job}"`);
      if (/\{[^}]*\}/.test(expr) && !/[a-z]+:[a-z_]+:/.test(expr) && !expr.includes('ALERTS') && !expr.startsWith('sum(up')) {
        expect(expr, panel).toContain('instance=~"$instance"');
      }
    }
  });

  test('SLO and alert thresholds from the monitoring config are drawn on the panels', () => {
    const steps = (title: string) => panels.find((p) => p.title === title)?.fieldConfig?.defaults?.thresholds?.steps.map((s) => s.value) ?? [];
    const c = monitoringConfig;
    expect(steps('5xx error ratio vs SLO')).toEqual([null, Number((1 - c.slo.availability.target).toPrecision(12)), c.alerts.httpErrorRatio.threshold]);
    expect(steps('Latency p50 / p95 / p99 (SLI routes)')).toEqual([null, c.slo.latency.thresholdSeconds, c.alerts.latencyP99.thresholdSeconds]);
    expect(steps('Processing failure ratio')).toEqual([null, c.alerts.processingFailureRatio.threshold]);
    expect(steps('Oldest unfinished job age')).toEqual([null, c.alerts.oldestJobAge.thresholdSeconds]);
    expect(steps(`Availability (${c.slo.period})`)).toEqual([null, c.slo.availability.target]);
  });

  test('the dashboard covers the issue: error budget left, alert view, RED, latency quantiles, queue, in-flight, runtime', () => {
    const all = exprs.map((e) => e.expr).join('\n');
    for (const needle of [
      'job:slo_availability_error_budget:remaining',
      'job:slo_latency_error_budget:remaining',
      'ALERTS{',
      'sum by (route, status)',
      'histogram_quantile(0.99',
      'histogram_quantile(0.5',
      'pipewatch_queue_jobs',
      'pipewatch_queue_oldest_job_age_seconds',
      'http_requests_in_flight',
      'pipewatch_jobs_in_flight',
      'process_resident_memory_bytes',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_p99_seconds',
      'pipewatch_job_outcomes_total',
    ]) {
      expect(all).toContain(needle);
    }
    expect(panels.some((p) => p.type === 'table' && p.targets?.[0]?.expr.includes('ALERTS'))).toBe(true);
  });
});
