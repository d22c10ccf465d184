import { afterEach, expect, test } from 'bun:test';
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/log';
import { createMetrics, renderMetrics } from '../src/metrics';
import { retryDelayMs } from '../src/queue/backoff';
import { JobQueue, type EngineOptions } from '../src/queue/engine';
import { createSimulatedPipeline, processingDelayMs, type Processor } from '../src/queue/pipeline';
import type { CommitRequest, JobStore } from '../src/queue/store';
import { openSqliteStore } from '../src/queue/stores/sqlite';
import { sample, waitFor } from './support/queue';

/** Explicit per-test budget: these tests start real processes and wait for real work. */
const TIMEOUT_MS = 20_000;

/** The queue engine in-process, on real SQLite files (and the memory store), with processors written for each case. */
const dirs: string[] = [];
const queues: JobQueue[] = [];
afterEach(async () => {
  for (const queue of queues.splice(0)) {
    await queue.stop(0);
    await queue.close();
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const RECORD = { name: 'Ravi', age: 32, city: 'Delhi' };
const silent = createLogger('silent');

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pipewatch-engine-'));
  dirs.push(dir);
  return dir;
}

async function makeQueue(opening: JobStore | Promise<JobStore>, options: Partial<EngineOptions> & { process: Processor }) {
  const metrics = createMetrics();
  const store = await opening;
  const queue = await JobQueue.open(
    store,
    {
      concurrency: 4,
      maxAttempts: 3,
      retryBaseMs: 5,
      retryMaxMs: 20,
      capacity: 1000,
      leaseMs: 30_000,
      retentionMaxAgeMs: 86_400_000,
      retentionMaxFinished: 100_000,
      ...options,
    },
    { metrics, log: silent },
  );
  queues.push(queue);
  return { queue, metrics };
}

const succeed: Processor = () => Promise.resolve();

test(
  'enqueues of one tick are committed in one transaction, and each resolves only once committed',
  async () => {
    const { store, seen } = await instrumentedStore();
    const { queue } = await makeQueue(store, { process: succeed });
    const ids = await Promise.all(Array.from({ length: 500 }, () => queue.enqueue(RECORD)));
    expect(seen.commits).toBe(1);
    expect(new Set(ids).size).toBe(500);
    for (const id of ids) expect((await queue.status(id))?.status).toBe('queued');
    // One at a time (each awaited): one transaction each.
    for (let i = 0; i < 3; i++) await queue.enqueue(RECORD);
    expect(seen.commits).toBe(4);
  },
  TIMEOUT_MS,
);

/**
 * A real sqlite store whose commits are counted (`commits`; `rows`: the enqueues of each commit
 * that has any), and which fails every commit while `poisoned`: a real SQLite failure inside the
 * group commit, the commit repeating its ids (UNIQUE).
 */
async function instrumentedStore() {
  const store = await openSqliteStore({ dataDir: tempDir(), synchronous: 'NORMAL' });
  const seen = { commits: 0, rows: [] as number[], poisoned: false };
  const instrumented: JobStore = Object.assign(Object.create(store) as JobStore, {
    commit: (request: CommitRequest) => {
      seen.commits++;
      if (request.enqueue.length > 0) seen.rows.push(request.enqueue.length);
      return store.commit(seen.poisoned ? { ...request, enqueue: [...request.enqueue, ...request.enqueue] } : request);
    },
  });
  return { store: instrumented, seen };
}

test(
  'enqueues that keep arriving over the next loop turns join the same commit (coalescing), and the drain does not wait for more',
  async () => {
    const { store, seen } = await instrumentedStore();
    // A wide window, so that a slow loop turn on a loaded machine does not close it: this is about the growing, the next test about the bound.
    const { queue } = await makeQueue(store, { process: succeed, coalesceMs: 5_000 });
    // Three bursts, one loop turn apart, as request bodies arriving in successive reads: one commit.
    const accepted: Array<Promise<string>> = [];
    const burst = () => {
      for (let i = 0; i < 5; i++) accepted.push(queue.enqueue(RECORD));
    };
    const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
    burst();
    await nextTurn();
    burst();
    await nextTurn();
    burst();
    expect(new Set(await Promise.all(accepted)).size).toBe(15);
    expect(seen.rows).toEqual([15]);

    // Once stopping, what is there is committed in the same call, without waiting for more.
    const last = queue.enqueue(RECORD);
    await queue.stop(0);
    expect((await queue.status(await last))?.status).toBe('queued');
    expect(seen.rows).toEqual([15, 1]);
  },
  TIMEOUT_MS,
);

test(
  'coalescing is bounded: an enqueue on every loop turn does not hold its commit back beyond the window',
  async () => {
    const { store, seen } = await instrumentedStore();
    const { queue } = await makeQueue(store, { process: succeed, capacity: 10_000 });
    const first = queue.enqueue(RECORD);
    let committed = false;
    void first.then(() => (committed = true));
    // A new enqueue every turn for 2,000 turns: milliseconds, far longer than the default 0.3 ms window.
    const later: Array<Promise<string>> = [];
    for (let turn = 0; turn < 2_000; turn++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      later.push(queue.enqueue(RECORD));
    }
    expect(committed).toBe(true);
    await Promise.all(later);
    expect(seen.rows.length).toBeGreaterThan(1);
  },
  TIMEOUT_MS,
);

test(
  'a commit that fails refuses the whole tick with 503-style storage errors, writes none of it, and the queue goes on',
  async () => {
    const { store, seen } = await instrumentedStore();
    const { queue, metrics } = await makeQueue(store, { process: succeed });
    const before = await queue.enqueue(RECORD);
    seen.poisoned = true;
    const refused = await Promise.allSettled([queue.enqueue(RECORD), queue.enqueue(RECORD)]);
    seen.poisoned = false;
    for (const outcome of refused) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({ name: 'QueueUnavailableError', reason: 'storage' });
    }
    const after = await queue.enqueue(RECORD);
    expect(queue.stats().depth.queued).toBe(2);
    expect([(await queue.status(before))?.status, (await queue.status(after))?.status]).toEqual(['queued', 'queued']);
    expect(sample(await renderMetrics(metrics), 'pipewatch_jobs_enqueued_total')).toBe(2);
  },
  TIMEOUT_MS,
);

test(
  'a stuck attempt loses its lease: the job runs again, and the late answer changes nothing',
  async () => {
    let calls = 0;
    let releaseStuck: () => void = () => {};
    const process: Processor = () => {
      calls++;
      if (calls === 1) return new Promise<void>((resolve) => (releaseStuck = resolve));
      return Promise.resolve();
    };
    const { queue, metrics } = await makeQueue(openSqliteStore({ dataDir: tempDir(), synchronous: 'NORMAL' }), { process, leaseMs: 200 });
    queue.start();
    const id = await queue.enqueue(RECORD);
    const status = await waitFor(
      'the job to succeed on a second attempt',
      async () => {
        const s = await queue.status(id);
        return s?.status === 'succeeded' ? s : undefined;
      },
      5000,
    );
    expect(status).toMatchObject({ attempts: 2, lastError: 'lease_expired' });
    releaseStuck();
    await Bun.sleep(50);
    expect(await queue.status(id)).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(sample(await renderMetrics(metrics), 'pipewatch_job_outcomes_total{outcome="succeeded"}')).toBe(1);
  },
  TIMEOUT_MS,
);

test(
  'a restart on the same file resumes queued jobs, and interrupted ones count as an attempt',
  async () => {
    const dir = tempDir();
    const never: Processor = () => new Promise<void>(() => {});
    const a = await makeQueue(openSqliteStore({ dataDir: dir, synchronous: 'FULL' }), { process: never, concurrency: 1, maxAttempts: 2 });
    const ids = [await a.queue.enqueue(RECORD), await a.queue.enqueue(RECORD)];
    a.queue.start();
    await waitFor('one job processing', async () => (await a.queue.status(ids[0]!))?.status === 'processing');
    // Like a process dying: close without stop(), so the lease is still in the file.
    queues.splice(queues.indexOf(a.queue), 1);
    await a.queue.close();

    const b = await makeQueue(openSqliteStore({ dataDir: dir, synchronous: 'FULL' }), { process: succeed, maxAttempts: 2 });
    expect(await b.queue.status(ids[0]!)).toMatchObject({ status: 'queued', attempts: 1, lastError: 'interrupted' });
    expect(await b.queue.status(ids[1]!)).toMatchObject({ status: 'queued', attempts: 0 });
    expect(sample(await renderMetrics(b.metrics), 'pipewatch_job_outcomes_total{outcome="retried"}')).toBe(1);
    b.queue.start();
    await waitFor('both jobs to succeed', async () => (await Promise.all(ids.map((id) => b.queue.status(id)))).every((s) => s?.status === 'succeeded'));
    expect((await b.queue.status(ids[0]!))?.attempts).toBe(2);
    expect((await b.queue.status(ids[1]!))?.attempts).toBe(1);
  },
  TIMEOUT_MS,
);

test(
  'retention keeps at most RETENTION_MAX_FINISHED finished jobs, newest first, and prunes by age',
  async () => {
    const { queue, metrics } = await makeQueue(openSqliteStore({ dataDir: tempDir(), synchronous: 'NORMAL' }), {
      process: succeed,
      concurrency: 1,
      retentionMaxFinished: 5,
    });
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push(await queue.enqueue(RECORD));
    queue.start();
    await waitFor('5 finished jobs kept', () => queue.stats().depth.succeeded === 5 && queue.stats().depth.queued === 0, 5000);
    // Processed in enqueue order with one worker: the last five finished last and are kept.
    const kept = await Promise.all(ids.map(async (id) => (await queue.status(id)) !== undefined));
    expect(kept).toEqual([...Array(7).fill(false), ...Array(5).fill(true)]);
    expect(sample(await renderMetrics(metrics), 'pipewatch_queue_jobs{state="succeeded"}')).toBe(5);

    const aged = await makeQueue(openSqliteStore({ dataDir: tempDir(), synchronous: 'NORMAL' }), { process: succeed, retentionMaxAgeMs: 300 });
    const old = await aged.queue.enqueue(RECORD);
    aged.queue.start();
    await waitFor('the finished job to be pruned by age', async () => (await aged.queue.status(old)) === undefined, 5000);
    expect(aged.queue.stats().depth.succeeded).toBe(0);
  },
  TIMEOUT_MS,
);

test(
  'the oldest-job gauge tracks the oldest unfinished job, and the backlog gauge the queued count',
  async () => {
    const { queue, metrics } = await makeQueue(openSqliteStore({ dataDir: tempDir(), synchronous: 'NORMAL' }), { process: succeed });
    await queue.enqueue(RECORD);
    await Bun.sleep(1100);
    await queue.enqueue(RECORD);
    const text = await renderMetrics(metrics);
    expect(sample(text, 'pipewatch_queue_jobs{state="queued"}')).toBe(2);
    expect(sample(text, 'pipewatch_queue_oldest_job_age_seconds')).toBeGreaterThanOrEqual(1);
    queue.start();
    await waitFor('the backlog to drain', () => queue.stats().depth.queued === 0);
    expect(sample(await renderMetrics(metrics), 'pipewatch_queue_oldest_job_age_seconds')).toBe(0);
  },
  TIMEOUT_MS,
);

test(
  'backoff is exponential with full jitter, capped at RETRY_MAX_MS',
  () => {
    expect(retryDelayMs(1, 200, 30_000, () => 0)).toBe(0);
    expect(retryDelayMs(1, 200, 30_000, () => 0.999_999)).toBe(199);
    expect(retryDelayMs(3, 200, 30_000, () => 0.999_999)).toBe(799);
    expect(retryDelayMs(20, 200, 30_000, () => 0.999_999)).toBe(29_999);
    for (let i = 0; i < 1000; i++) {
      const delay = retryDelayMs(4, 200, 30_000);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(1600);
    }
  },
  TIMEOUT_MS,
);

test(
  'the simulated delay follows its distribution within [min, max], and the failure rate holds at 0 and 1',
  async () => {
    const options = { minMs: 10, maxMs: 100, failureRate: 0 };
    expect(processingDelayMs({ ...options, distribution: 'fixed' }, () => 0.7)).toBe(10);
    expect(processingDelayMs({ ...options, distribution: 'uniform' }, () => 0.5)).toBe(55);
    expect(processingDelayMs({ ...options, distribution: 'exponential' }, () => 0)).toBe(10);
    expect(processingDelayMs({ ...options, distribution: 'exponential' }, () => 0.999_999_999)).toBe(100);
    for (const distribution of ['uniform', 'exponential'] as const) {
      for (let i = 0; i < 1000; i++) {
        const delay = processingDelayMs({ ...options, distribution });
        expect(delay).toBeGreaterThanOrEqual(10);
        expect(delay).toBeLessThanOrEqual(100);
      }
    }
    const instant = { distribution: 'fixed' as const, minMs: 0, maxMs: 0 };
    const never = createSimulatedPipeline({ ...instant, failureRate: 0 });
    const always = createSimulatedPipeline({ ...instant, failureRate: 1 });
    const attempt = { id: 'x', attempt: 1, trace: null };
    const outcomes = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => (i % 2 ? never(RECORD, attempt) : always(RECORD, attempt))));
    for (const [i, outcome] of outcomes.entries()) expect(outcome.status).toBe(i % 2 ? 'fulfilled' : 'rejected');
  },
  TIMEOUT_MS,
);

