import { afterEach, expect, test } from 'bun:test';
import { createLogger } from '../src/log';
import { createMetrics } from '../src/metrics';
import { JobQueue, type EngineOptions } from '../src/queue/engine';
import type { Processor } from '../src/queue/pipeline';
import type { CommitRequest, JobStore } from '../src/queue/store';
import { openMemoryStore } from '../src/queue/stores/memory';
import { waitFor } from './support/queue';

/**
 * The engine's shared-store protocol (ownership 'shared': no recovery at start, expired leases
 * reclaimed by any instance, leases renewed while an attempt runs, stats polled, due work polled),
 * with two engines in one process on ONE real store. The store is the memory driver declaring
 * itself shared and, like a shared store, not telling the engine when the next job is due; the
 * PostgreSQL tests (test/pg-*) run the same protocol across processes on a real database.
 */
const TIMEOUT_MS = 20_000;
const RECORD = { name: 'Ravi', age: 32, city: 'Delhi' };
const queues: JobQueue[] = [];
afterEach(async () => {
  for (const queue of queues.splice(0)) {
    await queue.stop(0);
    await queue.close();
  }
});

/** One store, seen by each instance through its own handle (closing one instance leaves the data). */
async function sharedStore(): Promise<() => JobStore> {
  const store = await openMemoryStore();
  return () =>
    Object.assign(Object.create(store) as JobStore, {
      ownership: 'shared' as const,
      commit: async (request: CommitRequest) => {
        const { nextRunAt: _unknown, ...result } = await store.commit(request);
        return result;
      },
      close: async () => {},
    });
}

async function instance(handle: JobStore, process: Processor, options: Partial<EngineOptions> = {}) {
  const queue = await JobQueue.open(
    handle,
    {
      concurrency: 2,
      maxAttempts: 3,
      retryBaseMs: 5,
      retryMaxMs: 20,
      capacity: 1000,
      leaseMs: 10_000,
      retentionMaxAgeMs: 86_400_000,
      retentionMaxFinished: 1000,
      pollMs: 50,
      sharedLeaseMs: 600,
      process,
      ...options,
    },
    { metrics: createMetrics(), log: createLogger('silent') },
  );
  queues.push(queue);
  return queue;
}

test(
  'a job enqueued on one instance is run by another that polls the shared queue',
  async () => {
    const handle = await sharedStore();
    const never: Processor = () => new Promise<void>(() => {});
    const api = await instance(handle(), never); // takes submissions, never started: runs nothing
    const ran: string[] = [];
    const worker = await instance(handle(), async (_record, attempt) => void ran.push(attempt.id));
    worker.start();
    const id = await api.enqueue(RECORD, { trace: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
    await waitFor('the other instance to run it', () => ran.includes(id), 5000);
    await waitFor('the job to succeed', async () => (await api.status(id))?.status === 'succeeded', 5000);
  },
  TIMEOUT_MS,
);

test(
  "a dead instance's leases are reclaimed by a live one after the short shared lease, not LEASE_MS",
  async () => {
    const handle = await sharedStore();
    const never: Processor = () => new Promise<void>(() => {});
    const dying = await instance(handle(), never);
    dying.start();
    const id = await dying.enqueue(RECORD);
    await waitFor('the job to be leased', async () => (await dying.status(id))?.status === 'processing', 5000);
    // The instance dies: no release, no more renewals (its timers stop with close()).
    queues.splice(queues.indexOf(dying), 1);
    await dying.close();

    const started = performance.now();
    const survivor = await instance(handle(), () => Promise.resolve());
    survivor.start();
    await waitFor('the survivor to finish the job', async () => (await survivor.status(id))?.status === 'succeeded', 10_000);
    expect(await survivor.status(id)).toMatchObject({ attempts: 2, lastError: 'lease_expired' });
    expect(performance.now() - started).toBeLessThan(8000); // the 600 ms lease plus housekeeping; LEASE_MS is 10 s
  },
  TIMEOUT_MS,
);

test(
  'a long attempt renews its lease, so another instance never takes it while it runs',
  async () => {
    const handle = await sharedStore();
    let runs = 0;
    const slow: Processor = async () => {
      runs++;
      await Bun.sleep(2000); // more than three shared leases of 600 ms
    };
    const a = await instance(handle(), slow);
    const b = await instance(handle(), slow);
    a.start();
    const id = await a.enqueue(RECORD);
    await waitFor('the job to be leased', async () => (await a.status(id))?.status === 'processing', 5000);
    b.start();
    await waitFor('the job to succeed', async () => (await a.status(id))?.status === 'succeeded', 10_000);
    expect(runs).toBe(1);
    expect(await a.status(id)).toMatchObject({ attempts: 1, lastError: null });
  },
  TIMEOUT_MS,
);

test(
  'SIGTERM-style stop releases running attempts so another instance takes them at once, uncounted',
  async () => {
    const handle = await sharedStore();
    const never: Processor = () => new Promise<void>(() => {});
    const leaving = await instance(handle(), never);
    leaving.start();
    const id = await leaving.enqueue(RECORD);
    await waitFor('the job to be leased', async () => (await leaving.status(id))?.status === 'processing', 5000);
    const other = await instance(handle(), () => Promise.resolve());
    other.start();
    queues.splice(queues.indexOf(leaving), 1);
    await leaving.stop(0);
    await leaving.close();
    await waitFor('the other instance to finish it', async () => (await other.status(id))?.status === 'succeeded', 5000);
    expect(await other.status(id)).toMatchObject({ attempts: 1, lastError: null });
  },
  TIMEOUT_MS,
);

test(
  "backpressure compares the global backlog (every instance's jobs) with QUEUE_CAPACITY",
  async () => {
    const handle = await sharedStore();
    const never: Processor = () => new Promise<void>(() => {});
    const a = await instance(handle(), never, { capacity: 3 });
    const b = await instance(handle(), never, { capacity: 3 });
    a.start(); // housekeeping polls the shared figures about once a second
    b.start();
    for (let i = 0; i < 3; i++) await a.enqueue(RECORD);
    await waitFor('b to see the global backlog', () => b.stats().depth.queued + b.stats().depth.processing >= 3, 5000);
    await expect(b.enqueue(RECORD)).rejects.toMatchObject({ reason: 'capacity' });
  },
  TIMEOUT_MS,
);
