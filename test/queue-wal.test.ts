import { afterAll, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/log';
import { createMetrics } from '../src/metrics';
import { JobQueue } from '../src/queue/engine';
import { createSimulatedPipeline } from '../src/queue/pipeline';
import { openSqliteStore } from '../src/queue/stores/sqlite';

/**
 * Issue 9.1: under sustained writes the PASSIVE checkpoint never reached the end of the WAL, so
 * the WAL was never restarted and grew without bound (3.96 GiB in 30 s). Here: commits without a
 * pause for several seconds (enqueues and the workers' claims and settles, as under load), the
 * WAL's size sampled all along.
 */
const dir = mkdtempSync(join(tmpdir(), 'pipewatch-wal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SECONDS = Number(process.env.WAL_TEST_SECONDS ?? 8);
/** The bound the README states: restarts past WAL_LIMIT_BYTES (16 MiB), plus what commits add while a checkpoint runs on a loaded machine. */
const BOUND_BYTES = 128 * 2 ** 20;

test(`sustained writes for ${SECONDS} s keep the WAL under ${BOUND_BYTES / 2 ** 20} MiB`, async () => {
  const store = await openSqliteStore({ dataDir: dir, synchronous: 'NORMAL' });
  const queue = await JobQueue.open(
    store,
    {
      concurrency: 8,
      maxAttempts: 5,
      retryBaseMs: 0,
      retryMaxMs: 0,
      capacity: 100_000_000,
      leaseMs: 60_000,
      retentionMaxAgeMs: 86_400_000,
      retentionMaxFinished: 100_000_000,
      process: createSimulatedPipeline({ distribution: 'fixed', minMs: 0, maxMs: 0, failureRate: 0 }),
    },
    { metrics: createMetrics(), log: createLogger('silent') },
  );
  queue.start();
  const wal = join(dir, 'queue.sqlite-wal');
  let peak = 0;
  let commits = 0;
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, statSync(wal).size);
    } catch {}
  }, 20);
  const record = { name: 'Ravi', age: 32, city: 'Delhi' };
  const until = performance.now() + SECONDS * 1000;
  // Small bursts, each awaited: a commit every few hundred microseconds, never a quiet moment.
  while (performance.now() < until) {
    await Promise.all([queue.enqueue(record), queue.enqueue(record), queue.enqueue(record), queue.enqueue(record)]);
    commits++;
  }
  clearInterval(sampler);
  peak = Math.max(peak, statSync(wal).size);
  await queue.stop(1000);
  await queue.close();
  console.log(`WAL peak ${(peak / 2 ** 20).toFixed(1)} MiB after ${commits} enqueue commits in ${SECONDS} s (bound ${BOUND_BYTES / 2 ** 20} MiB)`);
  expect(commits).toBeGreaterThan(1000);
  expect(peak).toBeLessThan(BOUND_BYTES);
}, 60_000);
