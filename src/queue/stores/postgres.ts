import { toJobStatus, type ClaimedJob, type PruneResult, type Settle } from '../store';
import { JOB_STATES, type JobState, type JobStatus, type Submission } from '../types';
import { PgDb, type PgDbOptions } from './postgres-db';
import { FAILED, PROCESSING, QUEUED, SUCCEEDED } from './postgres-schema';

/**
 * The shared driver: one PostgreSQL table that any number of pipewatch instances insert into,
 * claim from and settle, each on its own pool. Every write of a tick (enqueues, settles, new
 * leases) is ONE statement, so one round trip and one implicit transaction: committed (and,
 * with synchronous_commit on, flushed to the server's WAL) before the promise resolves, or not
 * at all. A connection lost before the answer rejects; the engine then refuses those enqueues,
 * so an unknown outcome is never answered 202.
 */

/** A tick's work for the group commit. */
export interface PgCommit {
  /** New jobs, all created at `now`. */
  insert?: { ids: readonly string[]; records: readonly Submission[]; traces: ReadonlyArray<string | null>; now: number };
  settles?: readonly Settle[];
  /** Lease up to `limit` due jobs until `leaseUntil`. */
  claim?: { now: number; leaseUntil: number; limit: number };
}

export interface PgCommitResult {
  /** For each settle: did its fence match (the attempt still held the job)? */
  applied: boolean[];
  claimed: Array<ClaimedJob & { trace: string | null }>;
}

