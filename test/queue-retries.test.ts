import { expect, test } from 'bun:test';
import { FAST_QUEUE_ENV, sample, scrape, waitFor, waitUntilFinal } from './support/queue';
import { serviceFleet, submit } from './support/service';

/** Explicit per-test budget: these tests start real processes and wait for real work. */
const TIMEOUT_MS = 30_000;

/** Retries and dead-lettering through a real server process, at both ends of FAILURE_RATE. */
const start = serviceFleet();

const JOBS = 10;

async function run(env: Record<string, string>) {
  const service = await start({ env: { ...FAST_QUEUE_ENV, MAX_ATTEMPTS: '3', ...env } });
  const ids: string[] = [];
  for (let i = 0; i < JOBS; i++) ids.push(((await (await submit(service.url)).json()) as { id: string }).id);
  const final = await waitUntilFinal(service.url, ids);
  return { service, final: [...final.values()], metrics: await scrape(service.metricsUrl) };
}

for (const driver of ['sqlite', 'memory'] as const) {
  test(
    `${driver}: at FAILURE_RATE=1 every job is retried up to MAX_ATTEMPTS, then dead-lettered and still visible`,
    async () => {
      const { service, final, metrics } = await run({ QUEUE_DRIVER: driver, FAILURE_RATE: '1' });
      for (const status of final) {
        expect(status).toMatchObject({ status: 'failed', attempts: 3, lastError: 'processing_failed', nextAttemptAt: null });
        expect(status.finishedAt).not.toBeNull();
      }
      // Per attempt, like the seed: 3 attempts per job, each one an error.
      expect(sample(metrics, 'app_errors_total')).toBe(JOBS * 3);
      expect(sample(metrics, 'app_processing_seconds_count')).toBe(JOBS * 3);
      expect(sample(metrics, 'pipewatch_job_outcomes_total{outcome="retried"}')).toBe(JOBS * 2);
      expect(sample(metrics, 'pipewatch_job_outcomes_total{outcome="failed"}')).toBe(JOBS);
      expect(sample(metrics, 'pipewatch_job_outcomes_total{outcome="succeeded"}')).toBe(0);
      expect(sample(metrics, 'pipewatch_job_attempts_count')).toBe(JOBS);
      expect(sample(metrics, 'pipewatch_job_attempts_sum')).toBe(JOBS * 3);
      expect(sample(metrics, 'pipewatch_queue_jobs{state="failed"}')).toBe(JOBS);
      // A retried job waits in the queue again: one wait per attempt.
      expect(sample(metrics, 'pipewatch_queue_wait_seconds_count')).toBe(JOBS * 3);
      // Dead letters are logged by id and reason code, never with the record (log lines are flushed in batches).
      await waitFor('a dead-letter log line per job', () => service.logs().filter((line) => line.msg === 'job dead-lettered').length === JOBS, 5000);
      expect(service.output()).not.toContain('Ravi');
      expect(service.output()).not.toContain('Delhi');
    },
    TIMEOUT_MS,
  );
}

test(
  'sqlite: at FAILURE_RATE=0 every job succeeds on its first attempt, nothing is retried',
  async () => {
    const { final, metrics } = await run({ FAILURE_RATE: '0' });
    for (const status of final) expect(status).toMatchObject({ status: 'succeeded', attempts: 1, lastError: null, nextAttemptAt: null });
    expect(sample(metrics, 'app_errors_total')).toBe(0);
    expect(sample(metrics, 'app_processing_seconds_count')).toBe(JOBS);
    expect(sample(metrics, 'pipewatch_jobs_enqueued_total')).toBe(JOBS);
    expect(sample(metrics, 'pipewatch_job_outcomes_total{outcome="succeeded"}')).toBe(JOBS);
    expect(sample(metrics, 'pipewatch_job_outcomes_total{outcome="retried"}')).toBe(0);
    expect(sample(metrics, 'pipewatch_job_attempts_sum')).toBe(JOBS);
    expect(sample(metrics, 'pipewatch_enqueue_commit_seconds_count')).toBe(JOBS);
    expect(sample(metrics, 'pipewatch_queue_jobs{state="succeeded"}')).toBe(JOBS);
    expect(sample(metrics, 'pipewatch_queue_jobs{state="queued"}')).toBe(0);
    expect(sample(metrics, 'pipewatch_queue_oldest_job_age_seconds')).toBe(0);
    expect(sample(metrics, 'pipewatch_jobs_in_flight')).toBe(0);
  },
  TIMEOUT_MS,
);
