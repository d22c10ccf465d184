import { alertRules, firesWithinSeconds, runbookUrl, type AlertRule } from './alerts';
import { recordingRules } from './recording-rules';
import type { MonitoringConfig } from './config';
import { humanSeconds } from './format';
import { leValue } from './promql';
import type { PromtoolTestCase } from './rule-tests';

/**
 * Failure and quiet scenarios as promtool tests at the REAL scrape/evaluation interval (15 s),
 * each after hours of healthy history, so the 1 h and 6 h burn-rate windows are full when the
 * failure starts. A scenario is a list of instances, each a timeline of service states; the
 * timeline is integrated into the counters and gauges the real service exports (same names and
 * labels, a 5xx series that only exists from the first 5xx on, a counter reset on restart,
 * staleness when a target stops answering).
 *
 * "Fires within": the alert is firing at failure + its stated time-to-fire minus one evaluation
 * interval (promtool evaluates exactly on the sample; a real evaluation may come up to one
 * interval later), and not at the failure's start. "Stays quiet": no alert of the listed
 * severities fires at any minute of the scenario after its history.
 */

/** What one instance does during one interval of a timeline. Rates are per scrape interval. */
export interface ServiceState {
  /** SLI-route requests per scrape interval, of which `errors` are answered 503 and `slow` take > 1 s. */
  requests: number;
  errors: number;
  slow: number;
  /** Processing attempts finished per interval: succeeded, retried, dead-lettered. */
  succeeded: number;
  retried: number;
  failed: number;
  queued: number;
  processing: number;
  /** Oldest unfinished job age at the start of the segment; `grows` adds the elapsed time. */
  oldestAge: number;
  grows: boolean;
  /** false: the scrape fails (up = 0, every other series goes stale). */
  up: boolean;
  /** Exports the queue's global gauges (single-owner stores always; a shared queue's leader). */
  leader: boolean;
  /** PostgreSQL driver only: pipewatch_db_up; undefined: the series does not exist (sqlite). */
  dbUp?: boolean;
  storageRejections: number;
  drainingRejections: number;
}

export interface Segment {
  seconds: number;
  state: Partial<ServiceState>;
  /** The process restarts at the start of this segment: counters start again from 0. */
  restart?: boolean;
}

export interface InstanceTimeline {
  instance: string;
  queue: string;
  segments: Segment[];
}

export interface Scenario {
  name: string;
  /** Seconds of history before the failure (or quiet event) starts. */
  historySeconds: number;
  instances: InstanceTimeline[];
  /** Alerts that must fire within their stated time-to-fire after the history ends. */
  fires?: string[];
  /** Severities that must stay quiet for `quietSeconds` after the history ends. */
  quiet?: { severities: Array<'critical' | 'warning'>; seconds: number };
  /** Recorded series that must have an exact value at a time after the history. */
  values?: Array<{ expr: string; afterSeconds: number; value: number; labels: Record<string, string> }>;
}

/** A healthy instance at 10 requests/s: no 5xx, all fast, 10% of processing attempts retried. */
export const HEALTHY: ServiceState = {
  requests: 150,
  errors: 0,
  slow: 0,
  succeeded: 150,
  retried: 15,
  failed: 0,
  queued: 4,
  processing: 4,
  oldestAge: 2,
  grows: false,
  up: true,
  leader: true,
  storageRejections: 0,
  drainingRejections: 0,
};

const BUCKETS = [0.05, 0.25, 0.5, 1, 2.5, Number.POSITIVE_INFINITY];
type Sample = number | 'stale' | '_';

/** promtool's expanding notation for a list of samples: runs of constant step as `a+bxn`. */
export function encode(samples: Sample[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < samples.length) {
    const first = samples[i]!;
    if (first === '_' || first === 'stale') {
      let j = i + 1;
      while (j < samples.length && samples[j] === '_' && first === '_') j++;
      parts.push(first === 'stale' ? 'stale' : j - i === 1 ? '_' : `_x${j - i}`);
      i = j;
      continue;
    }
    const next = samples[i + 1];
    if (typeof next !== 'number') {
      parts.push(String(first));
      i++;
      continue;
    }
    const step = next - first;
    let j = i + 1;
    while (j + 1 < samples.length && typeof samples[j + 1] === 'number' && (samples[j + 1] as number) - (samples[j] as number) === step) j++;
    const n = j - i;
    parts.push(step === 0 ? `${first}x${n}` : `${first}${step > 0 ? '+' : '-'}${Math.abs(step)}x${n}`);
    i = j + 1;
  }
  return parts.join(' ');
}

