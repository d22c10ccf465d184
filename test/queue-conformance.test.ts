import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { createLogger } from '../src/log';
import { createMetrics } from '../src/metrics';
import { JobQueue } from '../src/queue/engine';
import type { ClaimedJob, CommitRequest, JobStore, NewJob, Settle } from '../src/queue/store';
import type { Submission } from '../src/queue/types';
import { DRIVERS, type StoreHandle } from './support/queue-drivers';
import { REPO_ROOT } from './support/service';

/**
 * The store contract (src/queue/store.ts), proven the same way for every driver in
 * test/support/queue-drivers.ts, on real storage. Store-level: the tests call the contract
 * directly with explicit times, so nothing here waits on a clock.
 */
const TIMEOUT_MS = 20_000;
const T0 = 1_800_000_000_000;
const LEASE = 30_000;
const RECORD: Submission = { name: 'Ravi', age: 32, city: 'Delhi' };
const TRACE = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

function newJobs(count: number, make: (i: number) => Partial<NewJob> = () => ({})): NewJob[] {
  return Array.from({ length: count }, (_, i) => ({ id: Bun.randomUUIDv7(), record: RECORD, trace: null, ...make(i) }));
}

function request(now: number, part: Partial<CommitRequest>): CommitRequest {
  return { now, enqueue: [], settles: [], renew: [], claim: 0, leaseUntil: now + LEASE, ...part };
}

async function enqueue(store: JobStore, now: number, jobs: NewJob[]): Promise<void> {
  await store.commit(request(now, { enqueue: jobs }));
}

async function claim(store: JobStore, now: number, limit: number, leaseUntil = now + LEASE): Promise<ClaimedJob[]> {
  return (await store.commit(request(now, { claim: limit, leaseUntil }))).claimed;
}

async function settle(store: JobStore, now: number, ...settles: Settle[]): Promise<boolean[]> {
  return (await store.commit(request(now, { settles }))).applied;
}

function readPeople(): Promise<Submission[]> {
  return Bun.file(join(REPO_ROOT, 'artillery/payloads/people.csv'))
    .text()
    .then((text) =>
      text
        .trim()
        .split('\n')
        .slice(1)
        .map((line) => {
          const [name, age, city] = line.split(',');
          return { name: name!, age: Number(age), city: city! };
        }),
    );
}

