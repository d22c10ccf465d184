/**
 * The ONE source of pipewatch's monitoring: job selector, SLO targets, alert thresholds, windows.
 * Rules, alerts, promtool unit tests, the Cloud Monitoring alert expressions and the dashboard's
 * threshold lines are all generated from this object (`bun run generate:monitoring`), in the way
 * the monitoring mixins (node-mixin, kubernetes-mixin) derive everything from one `_config`.
 */

/** A Prometheus duration such as `30s`, `5m`, `1h`, `3d`. */
export type Duration = `${number}${'s' | 'm' | 'h' | 'd'}`;

export type Severity = 'critical' | 'warning';

/** One pair of windows of a multi-window, multi-burn-rate alert (SRE workbook, chapter 5). */
export interface BurnRateWindow {
  /** The long window measures how much budget was spent... */
  long: Duration;
  /** ...the short window makes the alert reset soon after the burning stops. */
  short: Duration;
  /** Burn rate: 1 spends the whole budget in exactly one SLO period. */
  factor: number;
}

/** Burn-rate windows that page (fast burn) or open a ticket (slow burn). */
export interface BurnRatePolicy {
  severity: Severity;
  for: Duration;
  windows: BurnRateWindow[];
}

export interface MonitoringConfig {
  /** Label matchers that select pipewatch's scrape job everywhere (rules, alerts, dashboards). */
  selector: { job: string };
  /** Routes whose answers users see: the availability and latency SLIs count only these. */
  sliRoutes: string[];
  /** Window of the golden-signal recording rules and of the non-SLO alerts. */
  rateWindow: Duration;
  /** Where the runbooks live; each alert links `${runbookBaseUrl}#runbook-<alertname lower-case>`. */
  runbookBaseUrl: string;
  slo: {
    /** The compliance period the error budget is counted over. */
    period: Duration;
    /** Share of SLI-route requests answered without a 5xx. */
    availability: { target: number };
    /** Share of non-5xx SLI-route requests answered within `thresholdSeconds` (must be a histogram bucket bound). */
    latency: { target: number; thresholdSeconds: number };
    /** Fast burn pages, slow burn opens a ticket. */
    burnRate: { fast: BurnRatePolicy; slow: BurnRatePolicy };
  };
  /** Thresholds of the symptom alerts; each has its own `for` so a blip does not page. */
  alerts: {
    targetDown: { for: Duration };
    /** Fast symptom page: most submissions fail right now (short window, minimum-traffic guard). */
    submissionsFailing: { threshold: number; window: Duration; minRequestsPerSecond: number; for: Duration };
    /** Fast symptom page: nothing finished processing over `window` while jobs wait (window > RETRY_MAX_MS). */
    processingStalled: { window: Duration; for: Duration };
    /** The queue's storage is unreachable: pipewatch_db_up == 0 or storage rejections above a floor. */
    databaseUnreachable: { window: Duration; storageRejectionsPerSecond: number; for: Duration };
    targetMissing: { for: Duration };
    httpErrorRatio: { threshold: number; for: Duration };
    latencyP99: { thresholdSeconds: number; for: Duration };
    processingFailureRatio: { threshold: number; for: Duration };
    backlogGrowing: { minJobs: number; window: Duration; for: Duration };
    queueNearCapacity: { utilisation: number; for: Duration };
    oldestJobAge: { thresholdSeconds: number; for: Duration };
    deadLettered: { window: Duration; for: Duration };
  };
  /** Scrape interval of the stacks' Prometheus ("real time": at most 15 s). */
  scrapeIntervalSeconds: number;
  evaluationIntervalSeconds: number;
}

