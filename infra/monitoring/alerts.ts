import { durationSeconds, type BurnRatePolicy, type Duration, type MonitoringConfig, type Severity } from './config';
import { byName, rateRatioOrZero, selectors, type RecordingRule, type Ref } from './promql';
import { pct, round } from './format';
import type { RecordingRules } from './recording-rules';

/**
 * Alerts an on-call person can act on. Each carries a runbook (rendered into the README and
 * linked from the alert) and is written against `ref`, so the Cloud Monitoring output gets the
 * same expression with the recording rules inlined.
 */

export interface Runbook {
  /** What is happening, in one or two sentences. */
  meaning: string;
  /** Who notices and how badly. */
  impact: string;
  /** What to look at first, in order. */
  diagnose: string[];
  /** What usually fixes it. */
  mitigate: string[];
}

export interface AlertRule {
  alert: string;
  build: (ref: Ref) => string;
  for: Duration;
  severity: Severity;
  /** Extra labels, e.g. which SLO a burn-rate alert guards. */
  labels?: Record<string, string>;
  summary: string;
  description: string;
  runbook: Runbook;
  /** The failure this alert is for, and when its condition holds after that failure starts. */
  timing: {
    /** The failure, as the scenario tests stage it (e.g. "every POST /submit_data answered 503"). */
    failure: string;
    /** Seconds from the first failing scrape until the condition is true (before `for`). */
    holdsAfterSeconds: number;
  };
}

/**
 * Seconds from the first scrape that sees a failure until an alert's condition holds, when the
 * failing share of a `window`-long rate goes from 0 to 1 and must pass `threshold` (`>=` or `>`).
 * A counter series that did not exist before the failure (a first 5xx) only counts from its
 * second sample, hence `newSeries`.
 */
function crossing(config: MonitoringConfig, threshold: number, window: Duration, { strict = true, newSeries = false } = {}): number {
  const scrape = config.scrapeIntervalSeconds;
  const intervals = durationSeconds(window) / scrape;
  const needed = strict ? Math.floor(threshold * intervals) + 1 : Math.ceil(threshold * intervals);
  return (Math.max(1, needed) - 1 + (newSeries ? 1 : 0)) * scrape;
}

/**
 * Worst-case time-to-fire at the configured intervals: the failure starts just after a scrape
 * (one scrape interval until a sample shows it), the condition then holds after `holds` seconds
 * (plus one evaluation per level of recording rules read), must hold for `for`, and the rule may
 * be evaluated up to one evaluation interval later.
 */
export function firesWithinSeconds(config: MonitoringConfig, alert: AlertRule, { inlined = false } = {}): number {
  // Rule groups are evaluated independently, so each level of recording rules an alert reads
  // through may lag one evaluation behind the raw samples (not when inlined, as in Cloud Monitoring).
  const lag = inlined ? 0 : recordedDepth(alert.build) * config.evaluationIntervalSeconds;
  return config.scrapeIntervalSeconds + alert.timing.holdsAfterSeconds + lag + durationSeconds(alert.for) + config.evaluationIntervalSeconds;
}

/** How many levels of recording rules an expression reads through (0: raw series only). */
export function recordedDepth(build: (ref: Ref) => string): number {
  let depth = 0;
  build((rule) => {
    depth = Math.max(depth, 1 + recordedDepth(rule.build));
    return rule.record;
  });
  return depth;
}

