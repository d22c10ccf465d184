import { Database } from 'bun:sqlite';
import { join, resolve } from 'node:path';
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
import { JOB_STATES, QueueStartError, type JobStatus, type Submission } from '../types';
import { startCheckpointer, type Checkpointer } from './checkpointer';
import {
  AUTOCHECKPOINT_PAGES,
  WAL_LIMIT_BYTES,
  OWNER_LOCK_FILE,
  QUEUE_FILE,
  acquireOwnership,
  checkQueueFile,
  configure,
  createPrivateFile,
  openError,
  prepareDataDir,
} from './sqlite-open';
import { FAILED, PROCESSING, QUEUED, SUCCEEDED, migrateSqlite, readQueueId } from './sqlite-schema';

export { OWNER_LOCK_FILE, QUEUE_FILE } from './sqlite-open';

/**
 * A group commit inserts its rows with multi-row INSERTs of these sizes (largest first, one
 * prepared statement each) instead of one statement per row: ~20% less time per row at the
 * batch sizes a busy tick sees (bench: per-row run() ~8.5 us, 32-row INSERTs ~6.9 us).
 * 128 rows x 3 parameters + 1 stays far below SQLite's 32766 host-parameter limit.
 */
const INSERT_CHUNKS = [128, 32, 8, 1] as const;

export interface SqliteStoreOptions {
  dataDir: string;
  synchronous: 'NORMAL' | 'FULL';
  /** Told when checkpoints fall back from the worker thread to SQLite's automatic ones. */
  onCheckpointerFailure?: (reason: string) => void;
  /** Told when an existing DATA_DIR may be read by other users (its mode, e.g. "0755"). */
  onExposedDataDir?: (mode: string) => void;
  /**
   * `worker` (default): checkpoints in a worker thread, off the event loop that commits.
   * `inline`: SQLite's own checkpoints inside commits, for a store that already runs on a thread
   * of its own (sqlite-thread.ts); being the only writer, they always reach the end of the log.
   */
  checkpoints?: 'worker' | 'inline';
}

