import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Processing / queue wait: the simulated pipeline takes tens of milliseconds, a backlog can take minutes. */
export const PROCESSING_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
export const QUEUE_WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];
/** A group commit normally takes well under a millisecond; fsync-heavy disks take more. */
export const COMMIT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1];

export const JOB_STATE_LABELS = ['queued', 'processing', 'succeeded', 'failed'] as const;
export type JobStateLabel = (typeof JOB_STATE_LABELS)[number];
export type JobOutcome = 'succeeded' | 'retried' | 'failed';

/** What the queue's global gauges show, read once per scrape. */
export interface QueueGaugeSnapshot {
  /** The queue's stable opaque id: the `queue` label, so instances sharing one queue can be deduplicated. */
  queueId: string;
  /**
   * True when this instance exports the queue's global gauges: always for a single-owner store,
   * only while holding the leader lease for a shared one.
   */
  leader: boolean;
  depth: Record<JobStateLabel, number>;
  oldestUnfinishedAgeSeconds: number;
  capacity: number;
}

/** Implemented by the queue; asked at each scrape, never pushed. */
export interface QueueGaugeSource {
  gauges(): QueueGaugeSnapshot | Promise<QueueGaugeSnapshot>;
}

/** The processing queue. No job ids or attempt numbers as labels. */
export function queueMetrics(registry: Registry) {
  const on = { registers: [registry] };
  let source: QueueGaugeSource | undefined;
  // One snapshot per scrape: the registry starts every metric's collect() in the same tick.
  let pending: Promise<QueueGaugeSnapshot | undefined> | undefined;
  const snapshot = () =>
    (pending ??= Promise.resolve(source?.gauges()).finally(() => {
      pending = undefined;
    }));
  /** A gauge whose series are rebuilt from the snapshot at every scrape; nothing when this instance is not the leader. */
  const fromSnapshot = (set: (gauge: Gauge<'queue' | 'state'>, s: QueueGaugeSnapshot) => void) =>
    async function collect(this: Gauge<'queue' | 'state'>) {
      const s = await snapshot();
      this.reset();
      if (s?.leader) set(this, s);
    };

  const metrics = {
    // --- The seed's processing series: its Grafana queries keep working unchanged. ---
    processingErrors: new Counter({
      name: 'app_errors_total',
      help: 'Processing attempts that failed (each is retried until MAX_ATTEMPTS). A rising rate means the pipeline is failing: see pipewatch_job_outcomes_total.',
      ...on,
    }),
    processingSeconds: withExemplars(
      registry,
      new Histogram({
        name: 'app_processing_seconds',
        help: 'Time one processing attempt took, successful or not. A higher average means slower workers and a growing backlog.',
        buckets: PROCESSING_BUCKETS,
        enableExemplars: true,
        registers: [],
      }),
    ),

    // --- Global gauges, pulled from the queue at each scrape, labelled with the queue's id. ---
    queueJobs: new Gauge({
      name: 'pipewatch_queue_jobs',
      help: 'Jobs in the queue by state (queued, processing, succeeded, failed). Finished jobs are pruned by retention. Exported by the leader of a shared queue only: aggregate with max by (queue, state).',
      labelNames: ['queue', 'state'] as const,
      collect: fromSnapshot((gauge, s) => {
        for (const state of JOB_STATE_LABELS) gauge.set({ queue: s.queueId, state }, s.depth[state]);
      }),
      ...on,
    }),
    queueCapacity: new Gauge({
      name: 'pipewatch_queue_capacity_jobs',
      help: 'Unfinished jobs at which new submissions are refused with 503 (QUEUE_CAPACITY).',
      labelNames: ['queue'] as const,
      collect: fromSnapshot((gauge, s) => gauge.set({ queue: s.queueId }, s.capacity)),
      ...on,
    }),
    oldestQueuedAge: new Gauge({
      name: 'pipewatch_queue_oldest_job_age_seconds',
      help: 'Age of the oldest job not yet finished (0 when none). Growing steadily means workers are not keeping up.',
      labelNames: ['queue'] as const,
      collect: fromSnapshot((gauge, s) => gauge.set({ queue: s.queueId }, s.oldestUnfinishedAgeSeconds)),
      ...on,
    }),
    queueLeader: new Gauge({
      name: 'pipewatch_queue_leader',
      help: "1 on the instance exporting this queue's global gauges (always, for a queue only this process uses; the lease holder, for a shared one), 0 elsewhere.",
      labelNames: ['queue'] as const,
      async collect() {
        const s = await snapshot();
        this.reset();
        if (s) this.set({ queue: s.queueId }, s.leader ? 1 : 0);
      },
      ...on,
    }),

    // --- Flows: pushed by the engine as they happen. ---
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

    /**
     * The queue hands in what its gauges read; returns the detach to call when it closes.
     * One source at a time: a second attach replaces the first.
     */
    watchQueue(next: QueueGaugeSource): () => void {
      source = next;
      return () => {
        if (source === next) source = undefined;
      };
    },
  };

  for (const outcome of ['succeeded', 'retried', 'failed'] satisfies JobOutcome[]) metrics.jobOutcomes.inc({ outcome }, 0);
  for (const reason of ['capacity', 'draining', 'storage']) metrics.enqueueRejections.inc({ reason }, 0);
  return metrics;
}

/**
 * Registers a histogram that keeps exemplars (the trace id of a sampled attempt) in the text
 * registry. prom-client's constructor refuses `enableExemplars` with a text-format registry,
 * but rendering is what decides: the text format never prints exemplars, and the OpenMetrics
 * view (src/tracing/openmetrics.ts, tracing on, scraper asks for it) prints them.
 */
function withExemplars<T extends Histogram>(registry: Registry, histogram: T): T {
  registry.registerMetric(histogram);
  return histogram;
}
