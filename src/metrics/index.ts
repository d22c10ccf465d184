import { Registry } from 'prom-client';
import { httpMetrics } from './http';
import { queueMetrics } from './queue';
import { runtimeMetrics, type BuildInfo } from './runtime';
import { scrapeMetrics } from './scrape';

export { HTTP_DURATION_BUCKETS, UNMATCHED_ROUTE } from './http';
export { COMMIT_BUCKETS, JOB_STATE_LABELS, PROCESSING_BUCKETS, QUEUE_WAIT_BUCKETS } from './queue';
export type { JobOutcome, JobStateLabel, QueueGaugeSnapshot, QueueGaugeSource } from './queue';
export type { ExemplarLabels, RequestSeries } from './red';
export { DROPPED_DEFAULT_METRICS, type BuildInfo } from './runtime';
export { renderMetrics } from './scrape';

/**
 * Every metric pipewatch exposes, one concern per file, on a registry of its own (no global
 * state), so tests can build as many independent apps as they like and the README's metrics
 * table has one place to be checked against.
 */
export function createMetrics(build: BuildInfo = { version: 'dev', commit: 'unknown' }) {
  const registry = new Registry();
  return {
    registry,
    ...runtimeMetrics(registry, build),
    ...httpMetrics(registry),
    ...queueMetrics(registry),
    ...scrapeMetrics(registry),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
