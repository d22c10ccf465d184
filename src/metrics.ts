import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every metric pipewatch exposes is defined here, on a registry of its own (no global state),
 * so tests can build as many independent apps as they like and the README's metrics table has
 * one place to be checked against.
 */

/** HTTP latency: sub-millisecond up to seconds, for a service whose typical answer takes ~1 ms. */
export const HTTP_DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Processing / queue wait: the simulated pipeline takes tens of milliseconds, a backlog can take minutes. */
export const PROCESSING_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
export const QUEUE_WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];
/** A group commit normally takes well under a millisecond; fsync-heavy disks take more. */
export const COMMIT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1];

/** The one `route` label value for every path that matches no route, so random paths cannot create series. */
export const UNMATCHED_ROUTE = '__unmatched__';

export type JobStateLabel = 'queued' | 'processing' | 'succeeded' | 'failed';
export type JobOutcome = 'succeeded' | 'retried' | 'failed';

/** Build identity, exported as labels of `pipewatch_build_info`. */
export interface BuildInfo {
  version: string;
  commit: string;
}

/**
 * prom-client default metrics that are empty or synthetic on Bun (checked against Bun by
 * test/http-metrics.test.ts, which fails when one of them starts telling the truth). They are
 * dropped rather than exported as misleading series; the README lists them with the reason.
 */
export const DROPPED_DEFAULT_METRICS = {
  nodejs_gc_duration_seconds: 'Bun never reports GC events to perf_hooks: the histogram stays empty',
  nodejs_heap_space_size_total_bytes: 'JSC has no V8 heap spaces: all but one space are always 0',
  nodejs_heap_space_size_used_bytes: 'JSC has no V8 heap spaces: all but one space are always 0',
  nodejs_heap_space_size_available_bytes: 'JSC has no V8 heap spaces: all but one space are always 0',
  nodejs_heap_size_total_bytes: 'JSC heap capacity, which excludes large allocations and can be below the used size',
  process_heap_bytes: "VmData, which on Bun is dominated by JSC's gigabytes of reserved, untouched address space",
  nodejs_active_handles: 'Bun does not track libuv handles: always empty',
  nodejs_active_handles_total: 'Bun does not track libuv handles: always 0',
  nodejs_active_requests: 'Bun does not track libuv requests: always empty',
  nodejs_active_requests_total: 'Bun does not track libuv requests: always 0',
  nodejs_active_resources: 'process.getActiveResourcesInfo() is always empty on Bun',
  nodejs_active_resources_total: 'process.getActiveResourcesInfo() is always empty on Bun',
  nodejs_version_info: 'the Node.js version Bun emulates, not what runs; see pipewatch_build_info',
} as const;

