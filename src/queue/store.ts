import type { JobState, JobStatus, Submission } from './types';

/**
 * The store contract: what a queue backend implements. The engine (engine.ts) owns the protocol —
 * group commit, workers, leases, retries, backpressure, retention, metrics — and a store only
 * makes each operation atomic and as durable as it promises. Memory, SQLite and PostgreSQL all
 * implement it and all pass one conformance suite (test/queue-conformance.test.ts): a new backend
 * is done when it passes that suite.
 *
 * Rules every store follows:
 * - Opening does the I/O (files, connections, migrations) in an async factory such as
 *   `openSqliteStore(options): Promise<JobStore>`; constructors do none.
 * - Every write of one engine tick arrives as ONE `commit` call and is committed as one
 *   transaction: all of it, or none of it (the promise rejects). A rejected commit must have
 *   written nothing, or its outcome must be unknown to the store too (a connection cut during
 *   COMMIT): the engine answers none of its enqueues 202 either way. A resolved commit is as
 *   durable as `durability` says.
 * - The engine never has two commits in flight on one store; `status`, `stats`, `recover` and
 *   `prune` may run while a commit is in flight.
 * - Every settle is fenced by the attempt that claimed the job (`seq` + `attempts`): it applies
 *   only while the job is still `processing` under that same attempt number, so a late answer from
 *   an abandoned attempt (its lease expired and another attempt took the job) changes nothing.
 *   Every claim increments `attempts`, so the number identifies one lease.
 * - Times are integer milliseconds since the epoch, taken from the engine's clock (see
 *   `EngineClock` in engine.ts) and passed in; a single-owner store never reads a clock of its
 *   own. A shared store may compare lease expiry against its database's clock instead, so
 *   instances with skewed clocks agree.
 * - No personal data leaves the store except the record itself on claim: errors, logs and
 *   metrics carry ids, reason codes and counts only.
 * - `seq` is the store's own key for a job, increasing in enqueue order (a rowid, a bigserial),
 *   always a safe integer. Jobs become due in (`runAt`, `seq`) order.
 */

/** A submission accepted in this tick, to be inserted as a queued job due at the commit's `now`. */
export interface NewJob {
  /** The job id answered to the client (a UUIDv7 made by the engine). */
  id: string;
  record: Submission;
  /**
   * Opaque trace context (W3C `traceparent`, optionally followed by `tracestate`) written by the
   * tracing code at enqueue; stored in its own column beside the job, in the same commit, never
   * inside the record. Returned unchanged on every claim. null when the request was not traced.
   */
  trace: string | null;
}

/** A job handed to a worker by `commit`'s claim: leased to this attempt until `leaseUntil`. */
export interface ClaimedJob {
  seq: number;
  id: string;
  record: Submission;
  trace: string | null;
  /** Attempts including the one just started; with `seq`, the fence of every later settle or renewal. */
  attempts: number;
  /** When the job became runnable (enqueued, or its retry backoff ended): the queue wait starts here. */
  availableAt: number;
}

/**
 * How one attempt ended. Fenced by (`seq`, `attempts`): applied only while the job is still
 * `processing` under that attempt, otherwise ignored and reported as not applied.
 */
export type Settle =
  | { kind: 'succeeded'; seq: number; attempts: number; now: number }
  /** Failed with attempts left: queued again, due at `runAt` (the backoff), `reason` kept as lastError. */
  | { kind: 'retry'; seq: number; attempts: number; now: number; runAt: number; reason: string }
  /** Failed on its last attempt: dead-lettered as `failed`. */
  | { kind: 'failed'; seq: number; attempts: number; now: number; reason: string }
  /**
   * This instance gives the job back without finishing the attempt (graceful stop cut it off,
   * SIGTERM on a rolling deploy): queued again, due at `now`, and the attempt NOT counted
   * (`attempts` goes back down by one), so another instance may claim it at once rather than
   * after the lease ends.
   */
  | { kind: 'release'; seq: number; attempts: number; now: number };

/** An attempt still running here that keeps its job: extend its lease (same fence as a settle). */
export interface Renewal {
  seq: number;
  attempts: number;
}

