import { hostname } from 'node:os';
import {
  toJobStatus,
  type ClaimedJob,
  type CommitRequest,
  type CommitResult,
  type JobStore,
  type PruneRequest,
  type PruneResult,
  type RecoverRequest,
  type RecoveryResult,
  type Settle,
  type StoreStats,
} from '../store';
import { JOB_STATES, QueueUnavailableError, type JobState, type JobStatus } from '../types';
import { isTransient, PgDb, type PgDbOptions } from './postgres-db';
import { LeaderLease } from './postgres-leader';
import { FAILED, PROCESSING, QUEUED, SUCCEEDED } from './postgres-schema';

/**
 * The shared driver: one PostgreSQL table that any number of pipewatch instances insert into,
 * claim from and settle, each on its own pool. Every write of a tick (enqueues, settles, new
 * leases) is ONE statement, so one round trip and one implicit transaction: committed (and,
 * with synchronous_commit on, flushed to the server's WAL) before the promise resolves, or not
 * at all. A connection lost before the answer rejects; the engine then refuses those enqueues,
 * so an unknown outcome is never answered 202.
 */

interface ResultRow {
  kind: number;
  seq: string;
  id: string | null;
  payload: ClaimedJob['record'] | null;
  trace: string | null;
  attempts: number | null;
  available_at: string | null;
}

const SETTLE_STATE: Record<Settle['kind'], number> = { succeeded: SUCCEEDED, failed: FAILED, retry: QUEUED, release: QUEUED };

/**
 * The group commit as one statement. Data-modifying CTEs all run, on one snapshot: the settles
 * only touch leased rows and the claim only queued ones, so no row is changed twice; jobs
 * inserted or released by this statement are claimed by the next one. `SKIP LOCKED` lets every
 * instance claim at once without waiting on each other's rows.
 */
const COMMIT_SQL = `
WITH inserted AS (
  INSERT INTO pipewatch_jobs (id, state, payload, trace, attempts, created_at, updated_at, run_at)
  SELECT i.id, ${QUEUED}, i.payload::jsonb, i.trace, 0, $1, $1, $1
  FROM unnest($2::uuid[], $3::text[], $4::text[]) AS i(id, payload, trace)
  RETURNING 1
), settled AS (
  UPDATE pipewatch_jobs j SET
    state = s.state,
    attempts = j.attempts - s.uncount,
    updated_at = s.now,
    run_at = CASE WHEN s.state = ${QUEUED} THEN s.run_at ELSE j.run_at END,
    finished_at = CASE WHEN s.state >= ${SUCCEEDED} THEN s.now ELSE NULL END,
    last_error = COALESCE(s.reason, j.last_error)
  FROM unnest($5::int8[], $6::int4[], $7::int2[], $8::int8[], $9::int8[], $10::text[], $11::int4[])
    AS s(seq, attempts, state, now, run_at, reason, uncount)
  WHERE j.seq = s.seq AND j.state = ${PROCESSING} AND j.attempts = s.attempts
  RETURNING j.seq, s.attempts
), renewed AS (
  UPDATE pipewatch_jobs j SET run_at = $13, updated_at = $12
  FROM unnest($15::int8[], $16::int4[]) AS r(seq, attempts)
  WHERE j.seq = r.seq AND j.state = ${PROCESSING} AND j.attempts = r.attempts
  RETURNING j.seq, r.attempts
), due AS (
  SELECT seq, run_at FROM pipewatch_jobs
  WHERE state = ${QUEUED} AND run_at <= $12
  ORDER BY run_at, seq
  LIMIT $14
  FOR UPDATE SKIP LOCKED
), claimed AS (
  UPDATE pipewatch_jobs j SET state = ${PROCESSING}, attempts = j.attempts + 1, run_at = $13, updated_at = $12
  FROM due WHERE j.seq = due.seq
  RETURNING j.seq, j.id, j.payload, j.trace, j.attempts, due.run_at AS available_at
)
SELECT 0 AS kind, seq, NULL::uuid AS id, NULL::jsonb AS payload, NULL::text AS trace, attempts, NULL::int8 AS available_at FROM settled
UNION ALL
SELECT 1, seq, id, payload, trace, attempts, available_at FROM claimed
UNION ALL
SELECT 2, count(*), NULL, NULL, NULL, NULL, NULL FROM inserted
UNION ALL
SELECT 3, seq, NULL, NULL, NULL, attempts, NULL FROM renewed`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface PostgresStoreOptions extends PgDbOptions {
  /** Leader lease TTL (the global gauges' exporter); renewed every third of it. */
  leaderTtlMs?: number;
  /** Told when this instance gains or loses the leader lease. */
  onLeaderChange?: (leading: boolean) => void;
  /** Told about each migration this instance applied. */
  onMigrated?: (steps: string[]) => void;
}

