import { afterEach, expect, setSystemTime, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/log';
import { createMetrics, renderMetrics } from '../src/metrics';
import { JobQueue, type EngineOptions } from '../src/queue/engine';
import { ProcessingFailure, type Processor } from '../src/queue/pipeline';
import type { JobStore } from '../src/queue/store';
import { openSqliteStore } from '../src/queue/stores/sqlite';
import { sample, waitFor } from './support/queue';

/**
 * Issue 9.6: the system clock steps (NTP fixing a wrong clock, `date -s`). bun:test's
 * setSystemTime steps Date.now() for this whole process, queue included; the monotonic clock
 * (performance.now, timers) runs on, as it does on a real machine.
 */
const TIMEOUT_MS = 20_000;
const HOUR = 3_600_000;
const RECORD = { name: 'Ravi', age: 32, city: 'Delhi' };
const dirs: string[] = [];
const queues: JobQueue[] = [];
afterEach(async () => {
  setSystemTime(); // back to the real clock
  for (const queue of queues.splice(0)) {
    await queue.stop(0);
    await queue.close();
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function store(dir = mkdtempSync(join(tmpdir(), 'pipewatch-clock-'))): Promise<JobStore> {
  dirs.push(dir);
  return openSqliteStore({ dataDir: dir, synchronous: 'NORMAL' });
}

async function open(opening: Promise<JobStore>, options: Partial<EngineOptions> & { process: Processor }) {
  const metrics = createMetrics();
  const queue = await JobQueue.open(
    await opening,
    {
      concurrency: 4,
      maxAttempts: 3,
      retryBaseMs: 1000,
      retryMaxMs: 1000,
      capacity: 1000,
      leaseMs: 30_000,
      retentionMaxAgeMs: 24 * HOUR,
      retentionMaxFinished: 100_000,
      ...options,
    },
    { metrics, log: createLogger('silent') },
  );
  queues.push(queue);
  return { queue, metrics };
}

test(
  'a clock stepped back an hour does not hold a retry for the hour: it runs at the end of its backoff',
  async () => {
    let attempts = 0;
    const failFirst: Processor = () => (++attempts === 1 ? Promise.reject(new ProcessingFailure('processing_failed')) : Promise.resolve());
    // random() = 0.999: the backoff is ~1 s, long enough to step the clock while the job waits.
    const { queue } = await open(store(), { process: failFirst, random: () => 0.999 });
    queue.start();
    const id = await queue.enqueue(RECORD);
    await waitFor(
      'the first attempt to fail and the retry to be committed',
      async () => (await queue.status(id))?.attempts === 1 && (await queue.status(id))?.status === 'queued',
      5000,
    );
    const stepped = performance.now();
    setSystemTime(new Date(Date.now() - HOUR));
    await waitFor('the retry to succeed', async () => (await queue.status(id))?.status === 'succeeded', 10_000);
    expect(performance.now() - stepped).toBeLessThan(6000); // the ~1 s backoff, with room for a loaded machine (an hour otherwise)
  },
  TIMEOUT_MS,
);

test(
  'a clock stepped back does not make the oldest-job age read 0 while work waits',
  async () => {
    const { queue, metrics } = await open(store(), { process: () => Promise.resolve() }); // never started: the job waits
    await queue.enqueue(RECORD);
    setSystemTime(new Date(Date.now() - HOUR));
    await Bun.sleep(1100);
    expect(queue.stats().oldestUnfinishedAgeSeconds).toBeGreaterThanOrEqual(1);
    expect(sample(await renderMetrics(metrics), 'pipewatch_queue_oldest_job_age_seconds')).toBeGreaterThanOrEqual(1);
  },
  TIMEOUT_MS,
);

test(
  'a clock stepped forward a day does not prune every finished job at once',
  async () => {
    const { queue } = await open(store(), { process: () => Promise.resolve() });
    const ids = await Promise.all(Array.from({ length: 20 }, () => queue.enqueue(RECORD)));
    queue.start();
    await waitFor('all jobs to finish', () => queue.stats().depth.succeeded === 20, 5000);
    setSystemTime(new Date(Date.now() + 25 * HOUR));
    await Bun.sleep(2500); // past two housekeeping rounds (retention runs about once a second)
    expect(queue.stats().depth.succeeded).toBe(20);
    for (const id of ids) expect((await queue.status(id))?.status).toBe('succeeded');
  },
  TIMEOUT_MS,
);

test(
  'a retry written under a clock that has since stepped back (before a restart) runs within its backoff bound',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pipewatch-clock-'));
    // The previous process ran with a clock an hour ahead: its retry is due "in an hour" now.
    const before = await store(dir);
    const now = Date.now();
    const id = Bun.randomUUIDv7();
    await before.commit({ now, enqueue: [{ id, record: RECORD, trace: null }], settles: [], renew: [], claim: 0, leaseUntil: now });
    const [run] = (await before.commit({ now, enqueue: [], settles: [], renew: [], claim: 1, leaseUntil: now + 30_000 })).claimed;
    await before.commit({
      now,
      enqueue: [],
      settles: [{ kind: 'retry', seq: run!.seq, attempts: 1, now, runAt: now + HOUR, reason: 'processing_failed' }],
      renew: [],
      claim: 0,
      leaseUntil: now,
    });
    await before.close();
    dirs.splice(dirs.indexOf(dir), 1);

    const started = performance.now();
    const { queue } = await open(store(dir), { process: () => Promise.resolve() });
    queue.start();
    await waitFor('the job to run', async () => (await queue.status(id))?.status === 'succeeded', 10_000);
    expect(performance.now() - started).toBeLessThan(8000); // RETRY_MAX_MS plus a housekeeping round, with room for a loaded machine (an hour otherwise)
  },
  TIMEOUT_MS,
);