/** A logger whose lines the test can read. */
function recordingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger('info', sink), lines };
}

test(
  'start-up recovery logs every job it dead-letters by id (and the totals), never the record',
  async () => {
    const dir = tempDir();
    const never: Processor = () => new Promise<void>(() => {});
    const a = await makeQueue(openSqliteStore({ dataDir: dir, synchronous: 'NORMAL' }), { process: never, concurrency: 2, maxAttempts: 1 });
    const ids = [await a.queue.enqueue(RECORD), await a.queue.enqueue(RECORD), await a.queue.enqueue(RECORD)];
    a.queue.start();
    await waitFor('two jobs processing', () => a.queue.stats().depth.processing === 2);
    queues.splice(queues.indexOf(a.queue), 1);
    await a.queue.close(); // like a crash: the two leases stay in the file

    const { log, lines } = recordingLogger();
    const b = await JobQueue.open(
      await openSqliteStore({ dataDir: dir, synchronous: 'NORMAL' }),
      {
        concurrency: 1,
        maxAttempts: 1,
        retryBaseMs: 5,
        retryMaxMs: 20,
        capacity: 1000,
        leaseMs: 30_000,
        retentionMaxAgeMs: 86_400_000,
        retentionMaxFinished: 1000,
        process: succeed,
      },
      { metrics: createMetrics(), log },
    );
    queues.push(b);
    await waitFor('the recovery summary line', () => lines.some((line) => line.msg === 'recovered jobs interrupted by an unclean stop'));
    const deadLetters = lines.filter((line) => line.msg === 'job dead-lettered');
    expect(deadLetters.map((line) => line.job_id).sort()).toEqual(ids.slice(0, 2).sort());
    for (const line of deadLetters) expect(line).toMatchObject({ level: 'warn', reason: 'interrupted' });
    expect(lines.find((line) => line.msg === 'recovered jobs interrupted by an unclean stop')).toMatchObject({ requeued: 0, dead_lettered: 2 });
    expect(JSON.stringify(lines)).not.toContain('Ravi');
  },
  TIMEOUT_MS,
);