export function alertRules(config: MonitoringConfig, r: RecordingRules): AlertRule[] {
  const s = selectors(config);
  const a = config.alerts;
  const job = config.selector.job;
  const slo = config.slo;

  const burnRate = (policy: BurnRatePolicy, series: Map<Duration, RecordingRule>, budget: number) => (ref: Ref) =>
    policy.windows
      .map((w) => `(${ref(series.get(w.long)!)} > ${round(w.factor * budget)} and ${ref(series.get(w.short)!)} > ${round(w.factor * budget)})`)
      .join(' or ');

  const burnText = (policy: BurnRatePolicy, budget: number) =>
    policy.windows.map((w) => `${w.factor}x over ${w.long} and ${w.short} (error ratio above ${pct(w.factor * budget)})`).join(', or ');
  const burnDescription = (what: string, policy: BurnRatePolicy, budget: number) => {
    const periodDays = durationSeconds(slo.period) / 86_400;
    const fastest = Math.max(...policy.windows.map((w) => w.factor));
    return `${what} is burning its ${slo.period} error budget at ${burnText(policy, budget)}. At ${fastest}x the whole budget is gone in ${round(periodDays / fastest)} days.`;
  };

  const availabilityBudget = round(1 - slo.availability.target);
  const latencyBudget = round(1 - slo.latency.target);
  const sloRunbook = (kind: 'availability' | 'latency', fast: boolean): Runbook => ({
    meaning:
      kind === 'availability'
        ? `More ${config.sliRoutes.join(' and ')} requests fail with a 5xx than the ${pct(slo.availability.target)} availability SLO allows, for long enough to matter.`
        : `More ${config.sliRoutes.join(' and ')} requests take longer than ${slo.latency.thresholdSeconds} s than the ${pct(slo.latency.target)} latency SLO allows.`,
    impact: fast
      ? 'Citizens are failing to submit records right now; at this rate the monthly budget is spent within days. Page-worthy.'
      : 'A slow, steady burn: no emergency, but the SLO will be missed this period unless the cause is fixed. Ticket for working hours.',
    diagnose:
      kind === 'availability'
        ? [
            'Dashboard row "RED per route": which route and status code carry the 5xx.',
            'A 503 share means backpressure: see the queue row (backlog near capacity) and `pipewatch_enqueue_rejections_total` by reason.',
            'A 500 share means a bug: search the service logs for `level >= 50` with the request ids of failing requests.',
          ]
        : [
            'Dashboard "Latency" panels: which route is slow and since when.',
            'Check CPU, event-loop lag and in-flight requests in the runtime row (saturation).',
            'Check `pipewatch_enqueue_commit_seconds` (slow disk / fsync) and `pipewatch_metrics_scrape_duration_seconds`.',
          ],
    mitigate:
      kind === 'availability'
        ? [
            'Backpressure: add workers (WORKER_CONCURRENCY) or instances; fix whatever slows processing.',
            'Bad deploy: roll back to the previous build (`pipewatch_build_info` shows which is running).',
          ]
        : [
            'Scale out (more instances) or reduce load; roll back a deploy that made it slower.',
            'Move the SQLite file to a faster disk if commit time dominates.',
          ],
  });

  const alerts: AlertRule[] = [
    {
      alert: 'PipewatchTargetDown',
      build: () => `up${s.of()} == 0`,
      for: a.targetDown.for,
      severity: 'critical',
      timing: { failure: 'the instance stops answering scrapes', holdsAfterSeconds: 0 },
      summary: `A ${job} instance cannot be scraped.`,
      description: `Prometheus has failed to scrape a ${job} instance (label instance) for ${a.targetDown.for}: the process is down, hung, or its /metrics port is unreachable. Nothing it does is visible while this lasts.`,
      runbook: {
        meaning: "Prometheus cannot reach the instance's `/metrics` endpoint.",
        impact: 'If the process is down, submissions routed to it fail; in any case the instance is unmonitored.',
        diagnose: [
          'Prometheus → Status → Targets: the scrape error (connection refused = process down, timeout = hung or overloaded).',
          '`curl -sf http://<instance>/healthz` and `/readyz`; the service logs around the time it stopped.',
          "Local stack: `docker ps` / `docker logs pipewatch`; Cloud Run: the revision's logs and instance count.",
        ],
        mitigate: [
          'Restart the container / roll the revision; accepted jobs are durable in SQLite and resume.',
          'If it is hung rather than down, capture logs first, then restart.',
        ],
      },
    },
    {
      alert: 'PipewatchTargetMissing',
      build: () => `absent(up${s.of()})`,
      for: a.targetMissing.for,
      severity: 'critical',
      timing: { failure: 'the scrape job is removed from Prometheus (staleness markers end `up` at once)', holdsAfterSeconds: 0 },
      summary: `Prometheus has no ${job} target at all.`,
      description: `No series up{job="${job}"} exists for ${a.targetMissing.for}: the scrape config or service discovery lost the service, so every other pipewatch alert is blind.`,
      runbook: {
        meaning: `No target with job="${job}" is configured or discovered.`,
        impact: 'Every other alert about pipewatch is silent because there is no data. The service itself may be fine.',
        diagnose: [
          'Prometheus → Status → Configuration: is the `pipewatch` job present?',
          'Status → Service discovery: is the target dropped by relabelling?',
          'Was the job renamed? The job selector lives in infra/monitoring/config.ts.',
        ],
        mitigate: [
          'Restore infra/prometheus/prometheus.yml (generated; `bun run generate:monitoring`) and reload Prometheus.',
          "Keep the job name and the monitoring config's selector in sync.",
        ],
      },
    },
    {
      alert: 'PipewatchSubmissionsFailing',
      build: () => {
        const f = a.submissionsFailing;
        return (
          `${rateRatioOrZero('job', `http_requests_total{${s.sli},status=~"5.."}`, `http_requests_total{${s.sli}}`, f.window)} >= ${f.threshold}` +
          ` and sum by (job) (rate(http_requests_total{${s.sli}}[${f.window}])) >= ${f.minRequestsPerSecond}`
        );
      },
      for: a.submissionsFailing.for,
      severity: 'critical',
      timing: {
        failure: 'every POST /submit_data answered 503',
        holdsAfterSeconds: crossing(config, a.submissionsFailing.threshold, a.submissionsFailing.window, { strict: false, newSeries: true }),
      },
      summary: `Most ${job} submissions are failing right now.`,
      description: `At least ${pct(a.submissionsFailing.threshold)} of requests to ${config.sliRoutes.join(', ')} were answered with a 5xx over the last ${a.submissionsFailing.window}, for ${a.submissionsFailing.for}, with at least ${a.submissionsFailing.minRequestsPerSecond} requests/s (below that, the burn-rate alerts judge).`,
      runbook: {
        meaning: 'A near-total outage of the API: the fast symptom page, seconds-to-minutes after it starts (the burn-rate alerts follow later).',
        impact: 'Citizens cannot submit records at all; their clients must retry.',
        diagnose: [
          '`pipewatch_enqueue_rejections_total` by reason: storage (database/disk: see PipewatchQueueDatabaseUnreachable), capacity (backlog full), draining (instances shutting down and not coming back).',
          'Dashboard "Requests/s by route and status": 503 or 500, one instance or all?',
          'Service logs at error level; recent deploys (`pipewatch_build_info`).',
        ],
        mitigate: [
          'Storage: restore the database / free the disk; submissions recover by themselves.',
          'Capacity: scale processing (see PipewatchBacklogGrowing).',
          '500s after a deploy: roll back.',
        ],
      },
    },
    {
      alert: 'PipewatchProcessingStalled',
      build: (ref) => `${ref(r.backlog)} > 0 and sum by (job) (increase(pipewatch_job_outcomes_total${s.of()}[${a.processingStalled.window}])) == 0`,
      for: a.processingStalled.for,
      severity: 'critical',
      timing: {
        failure: 'workers stop (202s continue, nothing processed)',
        holdsAfterSeconds: durationSeconds(a.processingStalled.window) - config.scrapeIntervalSeconds,
      },
      summary: `${job} has unfinished jobs but finished no processing attempt in ${a.processingStalled.window}.`,
      description: `Jobs are queued or processing, yet no attempt finished (succeeded, retried or failed) on any instance over the last ${a.processingStalled.window}, for ${a.processingStalled.for}: the workers are stopped or stuck. The window is longer than RETRY_MAX_MS, so parked retries alone do not trip it.`,
      runbook: {
        meaning: 'The fast symptom page for a processing stall: work is waiting and nothing completes.',
        impact: 'Accepted records are not processed; the backlog grows until submissions are refused.',
        diagnose: [
          'Dashboard "Jobs in flight": at WORKER_CONCURRENCY = stuck in a slow dependency; at 0 = workers not running.',
          'Service logs of each instance for the worker loop; `pipewatch_queue_wait_seconds`.',
          'Shared queue: is any instance holding the leader lease (`pipewatch_queue_leader`) and are its database calls succeeding (`pipewatch_db_up`)?',
        ],
        mitigate: [
          'Restart the stalled instance(s): leases expire after LEASE_MS and another worker claims the jobs.',
          'Fix or roll back what made processing hang.',
        ],
      },
    },
    {
      alert: 'PipewatchQueueDatabaseUnreachable',
      build: () => {
        const d = a.databaseUnreachable;
        return (
          `count by (job) (pipewatch_db_up${s.of()} == 0)` +
          ` or sum by (job) (rate(pipewatch_enqueue_rejections_total${s.of('reason="storage"')}[${d.window}])) > ${d.storageRejectionsPerSecond}`
        );
      },
      for: a.databaseUnreachable.for,
      severity: 'critical',
      timing: { failure: "the queue's database stops answering", holdsAfterSeconds: 0 },
      summary: `${job} cannot reach its queue's database.`,
      description: `For ${a.databaseUnreachable.for}, an instance reports pipewatch_db_up == 0 (its last database round trip failed) or submissions are refused with 503 "storage" at more than ${a.databaseUnreachable.storageRejectionsPerSecond}/s over ${a.databaseUnreachable.window}. Accepted records are safe in the database; new ones are refused.`,
      runbook: {
        meaning: "The queue's storage (PostgreSQL, or the SQLite file's disk) does not accept writes.",
        impact: 'Submissions are answered 503 with Retry-After; processing stops until the database is back. No accepted record is lost.',
        diagnose: [
          'Dashboard database row: `pipewatch_db_errors_total` by SQLSTATE class (08 = connection, 53 = insufficient resources, 57 = operator intervention/shutdown, 40 = serialization/deadlock).',
          'Pool in use vs max: exhausted pool = slow queries or too many instances for the connection budget.',
          'PostgreSQL: is the server up (`pg_isready`), failing over (Cloud SQL operations), out of connections? SQLite: `df` on the data dir.',
        ],
        mitigate: [
          'Bring the database back (restart, finish the failover, free disk); instances reconnect by themselves.',
          'Connection budget exhausted: lower PG_POOL_MAX or the instance count.',
        ],
      },
    },
    {
      alert: 'PipewatchHighErrorRatio',
      build: (ref) => `${ref(r.errorRatio)} > ${a.httpErrorRatio.threshold}`,
      for: a.httpErrorRatio.for,
      // A ticket: the fast symptom page is PipewatchSubmissionsFailing; at critical this alert paged
      // 5.5 min after a 45 s outage had already ended.
      severity: 'warning',
      timing: {
        failure: 'every POST /submit_data answered 503',
        holdsAfterSeconds: crossing(config, a.httpErrorRatio.threshold, config.rateWindow, { newSeries: true }),
      },
      summary: `More than ${pct(a.httpErrorRatio.threshold)} of ${job} API requests fail with 5xx.`,
      description: `Over ${config.rateWindow}, more than ${pct(a.httpErrorRatio.threshold)} of requests to ${config.sliRoutes.join(', ')} were answered with a 5xx for ${a.httpErrorRatio.for}.`,
      runbook: {
        meaning: 'A large share of API requests fail on the server side right now (symptom alert, independent of the SLO budget).',
        impact: 'Clients get 503 (queue full or draining) or 500 (bug); their records are not accepted and must be retried.',
        diagnose: [
          'Dashboard "Requests/s by route and status": 503 or 500?',
          '503: queue row (backlog vs capacity, workers keeping up?) and `pipewatch_enqueue_rejections_total{reason}`; `draining` means instances are shutting down.',
          '500: service logs at error level; recent deploys (`pipewatch_build_info`).',
        ],
        mitigate: ['503 capacity: scale workers/instances, or fix slow processing; raising QUEUE_CAPACITY only buys time.', '500: roll back the last deploy.'],
      },
    },
    {
      alert: 'PipewatchHighLatencyP99',
      build: (ref) => `${ref(r.latencyQuantiles[2]!)} > ${a.latencyP99.thresholdSeconds}`,
      for: a.latencyP99.for,
      severity: 'warning',
      timing: { failure: 'every request takes over a second', holdsAfterSeconds: crossing(config, 0.01, config.rateWindow) },
      summary: `${job} p99 latency is above ${a.latencyP99.thresholdSeconds} s on a route.`,
      description: `The 99th percentile of HTTP request duration on an SLI route (label route) has been above ${a.latencyP99.thresholdSeconds} s for ${a.latencyP99.for}, over ${config.rateWindow}.`,
      runbook: {
        meaning: 'The slowest 1% of requests on a route are slower than the threshold.',
        impact: 'Clients may time out and retry, adding load; the latency SLO budget is being spent.',
        diagnose: [
          'Dashboard "Latency p50/p95/p99": is it one route or all? All routes: saturation (CPU, event-loop lag, in-flight).',
          '`/submit_data` only: enqueue commit time (`pipewatch_enqueue_commit_seconds`), disk.',
          'Metrics scrape duration: rendering /metrics blocks the event loop.',
        ],
        mitigate: ['Scale out or shed load; roll back a slower build.', 'Move the data dir to a faster disk if commits are slow.'],
      },
    },
    {
      alert: 'PipewatchProcessingFailureRatioHigh',
      build: (ref) => `${ref(r.processingFailureRatio)} > ${a.processingFailureRatio.threshold}`,
      for: a.processingFailureRatio.for,
      severity: 'warning',
      timing: { failure: 'every processing attempt fails', holdsAfterSeconds: crossing(config, a.processingFailureRatio.threshold, config.rateWindow) },
      summary: `More than ${pct(a.processingFailureRatio.threshold)} of ${job} processing attempts fail.`,
      description: `Over ${config.rateWindow}, more than ${pct(a.processingFailureRatio.threshold)} of processing attempts failed for ${a.processingFailureRatio.for} (app_errors_total / app_processing_seconds_count). Failed attempts are retried; persistent failure dead-letters jobs.`,
      runbook: {
        meaning: 'The background pipeline fails far more often than its normal rate (the simulated pipeline fails FAILURE_RATE of attempts, 10% by default).',
        impact: 'Jobs take longer (retries with backoff) and some end up dead-lettered as `failed`; the backlog grows.',
        diagnose: [
          'Dashboard "Processing outcomes": retried vs failed.',
          'Service logs: the `lastError` reason codes of failing jobs (`GET /submissions/:id`).',
          'Has FAILURE_RATE or a dependency changed? Recent deploys?',
        ],
        mitigate: [
          'Fix or roll back the cause; jobs still being retried recover by themselves.',
          'Dead-lettered jobs need a decision: re-submit them once the cause is fixed.',
        ],
      },
    },
    {
      alert: 'PipewatchBacklogGrowing',
      // deriv of the recorded (per-queue deduplicated) backlog; inlined for Cloud Monitoring as a subquery.
      build: (ref) =>
        `${ref(r.backlog)} > ${a.backlogGrowing.minJobs} and deriv(${ref(r.backlog)}[${a.backlogGrowing.window}${ref === byName ? '' : ':'}]) > 0`,
      for: a.backlogGrowing.for,
      severity: 'warning',
      timing: { failure: `the backlog passes ${a.backlogGrowing.minJobs} jobs while growing`, holdsAfterSeconds: 0 },
      summary: `${job} has more than ${a.backlogGrowing.minJobs} unfinished jobs and the backlog keeps growing.`,
      description: `The queue holds more than ${a.backlogGrowing.minJobs} queued or processing jobs and has grown over the last ${a.backlogGrowing.window}, for ${a.backlogGrowing.for}: workers are not keeping up with submissions.`,
      runbook: {
        meaning: 'Jobs arrive faster than workers finish them.',
        impact: 'Records are processed late; when the backlog reaches QUEUE_CAPACITY new submissions are refused with 503.',
        diagnose: [
          'Dashboard queue row: enqueue rate vs processing throughput; oldest-job age.',
          'Processing time (p95) up? Failure ratio up (retries add work)?',
          'Jobs in flight below WORKER_CONCURRENCY means workers are idle or stuck.',
        ],
        mitigate: ['Raise WORKER_CONCURRENCY or add instances.', 'Fix whatever made processing slower or fail more.'],
      },
    },
    {
      alert: 'PipewatchQueueNearCapacity',
      build: (ref) => `${ref(r.utilisation)} > ${a.queueNearCapacity.utilisation}`,
      for: a.queueNearCapacity.for,
      severity: 'warning',
      timing: { failure: `the backlog passes ${pct(a.queueNearCapacity.utilisation)} of QUEUE_CAPACITY`, holdsAfterSeconds: 0 },
      summary: `${job}'s queue is more than ${pct(a.queueNearCapacity.utilisation)} full.`,
      description: `Unfinished jobs exceed ${pct(a.queueNearCapacity.utilisation)} of QUEUE_CAPACITY for ${a.queueNearCapacity.for}; at 100% submissions are refused with 503.`,
      runbook: {
        meaning: 'The backlog is close to the point where backpressure refuses new records.',
        impact: 'Soon: 503 answers to citizens, counted against the availability SLO.',
        diagnose: ['Same as PipewatchBacklogGrowing: processing throughput vs enqueue rate.'],
        mitigate: ['Scale processing first; raise QUEUE_CAPACITY only if the disk can hold it and the delay is acceptable.'],
      },
    },
    {
      alert: 'PipewatchOldestJobTooOld',
      build: (ref) => `${ref(r.oldestAge)} > ${a.oldestJobAge.thresholdSeconds}`,
      for: a.oldestJobAge.for,
      severity: 'warning',
      timing: { failure: 'workers stop (202s continue, nothing processed)', holdsAfterSeconds: a.oldestJobAge.thresholdSeconds },
      summary: `A ${job} job has waited more than ${a.oldestJobAge.thresholdSeconds} s.`,
      description: `The oldest unfinished job is older than ${a.oldestJobAge.thresholdSeconds} s for ${a.oldestJobAge.for}: processing is stalled or far behind (long retry backoffs count too).`,
      runbook: {
        meaning: 'At least one accepted record has not been processed for a long time.',
        impact: "That citizen's record is late; a stuck worker may be holding a lease.",
        diagnose: [
          'Dashboard "Oldest unfinished job age": steadily rising = stall, sawtooth = slow but moving.',
          'Jobs in flight at zero with a backlog: workers stopped (logs).',
          'Many retries with long backoff (RETRY_MAX_MS) also age jobs.',
        ],
        mitigate: ['Restart a stalled instance: expired leases (LEASE_MS) make stuck jobs available again.', 'Fix the failure cause if retries dominate.'],
      },
    },
    {
      alert: 'PipewatchJobsDeadLettered',
      build: () => `sum by (job) (increase(pipewatch_job_outcomes_total${s.of('outcome="failed"')}[${a.deadLettered.window}])) > 0`,
      for: a.deadLettered.for,
      severity: 'warning',
      timing: { failure: 'a job is dead-lettered (every attempt of it failed)', holdsAfterSeconds: 0 },
      summary: `${job} dead-lettered jobs in the last ${a.deadLettered.window}.`,
      description: `At least one job failed all MAX_ATTEMPTS attempts in the last ${a.deadLettered.window} and was marked failed: its record will not be processed without intervention.`,
      runbook: {
        meaning: 'Jobs exhausted their retries and are parked as `failed`.',
        impact: 'Those records are accepted but never processed until someone acts.',
        diagnose: [
          'Dashboard "Processing outcomes": how many, since when.',
          '`GET /submissions/:id` of affected jobs shows `lastError` (a reason code, no personal data).',
          'Correlate with PipewatchProcessingFailureRatioHigh.',
        ],
        mitigate: ['Fix the cause, then re-submit the affected records.', 'If the failure rate is expected to be high, raise MAX_ATTEMPTS.'],
      },
    },
  ];

  for (const [kind, policy, fast] of [
    ['availability', slo.burnRate.fast, true],
    ['availability', slo.burnRate.slow, false],
    ['latency', slo.burnRate.fast, true],
    ['latency', slo.burnRate.slow, false],
  ] as const) {
    const budget = kind === 'availability' ? availabilityBudget : latencyBudget;
    const series = kind === 'availability' ? r.availabilityErrors : r.latencySlow;
    const target = kind === 'availability' ? slo.availability.target : slo.latency.target;
    const name = `Pipewatch${kind === 'availability' ? 'Availability' : 'Latency'}BudgetBurn${fast ? 'Fast' : 'Slow'}`;
    const what =
      kind === 'availability'
        ? `The ${pct(target)} availability SLO of ${job}`
        : `The ${pct(target)} latency SLO (${slo.latency.thresholdSeconds} s) of ${job}`;
    // Under a total failure the fastest pair decides: both its windows must pass factor x budget.
    const holds = Math.min(
      ...policy.windows.map((w) =>
        Math.max(
          crossing(config, w.factor * budget, w.long, { newSeries: kind === 'availability' }),
          crossing(config, w.factor * budget, w.short, { newSeries: kind === 'availability' }),
        ),
      ),
    );
    alerts.push({
      alert: name,
      build: burnRate(policy, series, budget),
      for: policy.for,
      severity: policy.severity,
      timing: { failure: kind === 'availability' ? 'every POST /submit_data answered 503' : 'every request takes over a second', holdsAfterSeconds: holds },
      labels: { slo: kind },
      summary: `${what} is burning its error budget ${fast ? 'fast' : 'slowly but steadily'}.`,
      description: burnDescription(what, policy, budget),
      runbook: sloRunbook(kind, fast),
    });
  }
  return alerts;
}

/** README anchor of an alert's runbook. */
export function runbookAnchor(alert: string): string {
  return `runbook-${alert.toLowerCase()}`;
}

export function runbookUrl(config: MonitoringConfig, alert: string): string {
  return `${config.runbookBaseUrl}#${runbookAnchor(alert)}`;
}
