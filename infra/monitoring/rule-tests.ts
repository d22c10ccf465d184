import { durationSeconds, type Duration, type MonitoringConfig } from './config';
import type { AlertRule } from './alerts';
import { runbookUrl } from './alerts';
import { leValue } from './promql';
import { round } from './format';

/**
 * promtool unit tests (https://prometheus.io/docs/prometheus/latest/configuration/unit_testing_rules/)
 * for every alert: one scenario where it must fire and one where it must stay quiet. The input
 * series are derived from the same config as the rules (e.g. an error ratio of 3x the threshold
 * vs a third of it), so changing a threshold keeps the tests meaningful instead of breaking them.
 */

export interface PromtoolTestCase {
  name: string;
  interval: string;
  input_series: Array<{ series: string; values: string }>;
  alert_rule_test: Array<{
    eval_time: string;
    alertname: string;
    exp_alerts: Array<{ exp_labels: Record<string, string>; exp_annotations: Record<string, string> }>;
  }>;
}

const INSTANCE = 'pipewatch:8000';
const minutes = (d: Duration) => Math.ceil(durationSeconds(d) / 60);

function labelsText(name: string, labels: Record<string, string>): string {
  return `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',')}}`;
}

/** A counter growing by `perMinute` each minute for `count` minutes (promtool's `a+bxN` notation). */
function counter(perMinute: number, count: number): string {
  return `0+${round(perMinute)}x${count}`;
}

/** A gauge at `value` for `count` minutes. */
function constant(value: number, count: number): string {
  return `${round(value)}x${count}`;
}