function labelsText(name: string, labels: Record<string, string>): string {
  return `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',')}}`;
}

/** Integrates one instance's timeline into promtool input series. */
export function instanceSeries(config: MonitoringConfig, timeline: InstanceTimeline, totalSamples: number) {
  const scrape = config.scrapeIntervalSeconds;
  const job = config.selector.job;
  const route = config.sliRoutes[0]!;
  const base = { job, instance: timeline.instance };
  const states: Array<{ state: ServiceState; restart: boolean; elapsed: number }> = [];
  for (const segment of timeline.segments) {
    const state = { ...HEALTHY, ...segment.state };
    const count = Math.round(segment.seconds / scrape);
    for (let k = 0; k < count; k++) states.push({ state, restart: !!segment.restart && k === 0, elapsed: k * scrape });
  }
  while (states.length < totalSamples) states.push({ ...states.at(-1)!, restart: false, elapsed: states.at(-1)!.elapsed + scrape });

  const series = new Map<string, Sample[]>();
  const put = (name: string, labels: Record<string, string>, i: number, value: Sample) => {
    const key = labelsText(name, labels);
    if (!series.has(key)) series.set(key, Array<Sample>(totalSamples).fill('_'));
    series.get(key)![i] = value;
  };
  let counters = new Map<string, number>();
  let wasUp = true;
  for (let i = 0; i < totalSamples; i++) {
    const { state, restart, elapsed } = states[i]!;
    put('up', base, i, state.up ? 1 : 0);
    if (restart) counters = new Map();
    if (!state.up) {
      if (wasUp) for (const [key, values] of series) if (!key.startsWith('up{')) values[i] = 'stale';
      wasUp = false;
      continue;
    }
    wasUp = true;
    const add = (name: string, labels: Record<string, string>, increment: number, always = true) => {
      const key = labelsText(name, labels);
      const value = (counters.get(key) ?? 0) + (i === 0 ? 0 : increment);
      counters.set(key, value);
      // Counters with label values that appear on first use (a first 5xx) do not exist before it.
      if (always || value > 0 || series.get(key)?.some((v) => typeof v === 'number')) put(name, labels, i, value);
    };
    const http = { ...base, method: 'POST', route };
    add('http_requests_total', { ...http, status: '202' }, state.requests - state.errors);
    add('http_requests_total', { ...http, status: '503' }, state.errors, false);
    const fine = state.requests - state.errors - state.slow;
    for (const le of BUCKETS)
      add('http_request_duration_seconds_bucket', { ...http, status: '202', le: leValue(le) }, le >= 0.05 ? fine + (le >= 2.5 ? state.slow : 0) : 0);
    add('http_request_duration_seconds_count', { ...http, status: '202' }, fine + state.slow);
    const attempts = state.succeeded + state.retried + state.failed;
    add('app_processing_seconds_count', base, attempts);
    add('app_errors_total', base, state.retried + state.failed);
    for (const outcome of ['succeeded', 'retried', 'failed'] as const) add('pipewatch_job_outcomes_total', { ...base, outcome }, state[outcome]);
    add('pipewatch_jobs_enqueued_total', base, state.requests - state.errors);
    for (const [reason, n] of [
      ['capacity', 0],
      ['draining', state.drainingRejections],
      ['storage', state.storageRejections],
    ] as const)
      add('pipewatch_enqueue_rejections_total', { ...base, reason }, n);
    const queue = { ...base, queue: timeline.queue };
    put('pipewatch_queue_leader', queue, i, state.leader ? 1 : 0);
    if (state.leader) {
      put('pipewatch_queue_jobs', { ...queue, state: 'queued' }, i, state.queued);
      put('pipewatch_queue_jobs', { ...queue, state: 'processing' }, i, state.processing);
      put('pipewatch_queue_capacity_jobs', queue, i, 10_000);
      put('pipewatch_queue_oldest_job_age_seconds', queue, i, state.oldestAge + (state.grows ? elapsed : 0));
    }
    if (state.dbUp !== undefined) put('pipewatch_db_up', base, i, state.dbUp ? 1 : 0);
  }
  return [...series].map(([name, values]) => ({ series: name, values: encode(values) }));
}

/** A promtool test case (rule-tests.ts's shape), with PromQL checks besides the alerts. */
export interface ScenarioTestCase extends PromtoolTestCase {
  promql_expr_test?: Array<{ expr: string; eval_time: string; exp_samples: Array<{ labels: string; value: number }> }>;
}