/**
 * The durable single-owner driver: one SQLite file in WAL mode, owned by exactly one pipewatch
 * process (a second one fails to start instead of racing the first). Every failure to open it
 * becomes a QueueStartError that says what to fix. Its calls run synchronously on the event loop
 * behind the async contract (bun:sqlite is synchronous); only checkpoints run in a worker.
 */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<JobStore> {
  const dir = resolve(options.dataDir);
  const { exposedMode } = prepareDataDir(dir);
  if (exposedMode !== undefined) options.onExposedDataDir?.(exposedMode);
  const file = join(dir, QUEUE_FILE);
  let owner: Database | undefined;
  let db: Database | undefined;
  try {
    owner = acquireOwnership(join(dir, OWNER_LOCK_FILE));
    createPrivateFile(file);
    db = new Database(file, { create: true, readwrite: true, strict: true });
    configure(db, options.synchronous);
    checkQueueFile(db, dir);
    await migrateSqlite(db, `DATA_DIR=${dir}`);
    const queueDb = db;
    // Should the worker fail, SQLite's own checkpoints (inside commits) keep the WAL bounded.
    const checkpointer =
      options.checkpoints === 'inline'
        ? inlineCheckpoints(queueDb)
        : startCheckpointer(file, WAL_LIMIT_BYTES, (reason) => {
            queueDb.exec(`PRAGMA wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
            options.onCheckpointerFailure?.(reason);
          });
    return new SqliteStore(db, owner, checkpointer, options.synchronous, readQueueId(db));
  } catch (error) {
    db?.close();
    owner?.close();
    if (error instanceof QueueStartError) throw error;
    throw openError(error, dir, file);
  }
}

function inlineCheckpoints(db: Database): Checkpointer {
  db.exec(`PRAGMA wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
  return { restarts: () => 0, stop: () => {}, writerTurn: () => undefined };
}

interface StatusRow {
  id: string;
  state: number;
  attempts: number;
  created_at: number;
  updated_at: number;
  run_at: number;
  finished_at: number | null;
  last_error: string | null;
}

interface DueRow {
  seq: number;
  id: string;
  payload: string;
  trace: string | null;
  attempts: number;
  run_at: number;
}

class SqliteStore implements JobStore {
  readonly ownership = 'single' as const;
  readonly durability;
  private readonly sql;
  /**
   * A seq at or below every unfinished job's; +Infinity while there is none. Why it holds: the
   * oldest unfinished seq only moves forward (a finished job stays finished) except through new
   * rows, and SQLite reuses rowids once the table has emptied (no AUTOINCREMENT), which every
   * insert lowers this to. 0 at open: the first look scans from the start.
   */
  private scanFrom = 0;
  private readonly commitTx: (request: CommitRequest) => CommitResult;

  constructor(
    private readonly db: Database,
    private readonly owner: Database,
    private readonly checkpointer: Checkpointer,
    synchronous: 'NORMAL' | 'FULL',
    readonly queueId: string,
  ) {
    this.durability = synchronous === 'FULL' ? ('power-loss' as const) : ('process-crash' as const);
    // Prepared once; the enqueue and worker paths only bind and step.
    this.sql = {
      // ?1 is the shared timestamp; each row binds its id, payload and trace.
      insert: INSERT_CHUNKS.map((rows) =>
        db.prepare<void, Array<string | number | null>>(
          `INSERT INTO jobs (id, state, payload, trace, attempts, created_at, updated_at, run_at) VALUES ${Array.from(
            { length: rows },
            (_, i) => `(?${3 * i + 2}, ${QUEUED}, ?${3 * i + 3}, ?${3 * i + 4}, 0, ?1, ?1, ?1)`,
          ).join(', ')}`,
        ),
      ),
      due: db.prepare<DueRow, [number, number]>(
        `SELECT seq, id, payload, trace, attempts, run_at FROM jobs INDEXED BY jobs_due WHERE state < 2 AND state = ${QUEUED} AND run_at <= ?1 ORDER BY run_at, seq LIMIT ?2`,
      ),
      lease: db.prepare<void, [number, number, number]>(
        `UPDATE jobs SET state = ${PROCESSING}, attempts = attempts + 1, run_at = ?2, updated_at = ?3 WHERE seq = ?1`,
      ),
      renew: db.prepare<void, [number, number, number]>(`UPDATE jobs SET run_at = ?3 WHERE seq = ?1 AND state = ${PROCESSING} AND attempts = ?2`),
      succeed: db.prepare<void, [number, number, number]>(
        `UPDATE jobs SET state = ${SUCCEEDED}, updated_at = ?3, finished_at = ?3 WHERE seq = ?1 AND state = ${PROCESSING} AND attempts = ?2`,
      ),
      retry: db.prepare<void, [number, number, number, number, string]>(
        `UPDATE jobs SET state = ${QUEUED}, updated_at = ?3, run_at = ?4, last_error = ?5 WHERE seq = ?1 AND state = ${PROCESSING} AND attempts = ?2`,
      ),
      fail: db.prepare<void, [number, number, number, string]>(
        `UPDATE jobs SET state = ${FAILED}, updated_at = ?3, finished_at = ?3, last_error = ?4 WHERE seq = ?1 AND state = ${PROCESSING} AND attempts = ?2`,
      ),
      release: db.prepare<void, [number, number, number]>(
        `UPDATE jobs SET state = ${QUEUED}, attempts = attempts - 1, updated_at = ?3, run_at = ?3 WHERE seq = ?1 AND state = ${PROCESSING} AND attempts = ?2`,
      ),
      recover: db.prepare<{ id: string; state: number }, [number, number, string, number, number]>(
        `UPDATE jobs SET
           state = CASE WHEN attempts >= ?2 THEN ${FAILED} ELSE ${QUEUED} END,
           finished_at = CASE WHEN attempts >= ?2 THEN ?1 ELSE NULL END,
           run_at = ?1, updated_at = ?1, last_error = ?3
         WHERE seq IN (SELECT seq FROM jobs INDEXED BY jobs_due WHERE state < 2 AND state = ${PROCESSING} AND run_at <= ?4 ORDER BY run_at LIMIT ?5)
         RETURNING id, state`,
      ),
      clampDue: db.prepare<void, [number, number]>(
        `UPDATE jobs SET run_at = ?2 WHERE seq IN (SELECT seq FROM jobs INDEXED BY jobs_due WHERE state < 2 AND state = ${QUEUED} AND run_at > ?1)`,
      ),
      pruneExcess: db.prepare<{ state: number }, [number]>(
        `DELETE FROM jobs WHERE seq IN (SELECT seq FROM jobs INDEXED BY jobs_finished WHERE state >= 2 ORDER BY finished_at LIMIT ?1) RETURNING state`,
      ),
      pruneOld: db.prepare<{ state: number }, [number, number]>(
        `DELETE FROM jobs WHERE seq IN (SELECT seq FROM jobs INDEXED BY jobs_finished WHERE state >= 2 AND finished_at < ?1 ORDER BY finished_at LIMIT ?2) RETURNING state`,
      ),
      counts: db.prepare<{ state: number; n: number }, []>('SELECT state, count(*) AS n FROM jobs GROUP BY state'),
      nextRunAt: db.prepare<{ t: number | null }, []>(`SELECT min(run_at) AS t FROM jobs INDEXED BY jobs_due WHERE state < 2 AND state = ${QUEUED}`),
      // A rowid range from scanFrom: it passes only the jobs finished since the last look.
      oldest: db.prepare<{ seq: number; created_at: number }, [number]>('SELECT seq, created_at FROM jobs WHERE seq >= ?1 AND state < 2 ORDER BY seq LIMIT 1'),
      status: db.prepare<StatusRow, [string]>('SELECT id, state, attempts, created_at, updated_at, run_at, finished_at, last_error FROM jobs WHERE id = ?1'),
    };
    this.commitTx = db.transaction((request: CommitRequest) => this.write(request));
  }

  async commit(request: CommitRequest): Promise<CommitResult> {
    const turn = this.checkpointer.writerTurn();
    if (turn) await turn;
    return this.commitTx(request);
  }

  async recover({ leaseEndedBy, now, maxAttempts, reason, limit }: RecoverRequest): Promise<RecoveryResult> {
    const result: RecoveryResult = { requeued: 0, deadLettered: [] };
    this.db
      .transaction(() => {
        for (const row of this.sql.recover.all(now, maxAttempts, reason, leaseEndedBy, limit)) {
          if (row.state === FAILED) result.deadLettered.push(row.id);
          else result.requeued++;
        }
      })
      .immediate();
    return result;
  }

  async clampDue({ latest, now }: { latest: number; now: number }): Promise<number> {
    return this.sql.clampDue.run(latest, now).changes;
  }

  async prune({ excess, finishedBefore, limit }: PruneRequest): Promise<PruneResult> {
    const result = { succeeded: 0, failed: 0 };
    const count = (rows: Array<{ state: number }>) => {
      for (const row of rows) {
        if (row.state === SUCCEEDED) result.succeeded++;
        else result.failed++;
      }
      return rows.length;
    };
    this.db
      .transaction(() => {
        const byCount = excess > 0 ? count(this.sql.pruneExcess.all(Math.min(excess, limit))) : 0;
        if (byCount < limit) count(this.sql.pruneOld.all(finishedBefore, limit - byCount));
      })
      .immediate();
    return result;
  }

  async stats(): Promise<StoreStats> {
    const depth = { queued: 0, processing: 0, succeeded: 0, failed: 0 };
    for (const row of this.sql.counts.all()) {
      const state = JOB_STATES[row.state];
      if (state) depth[state] = row.n;
    }
    return { depth, oldestUnfinishedCreatedAt: this.oldest(), nextRunAt: this.sql.nextRunAt.get()?.t ?? null, leader: true };
  }

  async oldestUnfinishedCreatedAt(): Promise<number | null> {
    return this.oldest();
  }

  async status(id: string): Promise<JobStatus | undefined> {
    const row = this.sql.status.get(id);
    if (!row) return undefined;
    return toJobStatus({
      id: row.id,
      state: JOB_STATES[row.state] ?? 'queued',
      attempts: row.attempts,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      runAt: row.run_at,
      finishedAt: row.finished_at,
      lastError: row.last_error,
    });
  }

  async close(): Promise<void> {
    this.checkpointer.stop();
    // Unfinalized statements would keep the connection open as a zombie.
    for (const statement of Object.values(this.sql).flat()) statement.finalize();
    // Closing the last connection checkpoints the WAL into the main file and removes it.
    this.db.close(true);
    // Last: DATA_DIR is free for the next process only once the queue file is closed.
    this.owner.close();
  }

  private oldest(): number | null {
    if (this.scanFrom === Number.POSITIVE_INFINITY) return null;
    const row = this.sql.oldest.get(this.scanFrom);
    this.scanFrom = row ? row.seq : Number.POSITIVE_INFINITY;
    return row?.created_at ?? null;
  }

  /** The body of the group commit's transaction. */
  private write(request: CommitRequest): CommitResult {
    const { now } = request;
    this.insert(request.enqueue, now);
    const applied = request.settles.map((s) => this.settle(s));
    const renewed = request.renew.map((r) => this.sql.renew.run(r.seq, r.attempts, request.leaseUntil).changes === 1);
    const claimed = request.claim > 0 ? this.claim(now, request.leaseUntil, request.claim) : [];
    return { applied, renewed, claimed, nextRunAt: this.sql.nextRunAt.get()?.t ?? null };
  }

  private insert(jobs: CommitRequest['enqueue'], now: number): void {
    let at = 0;
    for (let c = 0; c < INSERT_CHUNKS.length; c++) {
      const rows = INSERT_CHUNKS[c]!;
      const statement = this.sql.insert[c]!;
      while (jobs.length - at >= rows) {
        const values: Array<string | number | null> = new Array(1 + 3 * rows);
        values[0] = now;
        for (let i = 0; i < rows; i++, at++) {
          const job = jobs[at]!;
          values[3 * i + 1] = job.id;
          values[3 * i + 2] = JSON.stringify(job.record);
          values[3 * i + 3] = job.trace;
        }
        // The rows of one INSERT take consecutive rowids after the largest in the table.
        this.scanFrom = Math.min(this.scanFrom, Number(statement.run(...values).lastInsertRowid) - rows + 1);
      }
    }
  }

  private claim(now: number, leaseUntil: number, limit: number): ClaimedJob[] {
    const rows = this.sql.due.all(now, limit);
    const claimed: ClaimedJob[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      this.sql.lease.run(row.seq, leaseUntil, now);
      claimed[i] = {
        seq: row.seq,
        id: row.id,
        record: JSON.parse(row.payload) as Submission,
        trace: row.trace,
        attempts: row.attempts + 1,
        availableAt: row.run_at,
      };
    }
    return claimed;
  }

  private settle(s: Settle): boolean {
    switch (s.kind) {
      case 'succeeded':
        return this.sql.succeed.run(s.seq, s.attempts, s.now).changes === 1;
      case 'retry':
        return this.sql.retry.run(s.seq, s.attempts, s.now, s.runAt, s.reason).changes === 1;
      case 'failed':
        return this.sql.fail.run(s.seq, s.attempts, s.now, s.reason).changes === 1;
      case 'release':
        return this.sql.release.run(s.seq, s.attempts, s.now).changes === 1;
    }
  }
}