export const monitoringConfig: MonitoringConfig = {
  selector: { job: 'pipewatch' },
  sliRoutes: ['/submit_data', '/submissions/:id'],
  rateWindow: '5m',
  runbookBaseUrl: 'README.md',
  slo: {
    period: '30d',
    availability: { target: 0.995 },
    latency: { target: 0.99, thresholdSeconds: 0.25 },
    burnRate: {
      // 2% of a 30-day budget in 1 h, or 5% in 6 h: page.
      fast: {
        severity: 'critical',
        for: '2m',
        windows: [
          { long: '1h', short: '5m', factor: 14.4 },
          { long: '6h', short: '30m', factor: 6 },
        ],
      },
      // 10% in 3 days (or 10% in 1 day at 3x): a ticket for working hours.
      slow: {
        severity: 'warning',
        for: '15m',
        windows: [
          { long: '1d', short: '2h', factor: 3 },
          { long: '3d', short: '6h', factor: 1 },
        ],
      },
    },
  },
  alerts: {
    targetDown: { for: '2m' },
    // >= 75% 5xx over 1 m, held 30 s: a total outage fires 75 s after its first failing scrape,
    // while a blip shorter than a minute never holds 75% for 30 s. 0.5 req/s keeps a service
    // with a few requests a minute (where one 503 is a third of a minute's traffic) out of it.
    submissionsFailing: { threshold: 0.75, window: '1m', minRequestsPerSecond: 0.5, for: '30s' },
    // 2 m without a single finished attempt (succeeded, retried or failed) while work is waiting;
    // longer than RETRY_MAX_MS (30 s default), so a parked retry is due again inside the window.
    processingStalled: { window: '2m', for: '1m' },
    databaseUnreachable: { window: '1m', storageRejectionsPerSecond: 0.05, for: '1m' },
    targetMissing: { for: '5m' },
    httpErrorRatio: { threshold: 0.05, for: '5m' },
    latencyP99: { thresholdSeconds: 0.5, for: '3m' },
    // The seed's simulated pipeline fails 10% of attempts by design; retries absorb that.
    processingFailureRatio: { threshold: 0.25, for: '10m' },
    backlogGrowing: { minJobs: 1000, window: '15m', for: '15m' },
    queueNearCapacity: { utilisation: 0.8, for: '5m' },
    oldestJobAge: { thresholdSeconds: 300, for: '5m' },
    deadLettered: { window: '15m', for: '0s' },
  },
  scrapeIntervalSeconds: 15,
  evaluationIntervalSeconds: 15,
};

/** Seconds in a Prometheus duration (single unit, as this config uses). */
export function durationSeconds(duration: Duration): number {
  const match = /^(\d+(?:\.\d+)?)([smhd])$/.exec(duration);
  if (!match) throw new Error(`not a single-unit duration: ${duration}`);
  const unit = { s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

/** Every SLO window the burn-rate alerts read, shortest first, plus the period itself. */
export function sloWindows(config: MonitoringConfig): Duration[] {
  const { fast, slow } = config.slo.burnRate;
  const all = new Set<Duration>([...fast.windows, ...slow.windows].flatMap((w) => [w.long, w.short]));
  all.add(config.slo.period);
  return [...all].sort((a, b) => durationSeconds(a) - durationSeconds(b));
}

/** Fails early on a config that would generate nonsense (e.g. a target of 99.9 instead of 0.999). */
export function validateConfig(config: MonitoringConfig, histogramBuckets: readonly number[]): void {
  const problems: string[] = [];
  for (const [name, target] of [
    ['availability', config.slo.availability.target],
    ['latency', config.slo.latency.target],
  ] as const) {
    if (!(target > 0 && target < 1)) problems.push(`slo.${name}.target must be a ratio between 0 and 1 (exclusive), got ${target}`);
  }
  if (!histogramBuckets.includes(config.slo.latency.thresholdSeconds)) {
    problems.push(
      `slo.latency.thresholdSeconds=${config.slo.latency.thresholdSeconds} is not a bucket bound of http_request_duration_seconds (${histogramBuckets.join(', ')})`,
    );
  }
  if (config.scrapeIntervalSeconds > 15) problems.push('scrapeIntervalSeconds must be at most 15 for a real-time view');
  if (config.sliRoutes.length === 0) problems.push('sliRoutes must name at least one route');
  if (problems.length) throw new Error(`invalid monitoring config:\n- ${problems.join('\n- ')}`);
}