const seconds = (s: number) => `${s}s`;

/** Labels an alert fires with in these scenarios (everything aggregates to `job`, except per-target/route ones). */
function firingLabels(config: MonitoringConfig, alert: AlertRule, instance: string): Record<string, string> {
  const job = config.selector.job;
  const extra: Record<string, string> =
    alert.alert === 'PipewatchTargetDown' ? { instance } : alert.alert === 'PipewatchHighLatencyP99' ? { route: config.sliRoutes[0]!, quantile: '0.99' } : {};
  return { job, ...extra, severity: alert.severity, ...alert.labels };
}

export function scenarioTests(config: MonitoringConfig, alerts: AlertRule[], scenarios: Scenario[], probe = false): ScenarioTestCase[] {
  const scrape = config.scrapeIntervalSeconds;
  const evaluation = config.evaluationIntervalSeconds;
  const byName = new Map(alerts.map((a) => [a.alert, a]));
  return scenarios.map((scenario) => {
    const t0 = scenario.historySeconds;
    const horizon = Math.max(
      ...(scenario.fires ?? []).map((name) => firesWithinSeconds(config, byName.get(name)!)),
      scenario.quiet?.seconds ?? 0,
      ...(scenario.values ?? []).map((v) => v.afterSeconds),
    );
    const totalSamples = Math.ceil((t0 + horizon) / scrape) + 2;
    const checks: ScenarioTestCase['alert_rule_test'] = [];
    for (const name of scenario.fires ?? []) {
      const alert = byName.get(name);
      if (!alert) throw new Error(`scenario ${scenario.name}: no alert ${name}`);
      const exp = {
        exp_labels: firingLabels(config, alert, scenario.instances[0]!.instance),
        exp_annotations: { summary: alert.summary, description: alert.description, runbook_url: runbookUrl(config, name) },
      };
      // The last healthy sample is at t0 - scrape; the failure starts right after it.
      const start = t0 - scrape;
      const firing = start + firesWithinSeconds(config, alert) - evaluation;
      if (probe) {
        // Measurement mode: expect silence at every evaluation, so promtool lists when it fires.
        for (let at = start; at <= firing + 4 * evaluation; at += evaluation) checks.push({ eval_time: seconds(at), alertname: name, exp_alerts: [] });
        continue;
      }
      checks.push({ eval_time: seconds(start), alertname: name, exp_alerts: [] });
      checks.push({ eval_time: seconds(firing), alertname: name, exp_alerts: [exp] });
    }
    if (scenario.quiet) {
      const quietAlerts = alerts.filter((a) => scenario.quiet!.severities.includes(a.severity));
      for (let at = 0; at <= scenario.quiet.seconds; at += 60) {
        for (const alert of quietAlerts) checks.push({ eval_time: seconds(t0 + at), alertname: alert.alert, exp_alerts: [] });
      }
    }
    return {
      name: scenario.name,
      interval: seconds(scrape),
      input_series: scenario.instances.flatMap((timeline) => instanceSeries(config, timeline, totalSamples)),
      alert_rule_test: checks,
      ...(scenario.values?.length
        ? {
            promql_expr_test: scenario.values.map((v) => ({
              expr: v.expr,
              eval_time: seconds(t0 + v.afterSeconds),
              exp_samples: [{ labels: labelsText(v.expr.replace(/\{.*$/, ''), v.labels), value: v.value }],
            })),
          }
        : {}),
    };
  });
}

/** The scenarios the README's "pages after" column and the goals of issue 14 rest on. */
export function standardScenarios(config: MonitoringConfig): Scenario[] {
  // 6 h of history where a burn-rate alert must be shown to fire no sooner than claimed (fast burn
  // reads 1 h and 6 h windows: without history they would fire at once). 1 h elsewhere: a shorter
  // healthy history only makes a ratio over a long window larger after a blip, so "stays quiet"
  // with 1 h is the stricter claim; and promtool's cost is ~12 s of CPU per 6 h scenario.
  const history = 6 * 3600;
  const short = 3600;
  const minutes = (m: number) => m * 60;
  const one = (segments: Segment[], queue = 'q-sqlite-1'): InstanceTimeline[] => [{ instance: 'pipewatch:8000', queue, segments }];
  const healthy = (seconds: number, state: Partial<ServiceState> = {}): Segment => ({ seconds, state });
  const job = config.selector.job;
  return [
    {
      name: 'total outage of submissions: every POST /submit_data answered 503',
      historySeconds: history,
      instances: one([healthy(history), { seconds: minutes(15), state: { errors: 150 } }]),
      fires: ['PipewatchSubmissionsFailing', 'PipewatchHighErrorRatio', 'PipewatchAvailabilityBudgetBurnFast'],
    },
    {
      name: 'processing stall: 202s continue, nothing is processed',
      historySeconds: short,
      instances: one([healthy(short), { seconds: minutes(15), state: { succeeded: 0, retried: 0, queued: 4, processing: 8, grows: true } }]),
      fires: ['PipewatchProcessingStalled', 'PipewatchOldestJobTooOld'],
    },
    {
      name: 'latency collapse: every request takes over a second',
      historySeconds: history,
      instances: one([healthy(history), { seconds: minutes(15), state: { slow: 150 } }]),
      fires: ['PipewatchHighLatencyP99', 'PipewatchLatencyBudgetBurnFast'],
    },
    {
      name: 'instance loss: the only instance stops answering scrapes',
      historySeconds: short,
      instances: one([healthy(short), { seconds: minutes(10), state: { up: false } }]),
      fires: ['PipewatchTargetDown'],
    },
    {
      name: 'every processing attempt fails (jobs dead-lettered after their attempts)',
      historySeconds: short,
      instances: one([healthy(short), { seconds: minutes(15), state: { succeeded: 0, retried: 140, failed: 25 } }]),
      fires: ['PipewatchJobsDeadLettered', 'PipewatchProcessingFailureRatioHigh'],
    },
    {
      name: "the queue's database is unreachable (PostgreSQL driver, 3 instances on one shared queue)",
      historySeconds: short,
      instances: [0, 1, 2].map((n) => ({
        instance: `pipewatch-${n}:8000`,
        queue: 'q-shared',
        segments: [
          healthy(short, { dbUp: true, leader: n === 0, requests: 50, succeeded: 50, retried: 5 }),
          { seconds: minutes(10), state: { dbUp: false, leader: n === 0, requests: 50, errors: 50, storageRejections: 50, succeeded: 0, retried: 0 } },
        ],
      })),
      fires: ['PipewatchQueueDatabaseUnreachable', 'PipewatchSubmissionsFailing'],
    },
    {
      name: 'instance loss in a fleet: the leader of a shared queue (1 of 3) stops answering, another takes the lease 30 s later',
      historySeconds: short,
      instances: [0, 1, 2].map((n) => ({
        instance: `pipewatch-${n}:8000`,
        queue: 'q-shared',
        segments: [
          healthy(short, { leader: n === 0, dbUp: true, queued: 30, processing: 6 }),
          healthy(30, { leader: false, dbUp: true, queued: 30, processing: 6, up: n !== 0 }),
          healthy(minutes(10), { leader: n === 1, dbUp: true, queued: 30, processing: 6, up: n !== 0 }),
        ],
      })),
      fires: ['PipewatchTargetDown'],
      values: [{ expr: 'job:pipewatch_queue_backlog_jobs:sum', afterSeconds: 120, value: 36, labels: { job } }],
    },
    {
      name: 'quiet: a healthy service',
      historySeconds: short,
      instances: one([healthy(short + minutes(15))]),
      quiet: { severities: ['critical', 'warning'], seconds: minutes(15) },
    },
    {
      name: 'quiet: very low traffic (4 requests a minute, one 503 an hour)',
      historySeconds: short,
      instances: one([
        ...Array.from({ length: 2 }, (_, hour) => [
          healthy(hour === 0 ? minutes(5) : minutes(60) - 15, { requests: 1, succeeded: 1, retried: 0, queued: 0, processing: 0, oldestAge: 0 }),
          healthy(15, { requests: 1, errors: 1, succeeded: 1, retried: 0, queued: 0, processing: 0, oldestAge: 0 }),
        ]).flat(),
        healthy(minutes(30), { requests: 1, succeeded: 1, retried: 0, queued: 0, processing: 0, oldestAge: 0 }),
      ]),
      quiet: { severities: ['critical', 'warning'], seconds: minutes(15) },
    },
    {
      name: 'quiet: a 45 s total outage of submissions, then healthy',
      historySeconds: short,
      instances: one([healthy(short), { seconds: 45, state: { errors: 150 } }, healthy(minutes(15))]),
      quiet: { severities: ['critical', 'warning'], seconds: minutes(15) },
    },
    {
      name: 'quiet: a rolling restart (10 s of 503 draining, one failed scrape, counters from 0)',
      historySeconds: short,
      instances: one([
        healthy(short),
        { seconds: 15, state: { errors: 150, drainingRejections: 150 } },
        { seconds: 15, state: { up: false } },
        { seconds: minutes(15), state: {}, restart: true },
      ]),
      quiet: { severities: ['critical', 'warning'], seconds: minutes(15) },
    },
    {
      name: 'shared queue: 3 instances, one leader exporting the gauges, a hand-over overlap; the backlog is counted once',
      historySeconds: minutes(30),
      instances: [0, 1, 2].map((n) => ({
        instance: `pipewatch-${n}:8000`,
        queue: 'q-shared',
        segments: [
          healthy(minutes(30), { leader: n === 0, dbUp: true, queued: 40, processing: 12 }),
          healthy(minutes(1), { leader: n <= 1, dbUp: true, queued: 40, processing: 12 }),
          healthy(minutes(5), { leader: n === 1, dbUp: true, queued: 40, processing: 12 }),
        ],
      })),
      values: [0, 30, 120].map((after) => ({ expr: `job:pipewatch_queue_backlog_jobs:sum`, afterSeconds: after, value: 52, labels: { job } })),
      quiet: { severities: ['critical'], seconds: minutes(5) },
    },
    {
      name: 'own queues: 3 sqlite instances, each exporting its own queue; the backlog is their sum',
      historySeconds: minutes(30),
      instances: [0, 1, 2].map((n) => ({
        instance: `pipewatch-${n}:8000`,
        queue: `q-sqlite-${n}`,
        segments: [healthy(minutes(35), { queued: 10 * (n + 1), processing: 2 })],
      })),
      values: [
        { expr: 'job:pipewatch_queue_backlog_jobs:sum', afterSeconds: 0, value: 66, labels: { job } },
        { expr: 'job:pipewatch_queue_utilisation:ratio', afterSeconds: 0, value: 66 / 30_000, labels: { job } },
      ],
    },
  ];
}

/** "pages after" per alert, from the scenarios that test it: the failure and the proven bound. */
export function pagesAfter(config: MonitoringConfig, alerts: AlertRule[], scenarios: Scenario[]): Map<string, string> {
  const tested = new Set(scenarios.flatMap((s) => s.fires ?? []));
  return new Map(
    alerts.map((alert) => {
      const bound = humanSeconds(firesWithinSeconds(config, alert));
      return [alert.alert, tested.has(alert.alert) ? `≤ ${bound} after ${alert.timing.failure} (scenario-tested)` : `≤ ${bound} after ${alert.timing.failure}`];
    }),
  );
}

/** Scenarios in `parts` groups of similar promtool cost (history x instances), greedily. */
export function splitByCost(scenarios: Scenario[], parts: number): Scenario[][] {
  const cost = (s: Scenario) => s.historySeconds * s.instances.length;
  const bins = Array.from({ length: parts }, () => ({ cost: 0, items: [] as Scenario[] }));
  for (const scenario of [...scenarios].sort((a, b) => cost(b) - cost(a))) {
    const bin = bins.reduce((min, b) => (b.cost < min.cost ? b : min));
    bin.items.push(scenario);
    bin.cost += cost(scenario);
  }
  return bins.map((b) => b.items);
}

/**
 * The same bound on GCP: Managed Prometheus scraped by the Cloud Run collector every
 * `scrapeSeconds` (stack config `scrapeInterval`, 30 s by default), the policy evaluated every
 * `evaluationSeconds` (60 s in infra/gcp/alerting.ts), recording rules inlined (no lag), and its
 * `duration` = the rule's `for`. Ingestion delay of Managed Prometheus comes on top.
 */
export function cloudFiresWithin(config: MonitoringConfig, alerts: AlertRule[], scrapeSeconds = 30, evaluationSeconds = 60): Map<string, string> {
  const cloud: MonitoringConfig = { ...config, scrapeIntervalSeconds: scrapeSeconds, evaluationIntervalSeconds: evaluationSeconds };
  const names = new Set(alerts.map((a) => a.alert));
  return new Map(
    alertRules(cloud, recordingRules(cloud))
      .filter((a) => names.has(a.alert))
      .map((a) => [a.alert, `≤ ${humanSeconds(firesWithinSeconds(cloud, a, { inlined: true }))}`]),
  );
}