export function createMetrics(build: BuildInfo = { version: 'dev', commit: 'unknown' }) {
  const registry = new Registry();
  const on = { registers: [registry] };

  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  for (const name of Object.keys(DROPPED_DEFAULT_METRICS)) registry.removeSingleMetric(name);

  const metrics = {
    registry,
    /** Called before each render, so gauges read live state (e.g. queue depth) only when scraped. */
    beforeScrape: [] as Array<() => void | Promise<void>>,

    // --- The seed's three series: its Grafana queries keep working unchanged. ---
    submissionsReceived: new Counter({
      name: 'app_requests_total',
      help: 'Submissions received on POST /submit_data, valid or not (the seed\'s request counter). Compare with http_requests_total{route="/submit_data"} to see rejections.',
      ...on,
    }),
    processingErrors: new Counter({
      name: 'app_errors_total',
      help: 'Processing attempts that failed (each is retried until MAX_ATTEMPTS). A rising rate means the pipeline is failing: see pipewatch_job_outcomes_total.',
      ...on,
    }),
    processingSeconds: new Histogram({
      name: 'app_processing_seconds',
      help: 'Time one processing attempt took, successful or not. A higher average means slower workers and a growing backlog.',
      buckets: PROCESSING_BUCKETS,
      ...on,
    }),

    // --- RED for every route. `route` is the route template, never the raw path. ---
    httpRequests: new Counter({
      name: 'http_requests_total',
      help: `HTTP requests answered, by method, route template (${UNMATCHED_ROUTE} for unknown paths) and final status code.`,
      labelNames: ['method', 'route', 'status'] as const,
      ...on,
    }),
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from receiving a request to handing back its response, by method, route template and status.',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: HTTP_DURATION_BUCKETS,
      ...on,
    }),
    httpInFlight: new Gauge({
      name: 'http_requests_in_flight',
      help: 'HTTP requests being handled right now. Climbing without more traffic means requests are stuck.',
      ...on,
    }),

    // --- The processing queue. No job ids or attempt numbers as labels. ---
    queueJobs: new Gauge({
      name: 'pipewatch_queue_jobs',
      help: 'Jobs in the queue by state (queued, processing, succeeded, failed). Finished jobs are pruned by retention.',
      labelNames: ['state'] as const,
      ...on,
    }),
    queueCapacity: new Gauge({
      name: 'pipewatch_queue_capacity_jobs',
      help: 'Unfinished jobs at which new submissions are refused with 503 (QUEUE_CAPACITY).',
      ...on,
    }),
    oldestQueuedAge: new Gauge({
      name: 'pipewatch_queue_oldest_job_age_seconds',
      help: 'Age of the oldest job not yet finished (0 when none). Growing steadily means workers are not keeping up.',
      ...on,
    }),
    queueWait: new Histogram({
      name: 'pipewatch_queue_wait_seconds',
      help: 'Time a job waited between being enqueued (or scheduled for retry) and a worker starting it.',
      buckets: QUEUE_WAIT_BUCKETS,
      ...on,
    }),
    jobsEnqueued: new Counter({
      name: 'pipewatch_jobs_enqueued_total',
      help: 'Jobs durably accepted into the queue (answered 202).',
      ...on,
    }),
    jobOutcomes: new Counter({
      name: 'pipewatch_job_outcomes_total',
      help: 'Finished processing attempts by outcome: succeeded, retried (failed, will run again) or failed (dead-lettered after MAX_ATTEMPTS).',
      labelNames: ['outcome'] as const,
      ...on,
    }),
    jobAttempts: new Histogram({
      name: 'pipewatch_job_attempts',
      help: 'Attempts a job needed until it finished (succeeded or dead-lettered).',
      buckets: [1, 2, 3, 4, 5, 7, 10, 20, 50, 100],
      ...on,
    }),
    jobsInFlight: new Gauge({
      name: 'pipewatch_jobs_in_flight',
      help: 'Jobs being processed by workers right now (at most WORKER_CONCURRENCY).',
      ...on,
    }),
    enqueueRejections: new Counter({
      name: 'pipewatch_enqueue_rejections_total',
      help: 'Submissions refused with 503, by reason: capacity (queue full: backpressure), draining (shutting down) or storage (the queue file could not be written: check disk space and the logs).',
      labelNames: ['reason'] as const,
      ...on,
    }),
    enqueueCommitSeconds: new Histogram({
      name: 'pipewatch_enqueue_commit_seconds',
      help: 'Time from a submission reaching the queue to its row being committed (group commit included).',
      buckets: COMMIT_BUCKETS,
      ...on,
    }),

    // --- Identity and the cost of being observed. ---
    buildInfo: new Gauge({
      name: 'pipewatch_build_info',
      help: 'Always 1; labels say which pipewatch build and which Bun runtime run (nodejs_version_info would report the Node version Bun emulates).',
      labelNames: ['version', 'commit', 'bun_version'] as const,
      ...on,
    }),
    scrapeDuration: new Histogram({
      name: 'pipewatch_metrics_scrape_duration_seconds',
      help: 'Time spent rendering /metrics. Rendering blocks the event loop, so this is latency every other request may pay.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
      ...on,
    }),
    scrapeBytes: new Gauge({
      name: 'pipewatch_metrics_exposition_bytes',
      help: 'Size of the previous /metrics response body. A jump means a new series explosion.',
      ...on,
    }),
  };

  metrics.buildInfo.set({ version: build.version, commit: build.commit, bun_version: Bun.version }, 1);
  for (const outcome of ['succeeded', 'retried', 'failed'] satisfies JobOutcome[]) metrics.jobOutcomes.inc({ outcome }, 0);
  for (const reason of ['capacity', 'draining', 'storage']) metrics.enqueueRejections.inc({ reason }, 0);
  for (const state of ['queued', 'processing', 'succeeded', 'failed'] satisfies JobStateLabel[]) metrics.queueJobs.set({ state }, 0);
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Renders the exposition and records what rendering cost. */
export async function renderMetrics(metrics: Metrics): Promise<string> {
  const stop = metrics.scrapeDuration.startTimer();
  for (const refresh of metrics.beforeScrape) await refresh();
  const body = await metrics.registry.metrics();
  stop();
  metrics.scrapeBytes.set(Buffer.byteLength(body));
  return body;
}
