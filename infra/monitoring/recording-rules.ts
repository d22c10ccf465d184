import { sloWindows, type Duration, type MonitoringConfig } from './config';
import { round } from './format';
import { leValue, rateRatioOrZero, selectors, type RecordingRule } from './promql';

/**
 * Recording rules for the golden signals and the SLOs, named `level:metric:operations`
 * (https://prometheus.io/docs/practices/rules/). Aggregated to `job` (and `route` where a
 * route's view matters), so they stay cheap and read the same for one or many instances.
 *
 * Queue gauges are global to a queue (label `queue`): on a shared queue only the leader exports
 * them, but during a leader hand-over two instances may both do so for a moment. So every rule
 * first takes `max by (queue, ...)` (one value per queue) and only then sums across queues: right
 * with one instance, several on one shared queue, and several sqlite instances with their own queue.
 */

export const QUANTILES = [0.5, 0.95, 0.99] as const;

export function recordingRules(config: MonitoringConfig) {
  const s = selectors(config);
  const w = config.rateWindow;
  const rule = (record: string, help: string, build: RecordingRule['build'], labels?: Record<string, string>): RecordingRule => ({
    record,
    help,
    build,
    ...(labels ? { labels } : {}),
  });

  // --- HTTP: rate, errors, duration (RED) ---
  const requestRate = rule(
    `job:http_requests:rate${w}`,
    'HTTP requests per second, all routes.',
    () => `sum by (job) (rate(http_requests_total${s.of()}[${w}]))`,
  );
  const requestRateByRoute = rule(
    `job_route_status:http_requests:rate${w}`,
    'HTTP requests per second by route template and status.',
    () => `sum by (job, route, status) (rate(http_requests_total${s.of()}[${w}]))`,
  );
  const errorRatio = rule(`job:http_requests_errors:ratio_rate${w}`, 'Share of SLI-route requests answered with a 5xx.', () =>
    rateRatioOrZero('job', `http_requests_total{${s.sli},status=~"5.."}`, `http_requests_total{${s.sli}}`, w),
  );
  const latencyBuckets = rule(
    `job_route_le:http_request_duration_seconds_bucket:rate${w}`,
    'Per-bucket rate of the HTTP duration histogram on SLI routes (input of the quantiles).',
    () => `sum by (job, route, le) (rate(http_request_duration_seconds_bucket{${s.sli}}[${w}]))`,
  );
  const latencyQuantiles = QUANTILES.map((q) =>
    rule(
      `job_route_quantile:http_request_duration_seconds:histogram_quantile`,
      `HTTP duration quantiles by SLI route (label \`quantile\`), over ${w}.`,
      (ref) => `histogram_quantile(${q}, ${ref(latencyBuckets)})`,
      { quantile: String(q) },
    ),
  );

  // --- Processing: throughput, failures, duration ---
  const attemptRate = rule(
    `job:app_processing_attempts:rate${w}`,
    'Processing attempts finished per second (successful or not).',
    () => `sum by (job) (rate(app_processing_seconds_count${s.of()}[${w}]))`,
  );
  const processingErrorRate = rule(
    `job:app_errors:rate${w}`,
    "Failed processing attempts per second (the seed's error counter).",
    () => `sum by (job) (rate(app_errors_total${s.of()}[${w}]))`,
  );
  const processingFailureRatio = rule(
    `job:app_processing_failures:ratio_rate${w}`,
    'Share of processing attempts that failed; near FAILURE_RATE when healthy.',
    (ref) => `${ref(processingErrorRate)} / ${ref(attemptRate)}`,
  );
  const processingMean = rule(
    `job:app_processing_seconds:mean${w}`,
    "Average time of one processing attempt (from rates, as the seed's panel).",
    () => `sum by (job) (rate(app_processing_seconds_sum${s.of()}[${w}])) / sum by (job) (rate(app_processing_seconds_count${s.of()}[${w}]))`,
  );
  const processingQuantiles = QUANTILES.map((q) =>
    rule(
      `job_quantile:app_processing_seconds:histogram_quantile`,
      `Processing-attempt duration quantiles (label \`quantile\`), over ${w}.`,
      () => `histogram_quantile(${q}, sum by (job, le) (rate(app_processing_seconds_bucket${s.of()}[${w}])))`,
      { quantile: String(q) },
    ),
  );
  const outcomes = rule(
    `job_outcome:pipewatch_job_outcomes:rate${w}`,
    'Finished attempts per second by outcome (succeeded, retried, failed = dead-lettered).',
    () => `sum by (job, outcome) (rate(pipewatch_job_outcomes_total${s.of()}[${w}]))`,
  );
  const enqueued = rule(
    `job:pipewatch_jobs_enqueued:rate${w}`,
    'Jobs durably accepted per second.',
    () => `sum by (job) (rate(pipewatch_jobs_enqueued_total${s.of()}[${w}]))`,
  );

  // --- Queue: backlog, saturation, age ---
  const backlog = rule(
    'job:pipewatch_queue_backlog_jobs:sum',
    'Unfinished jobs (queued + processing), each queue counted once.',
    () => `sum by (job) (max by (job, queue, state) (pipewatch_queue_jobs${s.of('state=~"queued|processing"')}))`,
  );
  const utilisation = rule(
    'job:pipewatch_queue_utilisation:ratio',
    'Backlog as a share of QUEUE_CAPACITY (at 1, submissions get 503), each queue counted once.',
    (ref) => `${ref(backlog)} / sum by (job) (max by (job, queue) (pipewatch_queue_capacity_jobs${s.of()}))`,
  );
  const oldestAge = rule(
    'job:pipewatch_queue_oldest_job_age_seconds:max',
    'Age of the oldest unfinished job of any queue.',
    () => `max by (job) (pipewatch_queue_oldest_job_age_seconds${s.of()})`,
  );

  // --- SLOs: error ratios over every burn-rate window, budget remaining over the period ---
  const latencyThreshold = leValue(config.slo.latency.thresholdSeconds);
  const availabilityErrors = new Map<Duration, RecordingRule>();
  const latencySlow = new Map<Duration, RecordingRule>();
  for (const window of sloWindows(config)) {
    availabilityErrors.set(
      window,
      rule(`job:slo_availability_errors:ratio_rate${window}`, `Availability SLI: share of SLI-route requests answered with a 5xx over ${window}.`, () =>
        rateRatioOrZero('job', `http_requests_total{${s.sli},status=~"5.."}`, `http_requests_total{${s.sli}}`, window),
      ),
    );
    latencySlow.set(
      window,
      rule(
        `job:slo_latency_slow:ratio_rate${window}`,
        `Latency SLI: share of non-5xx SLI-route requests slower than ${config.slo.latency.thresholdSeconds} s over ${window}.`,
        () =>
          `1 - sum by (job) (rate(http_request_duration_seconds_bucket{${s.sli},status!~"5..",le="${latencyThreshold}"}[${window}])) / sum by (job) (rate(http_request_duration_seconds_count{${s.sli},status!~"5.."}[${window}]))`,
      ),
    );
  }
  const period = config.slo.period;
  const availabilityBudget = rule(
    'job:slo_availability_error_budget:remaining',
    `Share of the availability error budget left over the last ${period} (1 = untouched, below 0 = SLO missed).`,
    (ref) => `1 - ${ref(availabilityErrors.get(period)!)} / ${round(1 - config.slo.availability.target)}`,
  );
  const latencyBudget = rule(
    'job:slo_latency_error_budget:remaining',
    `Share of the latency error budget left over the last ${period}.`,
    (ref) => `1 - ${ref(latencySlow.get(period)!)} / ${round(1 - config.slo.latency.target)}`,
  );

  return {
    requestRate,
    requestRateByRoute,
    errorRatio,
    latencyBuckets,
    latencyQuantiles,
    attemptRate,
    processingErrorRate,
    processingFailureRatio,
    processingMean,
    processingQuantiles,
    outcomes,
    enqueued,
    backlog,
    utilisation,
    oldestAge,
    availabilityErrors,
    latencySlow,
    availabilityBudget,
    latencyBudget,
    /** Rule groups in evaluation order (a group's rules see the ones before them). */
    groups: [
      { name: 'pipewatch.http.rules', rules: [requestRate, requestRateByRoute, errorRatio, latencyBuckets, ...latencyQuantiles] },
      {
        name: 'pipewatch.processing.rules',
        rules: [attemptRate, processingErrorRate, processingFailureRatio, processingMean, ...processingQuantiles, outcomes, enqueued],
      },
      { name: 'pipewatch.queue.rules', rules: [backlog, utilisation, oldestAge] },
      { name: 'pipewatch.slo.rules', rules: [...availabilityErrors.values(), ...latencySlow.values(), availabilityBudget, latencyBudget] },
    ],
  };
}

export type RecordingRules = ReturnType<typeof recordingRules>;