export function promtoolTests(config: MonitoringConfig, alerts: AlertRule[], httpBuckets: readonly number[]): PromtoolTestCase[] {
  const job = config.selector.job;
  const base = { job, instance: INSTANCE };
  const route = config.sliRoutes[0]!;
  const a = config.alerts;
  const byName = new Map(alerts.map((alert) => [alert.alert, alert]));

  const expected = (alertname: string, labels: Record<string, string>) => {
    const alert = byName.get(alertname);
    if (!alert) throw new Error(`no alert ${alertname}`);
    return {
      exp_labels: { ...labels, severity: alert.severity, ...alert.labels },
      exp_annotations: { summary: alert.summary, description: alert.description, runbook_url: runbookUrl(config, alertname) },
    };
  };

  /** HTTP requests on an SLI route: `total` per sample interval, of which `errors` are 503. */
  const httpTraffic = (total: number, errors: number, count: number) => [
    { series: labelsText('http_requests_total', { ...base, method: 'POST', route, status: '202' }), values: counter(total - errors, count) },
    { series: labelsText('http_requests_total', { ...base, method: 'POST', route, status: '503' }), values: counter(errors, count) },
  ];

  /** A duration histogram of `perMinute` requests, `slow` of them in the bucket just above `aboveSeconds`, the rest in the first bucket. */
  const durations = (perMinute: number, slow: number, aboveSeconds: number, count: number) => {
    const lower = httpBuckets.find((b) => b >= aboveSeconds);
    const upper = httpBuckets.find((b) => b > aboveSeconds && lower !== undefined && b > lower);
    if (lower === undefined || upper === undefined) throw new Error(`no histogram bucket above ${aboveSeconds} s to put slow requests in`);
    const labels = { ...base, method: 'POST', route, status: '202' };
    const bounds = [...httpBuckets, Number.POSITIVE_INFINITY];
    return [
      ...bounds.map((le) => ({
        series: labelsText('http_request_duration_seconds_bucket', { ...labels, le: leValue(le) }),
        values: counter(perMinute - slow + (le >= upper ? slow : 0), count),
      })),
      { series: labelsText('http_request_duration_seconds_count', labels), values: counter(perMinute, count) },
    ];
  };

  const twoCases = (
    alertname: string,
    evalMinutes: number,
    firing: { input: PromtoolTestCase['input_series']; labels: Record<string, string> },
    quiet: PromtoolTestCase['input_series'],
    interval = '1m',
  ): PromtoolTestCase[] => [
    {
      name: `${alertname} fires`,
      interval,
      input_series: firing.input,
      alert_rule_test: [{ eval_time: `${evalMinutes}m`, alertname, exp_alerts: [expected(alertname, firing.labels)] }],
    },
    { name: `${alertname} stays quiet`, interval, input_series: quiet, alert_rule_test: [{ eval_time: `${evalMinutes}m`, alertname, exp_alerts: [] }] },
  ];

  const rateMinutes = minutes(config.rateWindow);
  const settle = (forDuration: Duration, window = rateMinutes) => window + minutes(forDuration) + 5;
  const tests: PromtoolTestCase[] = [];

  {
    const t = settle(a.targetDown.for, 0);
    tests.push(
      ...twoCases('PipewatchTargetDown', t, { input: [{ series: labelsText('up', base), values: `1x2 0x${t}` }], labels: base }, [
        { series: labelsText('up', base), values: `1x${t + 2}` },
      ]),
    );
  }
  {
    const t = settle(a.targetMissing.for, 0);
    tests.push(
      ...twoCases(
        'PipewatchTargetMissing',
        t,
        { input: [{ series: labelsText('up', { job: 'prometheus', instance: 'localhost:9090' }), values: `1x${t + 2}` }], labels: { job } },
        [{ series: labelsText('up', base), values: `1x${t + 2}` }],
      ),
    );
  }
  {
    const t = settle(a.httpErrorRatio.for);
    tests.push(
      ...twoCases(
        'PipewatchHighErrorRatio',
        t,
        { input: httpTraffic(600, 600 * Math.min(0.5, a.httpErrorRatio.threshold * 3), t + 2), labels: { job } },
        httpTraffic(600, (600 * a.httpErrorRatio.threshold) / 3, t + 2),
      ),
    );
  }
  {
    const t = settle(a.latencyP99.for);
    tests.push(
      ...twoCases(
        'PipewatchHighLatencyP99',
        t,
        { input: durations(600, 600, a.latencyP99.thresholdSeconds, t + 2), labels: { job, route, quantile: '0.99' } },
        durations(600, 0, a.latencyP99.thresholdSeconds, t + 2),
      ),
    );
  }
  {
    const t = settle(a.processingFailureRatio.for);
    const processing = (ratio: number) => [
      { series: labelsText('app_processing_seconds_count', base), values: counter(600, t + 2) },
      { series: labelsText('app_errors_total', base), values: counter(600 * ratio, t + 2) },
    ];
    tests.push(
      ...twoCases(
        'PipewatchProcessingFailureRatioHigh',
        t,
        { input: processing(Math.min(0.9, a.processingFailureRatio.threshold * 2)), labels: { job } },
        processing(a.processingFailureRatio.threshold / 2),
      ),
    );
  }
  {
    const t = settle(a.backlogGrowing.for, minutes(a.backlogGrowing.window));
    const backlog = (start: number, perMinute: number) => [
      { series: labelsText('pipewatch_queue_jobs', { ...base, state: 'queued' }), values: `${start}+${perMinute}x${t + 2}` },
      { series: labelsText('pipewatch_queue_jobs', { ...base, state: 'processing' }), values: constant(8, t + 2) },
    ];
    // Quiet: just as large, but flat (workers keep up with a big steady backlog).
    tests.push(
      ...twoCases(
        'PipewatchBacklogGrowing',
        t,
        { input: backlog(a.backlogGrowing.minJobs, Math.ceil(a.backlogGrowing.minJobs / 100)), labels: { job } },
        backlog(a.backlogGrowing.minJobs * 2, 0),
      ),
    );
  }
  {
    const t = settle(a.queueNearCapacity.for, 0);
    const queue = (utilisation: number) => [
      { series: labelsText('pipewatch_queue_jobs', { ...base, state: 'queued' }), values: constant(10_000 * utilisation, t + 2) },
      { series: labelsText('pipewatch_queue_jobs', { ...base, state: 'processing' }), values: constant(0, t + 2) },
      { series: labelsText('pipewatch_queue_capacity_jobs', base), values: constant(10_000, t + 2) },
    ];
    tests.push(
      ...twoCases(
        'PipewatchQueueNearCapacity',
        t,
        { input: queue(Math.min(1, (a.queueNearCapacity.utilisation + 1) / 2)), labels: { job } },
        queue(a.queueNearCapacity.utilisation / 2),
      ),
    );
  }
  {
    const t = settle(a.oldestJobAge.for, Math.ceil(a.oldestJobAge.thresholdSeconds / 60));
    tests.push(
      ...twoCases(
        'PipewatchOldestJobTooOld',
        t,
        { input: [{ series: labelsText('pipewatch_queue_oldest_job_age_seconds', base), values: `0+60x${t + 2}` }], labels: { job } },
        // Quiet: busy but moving, the oldest job is always a few seconds old.
        [{ series: labelsText('pipewatch_queue_oldest_job_age_seconds', base), values: constant(Math.min(5, a.oldestJobAge.thresholdSeconds / 10), t + 2) }],
      ),
    );
  }
  {
    const t = settle(a.deadLettered.for, 0);
    const outcomes = (failedAfter: number) => [
      { series: labelsText('pipewatch_job_outcomes_total', { ...base, outcome: 'succeeded' }), values: counter(100, t + 2) },
      { series: labelsText('pipewatch_job_outcomes_total', { ...base, outcome: 'failed' }), values: failedAfter ? `0x${t - 3} 1x5` : `0x${t + 2}` },
    ];
    tests.push(...twoCases('PipewatchJobsDeadLettered', t, { input: outcomes(1), labels: { job } }, outcomes(0)));
  }

  // Burn-rate alerts: burn just above the policy's lowest factor (so the faster policy's windows
  // are not needed to fire it) vs a burn well within budget.
  for (const [kind, budget] of [
    ['availability', 1 - config.slo.availability.target],
    ['latency', 1 - config.slo.latency.target],
  ] as const) {
    for (const speed of ['fast', 'slow'] as const) {
      const policy = config.slo.burnRate[speed];
      const window = [...policy.windows].sort((x, y) => x.factor - y.factor).at(-1)!; // the shortest-long-window pair burns fastest
      const fastest = Math.max(...config.slo.burnRate.fast.windows.map((w) => w.factor));
      const factor = speed === 'fast' ? window.factor * 1.5 : (window.factor + Math.min(...config.slo.burnRate.fast.windows.map((w) => w.factor))) / 2;
      const ratio = Math.min(0.9, factor * budget, fastest * budget * 2);
      // Windows of days are sampled every SLOW_STEP_MINUTES (see slowTests), or promtool takes a minute.
      const step = speed === 'slow' ? SLOW_STEP_MINUTES : 1;
      const t = Math.ceil((minutes(window.long) + minutes(policy.for) + 10) / step) * step;
      const alertname = `Pipewatch${kind === 'availability' ? 'Availability' : 'Latency'}BudgetBurn${speed === 'fast' ? 'Fast' : 'Slow'}`;
      const samples = t / step + 2;
      const input = (r: number) =>
        kind === 'availability' ? httpTraffic(1000, 1000 * r, samples) : durations(1000, 1000 * r, config.slo.latency.thresholdSeconds, samples);
      tests.push(...twoCases(alertname, t, { input: input(ratio), labels: { job } }, input(budget / 2), `${step}m`));
    }
  }
  return tests;
}

/** Sample and evaluation step of the day-long slow-burn scenarios. */
export const SLOW_STEP_MINUTES = 5;

/** Tests whose input is sampled coarsely; they go into a file with a matching evaluation_interval. */
export function isCoarse(test: PromtoolTestCase): boolean {
  return test.interval !== '1m';
}

/** Alert names a list of promtool tests covers, by expectation. */
export function coverage(tests: PromtoolTestCase[]): { fires: Set<string>; quiet: Set<string> } {
  const fires = new Set<string>();
  const quiet = new Set<string>();
  for (const test of tests) {
    for (const check of test.alert_rule_test) (check.exp_alerts.length ? fires : quiet).add(check.alertname);
  }
  return { fires, quiet };
}