test(
  'a commit that keeps failing (disk full) is logged once per interval with a count, not once per tick, and its end once',
  async () => {
    const { store: failing, seen } = await instrumentedStore();
    seen.poisoned = true;
    const { log, lines } = recordingLogger();
    const queue = await JobQueue.open(
      failing,
      {
        concurrency: 1,
        maxAttempts: 3,
        retryBaseMs: 5,
        retryMaxMs: 20,
        capacity: 1000,
        leaseMs: 30_000,
        retentionMaxAgeMs: 86_400_000,
        retentionMaxFinished: 1000,
        process: succeed,
      },
      { metrics: createMetrics(), log },
    );
    queues.push(queue);
    let refused = 0;
    const until = performance.now() + 1000;
    while (performance.now() < until) {
      await queue.enqueue(RECORD).catch(() => refused++);
    }
    seen.poisoned = false;
    await queue.enqueue(RECORD);
    await waitFor('the recovery line', () => lines.some((line) => line.msg === 'queue commits succeed again'));
    const failures = lines.filter((line) => line.msg === 'queue commit failed');
    expect(refused).toBeGreaterThan(50);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ level: 'error', code: 'SQLITE_CONSTRAINT_UNIQUE' });
    expect(lines.filter((line) => line.msg === 'queue commits succeed again')).toEqual([expect.objectContaining({ suppressed: refused - 1 })]);
  },
  TIMEOUT_MS,
);

test(
  'a submission whose request is already gone when its batch commits is left out (not stored, rejected); the rest of the batch is stored',
  async () => {
    const { queue } = await makeQueue(openSqliteStore({ dataDir: tempDir(), synchronous: 'NORMAL' }), { process: succeed });
    const gone = new AbortController();
    const kept = queue.enqueue(RECORD, { signal: new AbortController().signal });
    const dropped = queue.enqueue(RECORD, { signal: gone.signal });
    gone.abort(); // the connection closes before the tick's commit
    await expect(dropped).rejects.toMatchObject({ name: 'SubmissionAbortedError' });
    const id = await kept;
    expect((await queue.status(id))?.status).toBe('queued');
    expect(queue.stats().depth.queued).toBe(1);
  },
  TIMEOUT_MS,
);
