import type { JobState, JobStatus, Submission } from './types';

/**
 * TEMPORARY: the synchronous contract the engine and drivers still use while they move to the async
 * one in store.ts (issue 10). Deleted once they are ported.
 *
 * What a queue driver persists, as small synchronous operations. The engine (engine.ts) batches
 * one event-loop tick's operations into one `transaction`, which is the group commit; a store
 * only has to make each transaction atomic (and, for sqlite, durable).
 *
 * Times are milliseconds since the epoch. `seq` is the store's own key in enqueue order.
 */

/** A job handed to a worker: its lease is held until `leaseUntil`. */
export interface ClaimedJob {
  seq: number;
  id: string;
  record: Submission;
  /** Attempts including the one just started. */
  attempts: number;
  /** When the job became runnable (enqueued, or its retry backoff ended): the queue wait starts here. */
  availableAt: number;
}

/**
 * How one attempt ended. Every settle is fenced by `attempts`: it only applies while the job is
 * still leased by that same attempt, so a late answer from an abandoned attempt changes nothing.
 */
export type Settle =
  | { kind: 'succeeded'; seq: number; attempts: number; now: number }
  | { kind: 'retry'; seq: number; attempts: number; now: number; runAt: number; reason: string }
  | { kind: 'failed'; seq: number; attempts: number; now: number; reason: string }
  /** Graceful stop cut the attempt off before it finished: back to queued, the attempt not counted. */
  | { kind: 'release'; seq: number; attempts: number; now: number };

export interface PruneResult {
  succeeded: number;
  failed: number;
}

export interface RecoveryResult {
  /** Interrupted jobs queued again. */
  requeued: number;
  /** Interrupted jobs that had no attempts left and were dead-lettered. */
  failed: number;
}

export interface JobStore {
  /** What an accepted job survives: `process-crash` (sqlite, NORMAL), `power-loss` (sqlite, FULL) or `nothing` (memory). */
  readonly durability: 'nothing' | 'process-crash' | 'power-loss';
  /** Runs fn atomically: all of its writes are committed together, or none. */
  transaction<T>(fn: () => T): T;
  /** Inserts one queued job per id (`records[i]` for `ids[i]`), all created at `now`. */
  insert(ids: readonly string[], records: readonly Submission[], now: number): void;
  /** Leases up to `limit` runnable jobs (queued, due by `now`), oldest due first. */
  claim(now: number, leaseUntil: number, limit: number): ClaimedJob[];
  /** False when the fence did not match (the attempt no longer holds the job). */
  settle(settle: Settle): boolean;
  /**
   * At start-up, before any worker runs: jobs still `processing` belong to a process that died.
   * They are queued again (the attempt counts), or dead-lettered when out of attempts.
   */
  recoverInterrupted(now: number, maxAttempts: number, reason: string): RecoveryResult;
  /**
   * Deletes up to `limit` finished jobs: first the `excess` oldest, then those finished before
   * `finishedBefore`. Its own small transaction, so pruning never holds the writer long.
   */
  prune(finishedBefore: number, excess: number, limit: number): PruneResult;
  /** Jobs per state; called once at start (a full count), afterwards the engine keeps counters. */
  countByState(): Record<JobState, number>;
  /** Earliest `runAt` of any queued job (null when none is queued); one index lookup. */
  nextRunAt(): number | null;
  /** `createdAt` of the oldest unfinished job (null when none); one index lookup. */
  oldestUnfinishedCreatedAt(): number | null;
  status(id: string): JobStatus | undefined;
  close(): void;
}

/** A job as both drivers keep it (times in ms since the epoch), for `JobStore.status`. */
export interface StoredJob {
  id: string;
  state: JobState;
  attempts: number;
  createdAt: number;
  updatedAt: number;
  runAt: number;
  finishedAt: number | null;
  lastError: string | null;
}

/** What GET /submissions/{id} shows of a stored job: ISO times, and when it runs next while queued. */
export function toJobStatus(job: StoredJob): JobStatus {
  return {
    id: job.id,
    state: job.state,
    attempts: job.attempts,
    createdAt: new Date(job.createdAt).toISOString(),
    updatedAt: new Date(job.updatedAt).toISOString(),
    nextAttemptAt: job.state === 'queued' ? new Date(job.runAt).toISOString() : null,
    finishedAt: job.finishedAt === null ? null : new Date(job.finishedAt).toISOString(),
    lastError: job.lastError,
  };
}