/** Retry-After for a refusal while the database cannot be reached: a failover takes seconds. */
const DATABASE_RETRY_AFTER_S = 2;

/**
 * Connects (retrying an unreachable database for `startupWaitMs`), migrates, and starts the leader
 * lease. Throws a one-line QueueStartError that names the setting and never the password.
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const { db, queueId, applied } = await PgDb.open(options);
  if (applied.length > 0) options.onMigrated?.(applied);
  const store = new PostgresStore(db, queueId, options);
  await store.leader.tryAcquire();
  store.leader.start();
  return store;
}

export class PostgresStore implements JobStore {
  readonly ownership = 'shared' as const;
  /** synchronous_commit is on (set per connection): a resolved commit is flushed to the server's WAL. */
  readonly durability = 'power-loss' as const;
  readonly leader: LeaderLease;

  constructor(
    readonly db: PgDb,
    readonly queueId: string,
    options: PostgresStoreOptions,
  ) {
    this.leader = new LeaderLease(db, {
      holder: `${hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`,
      ttlMs: options.leaderTtlMs,
      onChange: options.onLeaderChange,
    });
  }

  /** The group commit: see COMMIT_SQL. Rejects when the outcome is not known to be committed. */
  async commit(request: CommitRequest): Promise<CommitResult> {
    const { now, enqueue, renew } = request;
    // Settles apply in order, each fenced: a second settle of the same attempt finds the job no
    // longer processing under it. One UPDATE would apply both to the row once, so send the first.
    const firstOfAttempt = new Set<string>();
    const isFirst = request.settles.map((s) => {
      const key = `${s.seq}:${s.attempts}`;
      if (firstOfAttempt.has(key)) return false;
      firstOfAttempt.add(key);
      return true;
    });
    const settles = request.settles.filter((_, i) => isFirst[i]);
    const n = settles.length;
    const seqs = new Array<number>(n);
    const attempts = new Array<number>(n);
    const states = new Array<number>(n);
    const nows = new Array<number>(n);
    const runAts = new Array<number>(n);
    const reasons = new Array<string | null>(n);
    const uncount = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const s = settles[i]!;
      seqs[i] = s.seq;
      attempts[i] = s.attempts;
      states[i] = SETTLE_STATE[s.kind];
      nows[i] = s.now;
      runAts[i] = s.kind === 'retry' ? s.runAt : s.now;
      reasons[i] = s.kind === 'retry' || s.kind === 'failed' ? s.reason : null;
      uncount[i] = s.kind === 'release' ? 1 : 0; // a release does not count the attempt
    }
    const rows = (await this.db.run('commit', (sql) =>
      sql.unsafe(COMMIT_SQL, [
        now,
        enqueue.map((job) => job.id),
        // Bound as text and cast in SQL: a JSON string bound straight to ::jsonb would be stored
        // as one jsonb string (double-encoded).
        enqueue.map((job) => JSON.stringify(job.record)),
        enqueue.map((job) => job.trace),
        seqs,
        attempts,
        states,
        nows,
        runAts,
        reasons,
        uncount,
        now,
        request.leaseUntil,
        Math.max(0, request.claim),
        renew.map((r) => r.seq),
        renew.map((r) => r.attempts),
      ]),
    )) as ResultRow[];
    const settled = new Set<string>();
    const renewedKeys = new Set<string>();
    const claimed: ClaimedJob[] = [];
    for (const row of rows) {
      if (row.kind === 0) settled.add(`${row.seq}:${row.attempts}`);
      else if (row.kind === 3) renewedKeys.add(`${row.seq}:${row.attempts}`);
      else if (row.kind === 1) {
        claimed.push({
          seq: Number(row.seq),
          id: row.id!,
          record: row.payload!,
          trace: row.trace,
          attempts: row.attempts!,
          availableAt: Number(row.available_at),
        });
      }
    }
    claimed.sort((a, b) => a.availableAt - b.availableAt || a.seq - b.seq);
    return {
      applied: request.settles.map((s, i) => isFirst[i]! && settled.has(`${s.seq}:${s.attempts}`)),
      renewed: renew.map((r) => renewedKeys.has(`${r.seq}:${r.attempts}`)),
      claimed,
    };
  }

  /**
   * Leases that ended without a settle (their instance died or stalled): queued again with the lost
   * attempt counted, or dead-lettered when it was the last. SKIP LOCKED: instances running this at
   * the same moment recover different rows, never one twice.
   */
  async recover(request: RecoverRequest): Promise<RecoveryResult> {
    const rows = (await this.db.run('reclaim', (sql) =>
      sql.unsafe(
        `WITH expired AS (
           SELECT seq FROM pipewatch_jobs WHERE state = ${PROCESSING} AND run_at <= $1
           ORDER BY run_at LIMIT $5 FOR UPDATE SKIP LOCKED
         )
         UPDATE pipewatch_jobs j SET
           state = CASE WHEN j.attempts >= $3 THEN ${FAILED} ELSE ${QUEUED} END,
           finished_at = CASE WHEN j.attempts >= $3 THEN $2 ELSE NULL END,
           run_at = $2, updated_at = $2, last_error = $4
         FROM expired WHERE j.seq = expired.seq
         RETURNING j.id, j.state`,
        [Math.min(request.leaseEndedBy, Number.MAX_SAFE_INTEGER), request.now, request.maxAttempts, request.reason, Math.max(1, request.limit)],
      ),
    )) as Array<{ id: string; state: number }>;
    const deadLettered: string[] = [];
    for (const row of rows) if (row.state === FAILED) deadLettered.push(row.id);
    return { requeued: rows.length - deadLettered.length, deadLettered };
  }

  async clampDue(request: { latest: number; now: number }): Promise<number> {
    const rows = (await this.db.run('reclaim', (sql) =>
      sql.unsafe(`UPDATE pipewatch_jobs SET run_at = $2 WHERE state = ${QUEUED} AND run_at > $1 RETURNING seq`, [request.latest, request.now]),
    )) as unknown[];
    return rows.length;
  }

  /**
   * Deletes up to `limit` finished jobs: first the `excess` oldest, then those finished before
   * `finishedBefore`. SKIP LOCKED: two instances pruning at once delete different rows.
   */
  async prune(request: PruneRequest): Promise<PruneResult> {
    const { excess, finishedBefore, limit } = request;
    const result = { succeeded: 0, failed: 0 };
    const remove = async (where: string, params: unknown[], max: number) => {
      const rows = (await this.db.run('prune', (sql) =>
        sql.unsafe(
          `WITH victims AS (
             SELECT seq FROM pipewatch_jobs WHERE state >= ${SUCCEEDED} ${where} ORDER BY finished_at LIMIT ${Math.max(0, Math.floor(max))} FOR UPDATE SKIP LOCKED
           )
           DELETE FROM pipewatch_jobs j USING victims WHERE j.seq = victims.seq RETURNING j.state`,
          params,
        ),
      )) as Array<{ state: number }>;
      for (const row of rows) {
        if (row.state === SUCCEEDED) result.succeeded++;
        else result.failed++;
      }
      return rows.length;
    };
    const byCount = excess > 0 ? await remove('', [], Math.min(excess, limit)) : 0;
    if (byCount < limit) await remove('AND finished_at < $1', [finishedBefore], limit - byCount);
    return result;
  }

  /**
   * The whole queue's figures in one round trip of index lookups: the backlog (queued, processing)
   * from the two small partial indexes, the oldest unfinished job and the next due one from one
   * index entry each. Finished counts (a scan of the retained rows) only on the leader, which alone
   * exports them and runs retention by count; elsewhere they read 0.
   */
  async stats(): Promise<StoreStats> {
    const leader = this.leader.isLeader();
    const [row] = (await this.db.run('stats', (sql) =>
      sql.unsafe(
        `SELECT
           (SELECT count(*) FROM pipewatch_jobs WHERE state = ${QUEUED}) AS queued,
           (SELECT count(*) FROM pipewatch_jobs WHERE state = ${PROCESSING}) AS processing,
           ${leader ? `(SELECT count(*) FROM pipewatch_jobs WHERE state >= ${SUCCEEDED} AND state = ${SUCCEEDED})` : '0'} AS succeeded,
           ${leader ? `(SELECT count(*) FROM pipewatch_jobs WHERE state >= ${SUCCEEDED} AND state = ${FAILED})` : '0'} AS failed,
           (SELECT created_at FROM pipewatch_jobs WHERE state < ${SUCCEEDED} ORDER BY seq LIMIT 1) AS oldest,
           (SELECT run_at FROM pipewatch_jobs WHERE state = ${QUEUED} ORDER BY run_at, seq LIMIT 1) AS next_run_at`,
      ),
    )) as Array<{ queued: string; processing: string; succeeded: string; failed: string; oldest: string | null; next_run_at: string | null }>;
    const depth: Record<JobState, number> = {
      queued: Number(row!.queued),
      processing: Number(row!.processing),
      succeeded: Number(row!.succeeded),
      failed: Number(row!.failed),
    };
    return {
      depth,
      oldestUnfinishedCreatedAt: row!.oldest === null ? null : Number(row!.oldest),
      nextRunAt: row!.next_run_at === null ? null : Number(row!.next_run_at),
      leader,
    };
  }

  /** `created_at` of the oldest unfinished job (null when none): one index lookup. */
  async oldestUnfinishedCreatedAt(): Promise<number | null> {
    const [row] = (await this.db.run('stats', (sql) =>
      sql.unsafe(`SELECT created_at FROM pipewatch_jobs WHERE state < ${SUCCEEDED} ORDER BY seq LIMIT 1`),
    )) as Array<{ created_at: string }>;
    return row ? Number(row.created_at) : null;
  }

  async status(id: string): Promise<JobStatus | undefined> {
    if (!UUID.test(id)) return undefined; // never a job id: no round trip, no cast error
    let rows: StatusRow[];
    try {
      rows = (await this.db.run('status', (sql) =>
        sql.unsafe('SELECT id, state, attempts, created_at, updated_at, run_at, finished_at, last_error FROM pipewatch_jobs WHERE id = $1::uuid', [id]),
      )) as StatusRow[];
    } catch (error) {
      if (isTransient(error)) throw new QueueUnavailableError('storage', DATABASE_RETRY_AFTER_S);
      throw error;
    }
    const row = rows[0];
    if (!row) return undefined;
    return toJobStatus({
      id: row.id,
      state: JOB_STATES[row.state] ?? 'queued',
      attempts: row.attempts,
      createdAt: Number(row.created_at),
      updatedAt: Number(row.updated_at),
      runAt: Number(row.run_at),
      finishedAt: row.finished_at === null ? null : Number(row.finished_at),
      lastError: row.last_error,
    });
  }

  /** Is the database answering? (the last round trip succeeded): readiness. */
  healthy(): boolean {
    return this.db.healthy();
  }

  retryAfterSeconds(error: unknown): number | undefined {
    return isTransient(error) ? DATABASE_RETRY_AFTER_S : undefined;
  }

  async close(): Promise<void> {
    await this.leader.stop();
    await this.db.close();
  }
}

interface StatusRow {
  id: string;
  state: number;
  attempts: number;
  created_at: string;
  updated_at: string;
  run_at: string;
  finished_at: string | null;
  last_error: string | null;
}