interface ResultRow {
  kind: number;
  seq: string;
  id: string | null;
  payload: Submission | null;
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
SELECT 2, count(*), NULL, NULL, NULL, NULL, NULL FROM inserted`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface Backlog {
  queued: number;
  processing: number;
  /** performance.now() when counted. */
  at: number;
}

export class PostgresJobs {
  constructor(
    readonly db: PgDb,
    readonly queueId: string,
  ) {}

  static async open(options: PgDbOptions): Promise<{ jobs: PostgresJobs; applied: number[] }> {
    const { db, queueId, applied } = await PgDb.open(options);
    return { jobs: new PostgresJobs(db, queueId), applied };
  }

  /** The group commit: see COMMIT_SQL. Rejects when the outcome is not known to be committed. */
  async commit(work: PgCommit): Promise<PgCommitResult> {
    const insert = work.insert;
    const settles = work.settles ?? [];
    const claim = work.claim;
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
    const payloads = insert ? insert.records.map((r) => JSON.stringify(r)) : [];
    const now = claim?.now ?? insert?.now ?? Date.now();
    const rows = (await this.db.run('commit', (sql) =>
      sql.unsafe(COMMIT_SQL, [
        insert?.now ?? now,
        insert ? [...insert.ids] : [],
        payloads,
        insert ? [...insert.traces] : [],
        seqs,
        attempts,
        states,
        nows,
        runAts,
        reasons,
        uncount,
        now,
        claim?.leaseUntil ?? now,
        claim?.limit ?? 0,
      ]),
    )) as ResultRow[];
    const done = new Set<string>();
    const claimed: PgCommitResult['claimed'] = [];
    for (const row of rows) {
      if (row.kind === 0) done.add(`${row.seq}:${row.attempts}`);
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
    return { applied: settles.map((s) => done.has(`${s.seq}:${s.attempts}`)), claimed };
  }

  /** Extends the leases of attempts still running here; returns the seqs whose fence still matched. */
  async renew(leases: ReadonlyArray<{ seq: number; attempts: number }>, leaseUntil: number, now: number): Promise<Set<number>> {
    if (leases.length === 0) return new Set();
    const rows = (await this.db.run('renew', (sql) =>
      sql.unsafe(
        `UPDATE pipewatch_jobs j SET run_at = $1, updated_at = $2
         FROM unnest($3::int8[], $4::int4[]) AS l(seq, attempts)
         WHERE j.seq = l.seq AND j.state = ${PROCESSING} AND j.attempts = l.attempts
         RETURNING j.seq`,
        [leaseUntil, now, leases.map((l) => l.seq), leases.map((l) => l.attempts)],
      ),
    )) as Array<{ seq: string }>;
    return new Set(rows.map((r) => Number(r.seq)));
  }

  /**
   * Leases that ended without a settle (their instance died or stalled): queued again, the lost
   * attempt counted, or dead-lettered when it was the last. Any instance may run this; SKIP LOCKED
   * keeps two of them from fighting over the same rows.
   */
  async reclaimExpired(now: number, maxAttempts: number, reason: string, limit: number): Promise<{ requeued: number; failed: number; ids: string[] }> {
    const rows = (await this.db.run('reclaim', (sql) =>
      sql.unsafe(
        `WITH expired AS (
           SELECT seq FROM pipewatch_jobs WHERE state = ${PROCESSING} AND run_at <= $1
           ORDER BY run_at LIMIT $4 FOR UPDATE SKIP LOCKED
         )
         UPDATE pipewatch_jobs j SET
           state = CASE WHEN j.attempts >= $2 THEN ${FAILED} ELSE ${QUEUED} END,
           finished_at = CASE WHEN j.attempts >= $2 THEN $1 ELSE NULL END,
           run_at = $1, updated_at = $1, last_error = $3
         FROM expired WHERE j.seq = expired.seq
         RETURNING j.id, j.state`,
        [now, maxAttempts, reason, limit],
      ),
    )) as Array<{ id: string; state: number }>;
    let failed = 0;
    for (const row of rows) if (row.state === FAILED) failed++;
    return { requeued: rows.length - failed, failed, ids: rows.map((r) => r.id) };
  }

  /**
   * Deletes up to `limit` finished jobs: first the `excess` oldest, then those finished before
   * `finishedBefore`. SKIP LOCKED: two instances pruning at once delete different rows.
   */
  async prune(finishedBefore: number, excess: number, limit: number): Promise<PruneResult> {
    const result = { succeeded: 0, failed: 0 };
    const remove = async (where: string, params: unknown[], max: number) => {
      const rows = (await this.db.run('prune', (sql) =>
        sql.unsafe(
          `WITH victims AS (
             SELECT seq FROM pipewatch_jobs WHERE state >= ${SUCCEEDED} ${where} ORDER BY finished_at LIMIT ${Math.floor(max)} FOR UPDATE SKIP LOCKED
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

  /** Unfinished jobs in the whole queue (every instance's): two short partial-index scans. */
  async backlog(): Promise<Backlog> {
    const [row] = (await this.db.run('stats', (sql) =>
      sql.unsafe(
        `SELECT (SELECT count(*) FROM pipewatch_jobs WHERE state = ${QUEUED}) AS queued,
                (SELECT count(*) FROM pipewatch_jobs WHERE state = ${PROCESSING}) AS processing`,
      ),
    )) as Array<{ queued: string; processing: string }>;
    return { queued: Number(row!.queued), processing: Number(row!.processing), at: performance.now() };
  }

  /** Jobs per state, the finished ones included (a scan of the retained rows: for gauges, not per request). */
  async countByState(): Promise<Record<JobState, number>> {
    const rows = (await this.db.run('stats', (sql) => sql.unsafe('SELECT state, count(*) AS n FROM pipewatch_jobs GROUP BY state'))) as Array<{
      state: number;
      n: string;
    }>;
    const counts = { queued: 0, processing: 0, succeeded: 0, failed: 0 };
    for (const row of rows) {
      const state = JOB_STATES[row.state];
      if (state) counts[state] = Number(row.n);
    }
    return counts;
  }

  /** Earliest `run_at` of a queued job (null when none): one index lookup. */
  async nextRunAt(): Promise<number | null> {
    const [row] = (await this.db.run('stats', (sql) =>
      sql.unsafe(`SELECT run_at FROM pipewatch_jobs WHERE state = ${QUEUED} ORDER BY run_at, seq LIMIT 1`),
    )) as Array<{ run_at: string }>;
    return row ? Number(row.run_at) : null;
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
    const [row] = (await this.db.run('status', (sql) =>
      sql.unsafe('SELECT id, state, attempts, created_at, updated_at, run_at, finished_at, last_error FROM pipewatch_jobs WHERE id = $1::uuid', [id]),
    )) as Array<{ id: string; state: number; attempts: number; created_at: string; updated_at: string; run_at: string; finished_at: string | null; last_error: string | null }>;
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

  async close(): Promise<void> {
    await this.db.close();
  }
}
