import { afterAll, expect, test } from 'bun:test';
import { FAST_QUEUE_ENV, sample, scrape, waitUntilFinal } from './support/queue';
import { removeDataDir, startService, submit, type RunningService } from './support/service';

/** Explicit per-test budget: these tests start real processes and wait for real work. */
const TIMEOUT_MS = 30_000;

let service: RunningService | undefined;
afterAll(async () => {
  if (!service) return;
  await service.stop('SIGKILL');
  removeDataDir(service.dataDir);
});

test(
  'a full queue answers 503 with Retry-After, and every job it accepted is processed',
  async () => {
    service = await startService({
      env: { ...FAST_QUEUE_ENV, QUEUE_CAPACITY: '5', WORKER_CONCURRENCY: '1', PROCESSING_DELAY_MIN_MS: '150', PROCESSING_DELAY_MAX_MS: '150' },
    });
    const responses = await Promise.all(Array.from({ length: 40 }, () => submit(service!.url)));
    const accepted: string[] = [];
    let refused = 0;
    for (const res of responses) {
      if (res.status === 202) {
        accepted.push(((await res.json()) as { id: string }).id);
        continue;
      }
      expect(res.status).toBe(503);
      refused++;
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(res.headers.get('content-type')).toStartWith('application/problem+json');
      const text = await res.text();
      expect(text).not.toContain('Ravi');
      expect(JSON.parse(text)).toMatchObject({ status: 503 });
    }
    // At most QUEUE_CAPACITY unfinished jobs at any time: the burst cannot all get in.
    expect(accepted.length).toBeGreaterThanOrEqual(5);
    expect(accepted.length).toBeLessThan(40);

    const during = await scrape(service.metricsUrl);
    expect(sample(during, 'pipewatch_queue_capacity_jobs')).toBe(5);
    expect(sample(during, 'pipewatch_enqueue_rejections_total{reason="capacity"}')).toBe(refused);
    expect(sample(during, 'pipewatch_jobs_enqueued_total')).toBe(accepted.length);

    const final = await waitUntilFinal(service.url, accepted);
    for (const status of final.values()) expect(status.status).toBe('succeeded');

    // Once drained, the queue takes submissions again.
    expect((await submit(service.url)).status).toBe(202);
  },
  TIMEOUT_MS,
);