describe.each(DRIVERS)('$name store', (driver) => {
  let handle: StoreHandle;
  let store: JobStore;
  beforeAll(async () => driver.setUp?.(), 120_000);
  afterAll(async () => driver.tearDown?.(), 60_000);
  const fresh = async () => {
    handle = await driver.create();
    store = handle.store;
  };
  afterEach(async () => handle?.dispose());

  test(
    'declares what it is: ownership, durability and a stable queue id',
    async () => {
      await fresh();
      expect(['single', 'shared']).toContain(store.ownership);
      expect(['nothing', 'process-crash', 'power-loss']).toContain(store.durability);
      expect(store.queueId).toMatch(/^[0-9a-f-]{36}$/);
      expect((await store.stats()).depth).toEqual({ queued: 0, processing: 0, succeeded: 0, failed: 0 });
    },
    TIMEOUT_MS,
  );

  test(
    'enqueue, claim and succeed: one commit each, the claim fenced by its attempt',
    async () => {
      await fresh();
      const [job] = newJobs(1, () => ({ trace: TRACE }));
      await enqueue(store, T0, [job!]);
      expect(await store.status(job!.id)).toMatchObject({
        id: job!.id,
        status: 'queued',
        attempts: 0,
        lastError: null,
        finishedAt: null,
        nextAttemptAt: new Date(T0).toISOString(),
      });
      const [claimed] = await claim(store, T0 + 5, 10);
      expect(claimed).toMatchObject({ id: job!.id, record: RECORD, trace: TRACE, attempts: 1, availableAt: T0 });
      expect(await store.status(job!.id)).toMatchObject({ status: 'processing', attempts: 1, nextAttemptAt: null });
      expect(await claim(store, T0 + 6, 10)).toEqual([]);
      expect(await settle(store, T0 + 10, { kind: 'succeeded', seq: claimed!.seq, attempts: 1, now: T0 + 10 })).toEqual([true]);
      expect(await store.status(job!.id)).toMatchObject({
        status: 'succeeded',
        attempts: 1,
        finishedAt: new Date(T0 + 10).toISOString(),
        updatedAt: new Date(T0 + 10).toISOString(),
      });
      expect((await store.stats()).depth).toEqual({ queued: 0, processing: 0, succeeded: 1, failed: 0 });
    },
    TIMEOUT_MS,
  );

  test(
    'enqueues, settles and claims in ONE commit: new jobs may be claimed by the commit that inserts them',
    async () => {
      await fresh();
      await enqueue(store, T0, newJobs(2));
      const [first] = await claim(store, T0, 1);
      const jobs = newJobs(3);
      const result = await store.commit(
        request(T0 + 1, { enqueue: jobs, settles: [{ kind: 'succeeded', seq: first!.seq, attempts: 1, now: T0 + 1 }], claim: 10 }),
      );
      expect(result.applied).toEqual([true]);
      // The second job of the first batch is due first; the new ones follow in enqueue order (or wait for the next commit).
      const ids = result.claimed.map((job) => job.id);
      const rest = ids.length === 1 ? [...ids, ...(await claim(store, T0 + 2, 10)).map((job) => job.id)] : ids;
      expect(rest.slice(1)).toEqual(jobs.map((job) => job.id));
    },
    TIMEOUT_MS,
  );

  test(
    'a retry waits for its backoff, keeps its reason, and runs again; the last attempt dead-letters',
    async () => {
      await fresh();
      const [job] = newJobs(1);
      await enqueue(store, T0, [job!]);
      let [run] = await claim(store, T0, 1);
      expect(await settle(store, T0 + 10, { kind: 'retry', seq: run!.seq, attempts: 1, now: T0 + 10, runAt: T0 + 500, reason: 'processing_failed' })).toEqual([
        true,
      ]);
      expect(await store.status(job!.id)).toMatchObject({
        status: 'queued',
        attempts: 1,
        lastError: 'processing_failed',
        nextAttemptAt: new Date(T0 + 500).toISOString(),
      });
      expect(await claim(store, T0 + 499, 1)).toEqual([]);
      [run] = await claim(store, T0 + 500, 1);
      expect(run).toMatchObject({ id: job!.id, attempts: 2, availableAt: T0 + 500 });
      expect(await settle(store, T0 + 600, { kind: 'failed', seq: run!.seq, attempts: 2, now: T0 + 600, reason: 'processing_failed' })).toEqual([true]);
      expect(await store.status(job!.id)).toMatchObject({
        status: 'failed',
        attempts: 2,
        lastError: 'processing_failed',
        nextAttemptAt: null,
        finishedAt: new Date(T0 + 600).toISOString(),
      });
      expect((await store.stats()).depth).toMatchObject({ queued: 0, processing: 0, failed: 1 });
    },
    TIMEOUT_MS,
  );

  test(
    'a release gives the job back at once without counting the attempt',
    async () => {
      await fresh();
      const [job] = newJobs(1);
      await enqueue(store, T0, [job!]);
      const [run] = await claim(store, T0, 1);
      expect(await settle(store, T0 + 50, { kind: 'release', seq: run!.seq, attempts: 1, now: T0 + 50 })).toEqual([true]);
      expect(await store.status(job!.id)).toMatchObject({ status: 'queued', attempts: 0 });
      const [again] = await claim(store, T0 + 50, 1);
      expect(again).toMatchObject({ id: job!.id, attempts: 1 });
    },
    TIMEOUT_MS,
  );

  test(
    'a late settle or renewal from an abandoned attempt changes nothing',
    async () => {
      await fresh();
      const [job] = newJobs(1);
      await enqueue(store, T0, [job!]);
      const [stale] = await claim(store, T0, 1, T0 + 100);
      // The lease ended; recovery gives the attempt up and another attempt takes the job.
      expect(await store.recover({ leaseEndedBy: T0 + 100, now: T0 + 100, maxAttempts: 5, reason: 'lease_expired', limit: 100 })).toEqual({
        requeued: 1,
        deadLettered: [],
      });
      const [current] = await claim(store, T0 + 100, 1);
      expect(current!.attempts).toBe(2);
      const late: Settle[] = [
        { kind: 'succeeded', seq: stale!.seq, attempts: 1, now: T0 + 150 },
        { kind: 'failed', seq: stale!.seq, attempts: 1, now: T0 + 150, reason: 'processing_failed' },
        { kind: 'retry', seq: stale!.seq, attempts: 1, now: T0 + 150, runAt: T0 + 150, reason: 'processing_failed' },
        { kind: 'release', seq: stale!.seq, attempts: 1, now: T0 + 150 },
      ];
      const result = await store.commit(request(T0 + 150, { settles: late, renew: [{ seq: stale!.seq, attempts: 1 }] }));
      expect(result.applied).toEqual([false, false, false, false]);
      expect(result.renewed).toEqual([false]);
      expect(await store.status(job!.id)).toMatchObject({ status: 'processing', attempts: 2, lastError: 'lease_expired' });
      // The current attempt still settles, once.
      expect(
        await settle(
          store,
          T0 + 200,
          { kind: 'succeeded', seq: current!.seq, attempts: 2, now: T0 + 200 },
          { kind: 'succeeded', seq: current!.seq, attempts: 2, now: T0 + 201 },
        ),
      ).toEqual([true, false]);
    },
    TIMEOUT_MS,
  );

  test(
    'leases: recovery takes only expired ones, renewal pushes the end out, the last attempt is dead-lettered by id',
    async () => {
      await fresh();
      const jobs = newJobs(3);
      await enqueue(store, T0, jobs);
      const claimed = await claim(store, T0, 3, T0 + 1000);
      // Renew the first: its lease now ends at T0 + 5000.
      expect((await store.commit(request(T0 + 600, { renew: [{ seq: claimed[0]!.seq, attempts: 1 }], leaseUntil: T0 + 5000 }))).renewed).toEqual([true]);
      expect(await store.recover({ leaseEndedBy: T0 + 999, now: T0 + 999, maxAttempts: 5, reason: 'lease_expired', limit: 100 })).toEqual({
        requeued: 0,
        deadLettered: [],
      });
      // At T0 + 1000 the other two have expired: one has attempts left, the other (maxAttempts 1) none.
      const recovered = await store.recover({ leaseEndedBy: T0 + 1000, now: T0 + 1000, maxAttempts: 1, reason: 'lease_expired', limit: 100 });
      expect(recovered.requeued).toBe(0);
      expect(recovered.deadLettered.sort()).toEqual([claimed[1]!.id, claimed[2]!.id].sort());
      expect(await store.status(claimed[1]!.id)).toMatchObject({ status: 'failed', lastError: 'lease_expired', attempts: 1 });
      expect(await store.status(claimed[0]!.id)).toMatchObject({ status: 'processing' });
      // Counted attempts stay counted: with attempts left, the job is queued again, due now.
      const more = await store.recover({ leaseEndedBy: T0 + 5000, now: T0 + 5000, maxAttempts: 5, reason: 'interrupted', limit: 100 });
      expect(more).toEqual({ requeued: 1, deadLettered: [] });
      expect(await store.status(claimed[0]!.id)).toMatchObject({
        status: 'queued',
        attempts: 1,
        lastError: 'interrupted',
        nextAttemptAt: new Date(T0 + 5000).toISOString(),
      });
    },
    TIMEOUT_MS,
  );

  test(
    'recovery works in batches of its limit',
    async () => {
      await fresh();
      await enqueue(store, T0, newJobs(5));
      await claim(store, T0, 5, T0 + 10);
      const first = await store.recover({ leaseEndedBy: Number.MAX_SAFE_INTEGER, now: T0 + 20, maxAttempts: 5, reason: 'interrupted', limit: 3 });
      const second = await store.recover({ leaseEndedBy: Number.MAX_SAFE_INTEGER, now: T0 + 20, maxAttempts: 5, reason: 'interrupted', limit: 3 });
      expect([first.requeued, second.requeued]).toEqual([3, 2]);
    },
    TIMEOUT_MS,
  );

  test(
    'due order is (runAt, enqueue order), and a claim takes at most its limit',
    async () => {
      await fresh();
      const jobs = newJobs(6);
      await enqueue(store, T0, jobs);
      const runs = await claim(store, T0, 6);
      // Give them back with due times out of enqueue order: 3 and 1 share the earliest time.
      const due = [T0 + 30, T0 + 10, T0 + 40, T0 + 10, T0 + 20, T0 + 50];
      await settle(
        store,
        T0 + 1,
        ...runs.map((run, i): Settle => ({ kind: 'retry', seq: run.seq, attempts: 1, now: T0 + 1, runAt: due[i]!, reason: 'processing_failed' })),
      );
      const order = [...(await claim(store, T0 + 45, 2)), ...(await claim(store, T0 + 45, 10))].map((job) => jobs.findIndex((j) => j.id === job.id));
      expect(order).toEqual([1, 3, 4, 0, 2]);
      expect(await claim(store, T0 + 49, 10)).toEqual([]);
    },
    TIMEOUT_MS,
  );

  test(
    'batches of any size keep each id with its own record, in order',
    async () => {
      await fresh();
      const ids: string[] = [];
      let n = 0;
      for (const size of [1, 7, 8, 9, 33, 128, 300]) {
        const batch = newJobs(size, () => {
          const i = n++;
          return { record: { name: `n${i}`, age: i % 131, city: `c${i}` } };
        });
        await enqueue(store, T0, batch);
        ids.push(...batch.map((job) => job.id));
      }
      const claimed = await claim(store, T0, 10_000);
      expect(claimed.map((job) => job.id)).toEqual(ids);
      for (const [i, job] of claimed.entries()) expect(job.record).toEqual({ name: `n${i}`, age: i % 131, city: `c${i}` });
      expect((await store.stats()).depth).toMatchObject({ queued: 0, processing: ids.length });
    },
    TIMEOUT_MS,
  );

  test(
    'every record of the payload file (every script in it) comes back exactly as given',
    async () => {
      await fresh();
      const people = await readPeople();
      expect(people.length).toBeGreaterThan(1000);
      const jobs = newJobs(people.length, (i) => ({ record: people[i]! }));
      await enqueue(store, T0, jobs);
      const claimed = await claim(store, T0, people.length);
      expect(claimed.map((job) => job.record)).toEqual(people);
    },
    TIMEOUT_MS,
  );

  test(
    'the trace column round-trips, null included, and stays out of the status resource',
    async () => {
      await fresh();
      const traces = [null, TRACE, `${TRACE} congo=t61rcWkgMzE,rojo=00f067aa0ba902b7`, ''];
      const jobs = newJobs(traces.length, (i) => ({ trace: traces[i] }));
      await enqueue(store, T0, jobs);
      const claimed = await claim(store, T0, 10);
      expect(claimed.map((job) => job.trace)).toEqual(traces);
      expect(JSON.stringify(await store.status(jobs[1]!.id))).not.toContain('4bf92f35');
      // Retried jobs carry it on their next claim too.
      await settle(store, T0 + 1, { kind: 'retry', seq: claimed[1]!.seq, attempts: 1, now: T0 + 1, runAt: T0 + 2, reason: 'processing_failed' });
      expect((await claim(store, T0 + 2, 1))[0]!.trace).toBe(TRACE);
    },
    TIMEOUT_MS,
  );

  test(
    'status of unknown, malformed and pruned ids is undefined',
    async () => {
      await fresh();
      for (const id of [Bun.randomUUIDv7(), 'not-a-uuid', '', "'; DROP TABLE jobs; --", 'x'.repeat(64)]) expect(await store.status(id)).toBeUndefined();
    },
    TIMEOUT_MS,
  );

  test(
    'retention: first the excess oldest finished, then those older than the cut-off, at most limit per call; unfinished never',
    async () => {
      await fresh();
      const jobs = newJobs(8);
      await enqueue(store, T0, jobs);
      const runs = await claim(store, T0, 6);
      // Six finish at T0+1..T0+6 (the fifth and sixth fail), two stay queued.
      for (let i = 0; i < 6; i++) {
        const now = T0 + 1 + i;
        await settle(
          store,
          now,
          i < 4
            ? { kind: 'succeeded', seq: runs[i]!.seq, attempts: 1, now }
            : { kind: 'failed', seq: runs[i]!.seq, attempts: 1, now, reason: 'processing_failed' },
        );
      }
      expect(await store.prune({ excess: 2, finishedBefore: 0, limit: 1000 })).toEqual({ succeeded: 2, failed: 0 });
      expect(await store.status(jobs[0]!.id)).toBeUndefined();
      expect(await store.status(jobs[2]!.id)).toBeDefined();
      // By age: finished before T0+5 are runs 2 and 3; limit 1 takes one at a time.
      expect(await store.prune({ excess: 0, finishedBefore: T0 + 5, limit: 1 })).toEqual({ succeeded: 1, failed: 0 });
      expect(await store.prune({ excess: 0, finishedBefore: T0 + 5, limit: 10 })).toEqual({ succeeded: 1, failed: 0 });
      expect(await store.prune({ excess: 0, finishedBefore: T0 + 5, limit: 10 })).toEqual({ succeeded: 0, failed: 0 });
      expect(await store.prune({ excess: 100, finishedBefore: 0, limit: 1000 })).toEqual({ succeeded: 0, failed: 2 });
      expect((await store.stats()).depth).toEqual({ queued: 2, processing: 0, succeeded: 0, failed: 0 });
    },
    TIMEOUT_MS,
  );

  test(
    'stats: counts by state, the oldest unfinished job, the next due time, leadership',
    async () => {
      await fresh();
      await enqueue(store, T0, newJobs(2));
      await enqueue(store, T0 + 100, newJobs(1));
      const [run] = await claim(store, T0 + 200, 1);
      await settle(store, T0 + 300, { kind: 'retry', seq: run!.seq, attempts: 1, now: T0 + 300, runAt: T0 + 900, reason: 'processing_failed' });
      const stats = await store.stats();
      expect(stats.depth).toEqual({ queued: 3, processing: 0, succeeded: 0, failed: 0 });
      expect(stats.oldestUnfinishedCreatedAt).toBe(T0);
      expect(stats.nextRunAt).toBe(T0);
      expect(await store.oldestUnfinishedCreatedAt()).toBe(T0);
      if (store.ownership === 'single') expect(stats.leader).toBe(true);
    },
    TIMEOUT_MS,
  );

  test(
    'the oldest unfinished job follows finishing jobs, and is found again after the queue emptied and every row was pruned',
    async () => {
      await fresh();
      await enqueue(store, T0, newJobs(3));
      const runs = await claim(store, T0 + 1, 3);
      await settle(store, T0 + 2, ...runs.map((run): Settle => ({ kind: 'succeeded', seq: run.seq, attempts: 1, now: T0 + 2 })));
      expect(await store.oldestUnfinishedCreatedAt()).toBeNull();
      expect(await store.prune({ excess: 100, finishedBefore: 0, limit: 1000 })).toEqual({ succeeded: 3, failed: 0 });
      // An empty table: SQLite numbers the next rows from 1 again.
      await enqueue(store, T0 + 1000, newJobs(1));
      await enqueue(store, T0 + 2000, newJobs(1));
      expect(await store.oldestUnfinishedCreatedAt()).toBe(T0 + 1000);
      const [first] = await claim(store, T0 + 3000, 1);
      expect(await store.oldestUnfinishedCreatedAt()).toBe(T0 + 1000); // processing is unfinished
      await settle(store, T0 + 3001, { kind: 'succeeded', seq: first!.seq, attempts: 1, now: T0 + 3001 });
      expect(await store.oldestUnfinishedCreatedAt()).toBe(T0 + 2000);
      expect((await store.stats()).oldestUnfinishedCreatedAt).toBe(T0 + 2000);
    },
    TIMEOUT_MS,
  );

  test(
    'clampDue: a due time further out than any backoff (a clock stepped back) becomes due now',
    async () => {
      await fresh();
      const jobs = newJobs(2);
      await enqueue(store, T0, jobs);
      const runs = await claim(store, T0, 2);
      const hourLater = T0 + 3_600_000;
      await settle(
        store,
        T0 + 1,
        { kind: 'retry', seq: runs[0]!.seq, attempts: 1, now: T0 + 1, runAt: hourLater, reason: 'processing_failed' },
        { kind: 'retry', seq: runs[1]!.seq, attempts: 1, now: T0 + 1, runAt: T0 + 20_000, reason: 'processing_failed' },
      );
      expect(await store.clampDue({ latest: T0 + 30_000, now: T0 + 2 })).toBe(1);
      expect((await claim(store, T0 + 2, 10)).map((job) => job.id)).toEqual([jobs[0]!.id]);
      expect(await store.clampDue({ latest: T0 + 30_000, now: T0 + 3 })).toBe(0);
    },
    TIMEOUT_MS,
  );

  test(
    'the engine on this store: capacity counts queued + processing, and refuses the rest with a capacity error',
    async () => {
      await fresh();
      const queue = await JobQueue.open(
        store,
        {
          concurrency: 1,
          maxAttempts: 3,
          retryBaseMs: 5,
          retryMaxMs: 20,
          capacity: 3,
          leaseMs: 30_000,
          retentionMaxAgeMs: 86_400_000,
          retentionMaxFinished: 1000,
          process: () => new Promise<void>(() => {}),
        },
        { metrics: createMetrics(), log: createLogger('silent') },
      );
      const outcomes = await Promise.allSettled(Array.from({ length: 5 }, () => queue.enqueue(RECORD, { trace: TRACE })));
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected']);
      expect((outcomes[3] as PromiseRejectedResult).reason).toMatchObject({ name: 'QueueUnavailableError', reason: 'capacity' });
      queue.start();
      const id = (outcomes[0] as PromiseFulfilledResult<string>).value;
      for (let i = 0; i < 200 && (await queue.status(id))?.status !== 'processing'; i++) await Bun.sleep(5);
      // One processing, two queued: still full.
      await expect(queue.enqueue(RECORD)).rejects.toMatchObject({ reason: 'capacity' });
      expect(queue.stats()).toMatchObject({ depth: { queued: 2, processing: 1 }, capacity: 3, queueId: store.queueId });
      await queue.stop(0);
      await queue.close();
    },
    TIMEOUT_MS,
  );

  test(
    'restart: a durable store reopens with its jobs, leases and queue id',
    async () => {
      await fresh();
      if (!handle.reopen) {
        expect(store.durability).toBe('nothing');
        return;
      }
      const jobs = newJobs(3, (i) => ({ trace: i === 0 ? TRACE : null }));
      await enqueue(store, T0, jobs);
      const [run] = await claim(store, T0, 1);
      await settle(store, T0 + 1, { kind: 'retry', seq: run!.seq, attempts: 1, now: T0 + 1, runAt: T0 + 50, reason: 'processing_failed' });
      await claim(store, T0 + 50, 1);
      const queueId = store.queueId;
      await store.close();

      const again = await handle.reopen();
      expect(again.queueId).toBe(queueId);
      expect((await again.stats()).depth).toEqual({ queued: 2, processing: 1, succeeded: 0, failed: 0 });
      expect(await again.status(jobs[0]!.id)).toMatchObject({ status: 'queued', attempts: 1, lastError: 'processing_failed' });
      expect(await again.status(jobs[1]!.id)).toMatchObject({ status: 'processing', attempts: 1 });
      // A single-owner store's engine recovers the interrupted attempt at start.
      expect(await again.recover({ leaseEndedBy: Number.MAX_SAFE_INTEGER, now: T0 + 60, maxAttempts: 5, reason: 'interrupted', limit: 100 })).toEqual({
        requeued: 1,
        deadLettered: [],
      });
      const claimed = await claim(again, T0 + 60, 10);
      expect(claimed.map((job) => job.id)).toEqual([jobs[2]!.id, jobs[0]!.id, jobs[1]!.id]);
      expect(claimed[1]).toMatchObject({ trace: TRACE, attempts: 2, record: RECORD });
      expect(claimed[2]).toMatchObject({ trace: null, attempts: 2 });
    },
    TIMEOUT_MS,
  );
});