/** One group commit: everything one engine tick produced, written as ONE transaction. */
export interface CommitRequest {
  /** The commit's time: created/updated times, the claim's due cut-off. */
  now: number;
  /** New queued jobs, due at `now`, in the order given (their `seq`s increase in this order). */
  enqueue: readonly NewJob[];
  /** Finished or released attempts, applied in order, each fenced. */
  settles: readonly Settle[];
  /** Leases of long attempts to extend to `leaseUntil` (only asked of shared stores). */
  renew: readonly Renewal[];
  /**
   * Lease up to this many due jobs (`queued` with `runAt <= now`, oldest (`runAt`, `seq`) first) to
   * new attempts, until `leaseUntil`. 0: claim nothing. Jobs inserted or released by this same
   * commit may be claimed by it or left for the next one. A shared store skips rows another
   * instance is claiming at the same moment (`FOR UPDATE SKIP LOCKED`) rather than waiting.
   */
  claim: number;
  leaseUntil: number;
}

export interface CommitResult {
  /** `applied[i]`: settles[i] matched its fence and was written. */
  applied: boolean[];
  /** `renewed[i]`: renew[i] still held its job and was extended; false: the lease was lost. */
  renewed: boolean[];
  /** The jobs this commit leased, in due order. */
  claimed: ClaimedJob[];
  /**
   * Earliest `runAt` of any queued job after this commit (null: none queued), when the store can
   * say so cheaply (single-owner stores: one index lookup); omitted otherwise (shared stores: the
   * engine polls). Only asked for when the claim was short of its limit.
   */
  nextRunAt?: number | null;
}

/** What `recover` did: interrupted attempts queued again (counted), or dead-lettered when out of attempts. */
export interface RecoveryResult {
  requeued: number;
  /** Ids of the jobs dead-lettered (state `failed`), for the log: ids only, no records. */
  deadLettered: string[];
}

export interface RecoverRequest {
  /** Attempts whose lease ended at or before this time are given up. */
  leaseEndedBy: number;
  now: number;
  maxAttempts: number;
  /** Stored as lastError of each recovered job. */
  reason: string;
  /** At most this many jobs per call (its own small transaction). */
  limit: number;
}

export interface PruneRequest {
  /** First the `excess` earliest-finished jobs (retention by count)… */
  excess: number;
  /** …then those finished before this time (retention by age). */
  finishedBefore: number;
  /** At most this many deletions, in one small transaction, so pruning never holds the writer long. */
  limit: number;
}

export interface PruneResult {
  succeeded: number;
  failed: number;
}

/** Figures about the whole queue (every instance's jobs, for a shared store). */
export interface StoreStats {
  /** Jobs per state. */
  depth: Record<JobState, number>;
  /** `createdAt` of the oldest unfinished (queued or processing) job; null when none. */
  oldestUnfinishedCreatedAt: number | null;
  /** Earliest `runAt` of a queued job; null when none is queued. */
  nextRunAt: number | null;
  /**
   * Does this instance export the queue's global gauges right now? Single-owner stores: always
   * true. Shared stores: true only while this instance holds the queue's short leader lease (a
   * TTL row, renewed by the store itself, never a session lock), so that N instances on one queue
   * do not export N copies of the same figures (monitoring dedupes a hand-over overlap with
   * `max by (queue, …)`).
   */
  leader: boolean;
}

export interface JobStore {
  /**
   * `single`: this process is the only one using the data (memory; sqlite, which locks
   * DATA_DIR). The engine recovers every `processing` job at start, counts the states once and
   * keeps the counts in memory, and knows when the next job is due.
   * `shared`: other processes insert, claim and settle too (postgres). The engine never
   * recovers at start (another live instance may hold those leases); it reclaims only expired
   * leases (`recover` with `leaseEndedBy: now`), renews the leases of long attempts, polls
   * `stats()` for the global backlog (backpressure), counts and gauges, and polls for due work.
   */
  readonly ownership: 'single' | 'shared';
  /** What an accepted job survives: `nothing` (memory), `process-crash` (sqlite NORMAL), `power-loss` (sqlite FULL, postgres with synchronous_commit on). */
  readonly durability: 'nothing' | 'process-crash' | 'power-loss';
  /**
   * Stable opaque id of this queue, made when the store was first created and kept in it (a meta
   * row; random per process for memory). The `queue` label of the global gauges.
   */
  readonly queueId: string;
  /** The group commit (see CommitRequest). Rejects when nothing, or nothing known, was committed. */
  commit(request: CommitRequest): Promise<CommitResult>;
  /**
   * Gives up attempts whose lease ended by `leaseEndedBy`: each counts as a failed attempt
   * (`attempts` stays, lastError = reason), queued again due at `now`, or dead-lettered when it
   * had `maxAttempts` already. Single-owner stores: called once at start with every lease
   * (`leaseEndedBy` = Number.MAX_SAFE_INTEGER), before any commit. Shared stores: called
   * periodically by every instance with `leaseEndedBy = now`; concurrent callers must not
   * recover the same job twice.
   */
  recover(request: RecoverRequest): Promise<RecoveryResult>;
  /**
   * Queued jobs due later than `latest` are made due at `now`. No backoff puts a job further out
   * than `now + RETRY_MAX_MS`, so such a `runAt` was computed under a clock that has since stepped
   * back; without this, the job would wait for the size of the step. One index range scan that
   * normally finds nothing. Returns how many jobs were moved.
   */
  clampDue(request: { latest: number; now: number }): Promise<number>;
  /** Retention, in small batches (see PruneRequest); safe to run from several instances at once. */
  prune(request: PruneRequest): Promise<PruneResult>;
  /**
   * The queue's figures (see StoreStats). Single-owner stores: called once at start (a full
   * count), afterwards the engine keeps counts itself. Shared stores: polled about once a
   * second, so it must be cheap (partial-index counts, two index lookups).
   */
  stats(): Promise<StoreStats>;
  /**
   * `createdAt` of the oldest unfinished job (null when none): one index lookup. A single-owner
   * engine refreshes the age gauge with it about once a second while work is unfinished.
   */
  oldestUnfinishedCreatedAt(): Promise<number | null>;
  /** The status resource of one job; undefined for an unknown (or pruned, or malformed) id. */
  status(id: string): Promise<JobStatus | undefined>;
  /**
   * Optional wake-up hint from a shared store (e.g. LISTEN/NOTIFY when another instance enqueued):
   * the engine then polls at once. Only a hint: the engine's polling is correct without it, since
   * notifications can be lost.
   */
  onWake?(listener: () => void): void;
  /**
   * Optional: false while the store's backend cannot be reached (a shared store whose database
   * is away); the instance then reports not ready. Stores without such a dependency omit it.
   */
  healthy?(): boolean;
  /**
   * Optional: how long clients should wait (Retry-After, seconds) after `commit` rejected with
   * this error. A database that is failing over is back in seconds, while a full disk waits for an
   * operator; undefined leaves the engine's default for storage faults.
   */
  retryAfterSeconds?(error: unknown): number | undefined;
  /** Releases files, connections and timers. Does not release leases (the engine settles `release` first). */
  close(): Promise<void>;
}

/** Opens a store: all of its I/O (directories, files, connections, migrations) happens here. */
export type OpenStore = () => Promise<JobStore>;

/** A job as the drivers keep it (times in ms since the epoch), for `JobStore.status`. */
export interface StoredJob {
  id: string;
  state: JobState;
  attempts: number;
  createdAt: number;
  updatedAt: number;
  /** Queued: when it may run. Processing: when its lease ends. */
  runAt: number;
  finishedAt: number | null;
  lastError: string | null;
}

/** What GET /submissions/{id} shows of a stored job: ISO times, and when it runs next while queued. */
export function toJobStatus(job: StoredJob): JobStatus {
  return {
    id: job.id,
    status: job.state,
    attempts: job.attempts,
    createdAt: new Date(job.createdAt).toISOString(),
    updatedAt: new Date(job.updatedAt).toISOString(),
    nextAttemptAt: job.state === 'queued' ? new Date(job.runAt).toISOString() : null,
    finishedAt: job.finishedAt === null ? null : new Date(job.finishedAt).toISOString(),
    lastError: job.lastError,
  };
}
