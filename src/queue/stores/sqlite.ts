import { Database, SQLiteError } from 'bun:sqlite';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { toJobStatus, type ClaimedJob, type JobStore, type PruneResult, type RecoveryResult, type Settle } from '../sync-store';
import { JOB_STATES, QueueStartError, type JobState, type JobStatus, type Submission } from '../types';
import { startCheckpointer, type Checkpointer } from './checkpointer';

export const QUEUE_FILE = 'queue.sqlite';
/** Held locked by the one process that owns DATA_DIR (see acquireOwnership). */
export const OWNER_LOCK_FILE = 'queue.lock';
const SCHEMA_VERSION = 1;

// States as small integers in the file; JOB_STATES[code] is the name.
const QUEUED = 0;
const PROCESSING = 1;
const SUCCEEDED = 2;
const FAILED = 3;

/**
 * A group commit inserts its rows with multi-row INSERTs of these sizes (largest first, one
 * prepared statement each) instead of one statement per row: ~20% less time per row at the
 * batch sizes a busy tick sees (bench: per-row run() ~8.5 us, 32-row INSERTs ~6.9 us).
 * 128 rows x 2 parameters + 1 stays far below SQLite's 32766 host-parameter limit.
 */
const INSERT_CHUNKS = [128, 32, 8, 1] as const;

/**
 * One table. Three partial indexes keep every hot query an index range scan whatever the
 * number of finished rows: `jobs_due` (unfinished jobs by when they may run; claims and the
 * next-due lookup), `jobs_unfinished` (enqueue order; the oldest-job gauge) and `jobs_finished`
 * (retention). A finished job leaves the first two, so they stay as small as the backlog.
 * The queries repeat each index's `WHERE` term: SQLite only uses a partial index when the query
 * literally implies it.
 */
const SCHEMA = `
CREATE TABLE jobs (
  seq         INTEGER PRIMARY KEY,
  id          TEXT    NOT NULL UNIQUE,
  state       INTEGER NOT NULL,
  payload     TEXT    NOT NULL,
  attempts    INTEGER NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  run_at      INTEGER NOT NULL,
  finished_at INTEGER,
  last_error  TEXT
) STRICT;
CREATE INDEX jobs_due ON jobs (state, run_at) WHERE state < 2;
CREATE INDEX jobs_unfinished ON jobs (seq) WHERE state < 2;
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state >= 2;
`;

export interface SqliteStoreOptions {
  dataDir: string;
  synchronous: 'NORMAL' | 'FULL';
  /** Told when checkpoints fall back from the worker thread to SQLite's automatic ones. */
  onCheckpointerFailure?: (reason: string) => void;
}

/** SQLite's default automatic checkpoint size, used only if the checkpoint worker fails. */
const AUTOCHECKPOINT_PAGES = 1000;

/**
 * The durable driver: one SQLite file in WAL mode, owned by exactly one pipewatch process (a
 * second one fails to start instead of racing the first). Every failure to open it becomes a
 * QueueStartError that says what to fix.
 */
export function openSqliteStore(options: SqliteStoreOptions): JobStore {
  const dir = resolve(options.dataDir);
  prepareDataDir(dir);
  const file = join(dir, QUEUE_FILE);
  let owner: Database | undefined;
  let db: Database | undefined;
  try {
    owner = acquireOwnership(join(dir, OWNER_LOCK_FILE));
    db = new Database(file, { create: true, readwrite: true, strict: true });
    configure(db, options.synchronous);
    migrate(db, dir);
    const queueDb = db;
    // Should the worker fail, SQLite's own checkpoints (inside commits) keep the WAL bounded.
    const checkpointer = startCheckpointer(file, (reason) => {
      queueDb.exec(`PRAGMA wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
      options.onCheckpointerFailure?.(reason);
    });
    return new SqliteStore(db, owner, checkpointer, options.synchronous);
  } catch (error) {
    db?.close();
    owner?.close();
    if (error instanceof QueueStartError) throw error;
    throw openError(error, dir, file);
  }
}

/**
 * An exclusive SQLite lock on a file of its own, held until the process closes it or dies (the
 * kernel drops the lock with the process, so a crash never leaves a stale lock). The queue file
 * itself stays in normal locking mode so that the checkpoint worker can open it too.
 */
function acquireOwnership(lockFile: string): Database {
  const owner = new Database(lockFile, { create: true, readwrite: true });
  try {
    // A predecessor that is just exiting releases the lock within moments.
    owner.exec('PRAGMA busy_timeout = 2000');
    owner.exec('PRAGMA locking_mode = EXCLUSIVE');
    owner.exec('PRAGMA journal_mode = MEMORY'); // the lock file holds no data: no journal on disk
    owner.exec('BEGIN EXCLUSIVE');
    return owner;
  } catch (error) {
    owner.close();
    const code = error instanceof SQLiteError ? error.code : undefined;
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
      // Not the queue: this file holds no data, so deleting it is the safe fix.
      throw new QueueStartError(
        `the lock file ${lockFile} in DATA_DIR=${dirname(lockFile)} is damaged (${code}); it holds no data: delete it and start again`,
      );
    }
    throw error;
  }
}

function prepareDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    if (code === 'EEXIST') {
      throw new QueueStartError(`cannot use DATA_DIR=${dir}: it is a file, not a directory; point DATA_DIR at a directory or move the file away`);
    }
    if (code === 'ENOTDIR') {
      throw new QueueStartError(
        `cannot create DATA_DIR=${dir}: one of its parents is a file, not a directory; point DATA_DIR at a directory or move the file away`,
      );
    }
    throw new QueueStartError(`cannot create DATA_DIR=${dir} (${code}); create it with write access for the service user, or point DATA_DIR elsewhere`);
  }
  if (!statSync(dir).isDirectory()) {
    throw new QueueStartError(`cannot use DATA_DIR=${dir}: it is not a directory; point DATA_DIR at a directory or move the file away`);
  }
}

function configure(db: Database, synchronous: 'NORMAL' | 'FULL'): void {
  db.exec('PRAGMA busy_timeout = 2000');
  const mode = db.query<{ journal_mode: string }, []>('PRAGMA journal_mode = WAL').get()?.journal_mode;
  if (mode !== 'wal') throw new Error(`journal_mode is ${mode}, WAL is required`);
  // NORMAL in WAL mode: a commit is a write() to the WAL, durable once the process is gone;
  // FULL adds an fsync per commit, durable across power loss.
  db.exec(`PRAGMA synchronous = ${synchronous}`);
  db.exec('PRAGMA foreign_keys = OFF');
  db.exec('PRAGMA temp_store = MEMORY');
  // Bound the WAL file after checkpoints (it otherwise keeps its high-water size).
  db.exec('PRAGMA journal_size_limit = 67108864');
  // Checkpoints run in a worker thread (checkpointer.ts), not inside commits on the event loop.
  db.exec('PRAGMA wal_autocheckpoint = 0');
}

function migrate(db: Database, dir: string): void {
  const check = db.query<{ quick_check: string }, []>('PRAGMA quick_check(1)').get()?.quick_check;
  if (check !== 'ok') {
    throw new QueueStartError(
      `the queue file ${join(dir, QUEUE_FILE)} in DATA_DIR=${dir} failed its integrity check; restore it from a backup, or move it away to start with an empty queue`,
    );
  }
  const version = db.query<{ user_version: number }, []>('PRAGMA user_version').get()?.user_version ?? 0;
  if (version > SCHEMA_VERSION) {
    throw new QueueStartError(
      `the queue file in DATA_DIR=${dir} has schema version ${version}, newer than this pipewatch understands (${SCHEMA_VERSION}); run a newer pipewatch or point DATA_DIR elsewhere`,
    );
  }
  if (version === SCHEMA_VERSION) return;
  const hasTables = (db.query<{ n: number }, []>("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'").get()?.n ?? 0) > 0;
  if (hasTables) {
    throw new QueueStartError(
      `the file ${join(dir, QUEUE_FILE)} in DATA_DIR=${dir} is an SQLite database but not a pipewatch queue; move it away or point DATA_DIR elsewhere`,
    );
  }
  db.transaction(() => {
    db.exec(SCHEMA);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

function openError(error: unknown, dir: string, file: string): QueueStartError {
  const code = error instanceof SQLiteError ? error.code : (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'SQLITE_NOTADB':
    case 'SQLITE_CORRUPT':
      return new QueueStartError(
        `the queue file ${file} in DATA_DIR=${dir} is not a valid SQLite database (${code}); restore it from a backup, or move it away to start with an empty queue`,
      );
    case 'SQLITE_BUSY':
    case 'SQLITE_LOCKED':
      return new QueueStartError(
        `the queue file in DATA_DIR=${dir} is locked by another process (${code}); stop the other pipewatch using it, or give this one its own DATA_DIR`,
      );
    case 'SQLITE_READONLY':
    case 'SQLITE_CANTOPEN':
    case 'SQLITE_PERM':
    case 'SQLITE_IOERR':
    case 'SQLITE_FULL':
      return new QueueStartError(
        `cannot write the queue file ${file} in DATA_DIR=${dir} (${code}); make DATA_DIR a writable directory on a local disk with free space`,
      );
    default:
      return new QueueStartError(
        `cannot open the queue file ${file} in DATA_DIR=${dir} (${code ?? (error instanceof Error ? error.message : 'unknown error')}); check that DATA_DIR is a writable directory on a local disk`,
      );
  }
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
  attempts: number;
  run_at: number;
}

class SqliteStore implements JobStore {
  readonly durability;
  private readonly tx: (fn: () => unknown) => unknown;
  private readonly sql;

  constructor(
    private readonly db: Database,
    private readonly owner: Database,
    private readonly checkpointer: Checkpointer,
    synchronous: 'NORMAL' | 'FULL',
  ) {
    this.durability = synchronous === 'FULL' ? ('power-loss' as const) : ('process-crash' as const);
    this.tx = db.transaction((fn: () => unknown) => fn());
    // Prepared once; the enqueue and worker paths only bind and step.
    this.sql = {
      // ?1 is the shared timestamp; each row binds its id and payload.
      insert: INSERT_CHUNKS.map((rows) =>
        db.prepare<void, Array<string | number>>(
          `INSERT INTO jobs (id, state, payload, attempts, created_at, updated_at, run_at) VALUES ${Array.from(
            { length: rows },
            (_, i) => `(?${2 * i + 2}, ${QUEUED}, ?${2 * i + 3}, 0, ?1, ?1, ?1)`,
          ).join(', ')}`,
        ),
      ),
      due: db.prepare<DueRow, [number, number]>(
        `SELECT seq, id, payload, attempts, run_at FROM jobs INDEXED BY jobs_due WHERE state < 2 AND state = ${QUEUED} AND run_at <= ?1 ORDER BY run_at, seq LIMIT ?2`,
      ),
      lease: db.prepare<void, [number, number, number]>(
        `UPDATE jobs SET state = ${PROCESSING}, attempts = attempts + 1, run_at = ?2, updated_at = ?3 WHERE seq = ?1`,
      ),
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
      recover: db.prepare<{ state: number }, [number, number, string]>(
        `UPDATE jobs SET
           state = CASE WHEN attempts >= ?2 THEN ${FAILED} ELSE ${QUEUED} END,
           finished_at = CASE WHEN attempts >= ?2 THEN ?1 ELSE NULL END,
           run_at = ?1, updated_at = ?1, last_error = ?3
         WHERE state < 2 AND state = ${PROCESSING}
         RETURNING state`,
      ),
      pruneExcess: db.prepare<{ state: number }, [number]>(
        `DELETE FROM jobs WHERE seq IN (SELECT seq FROM jobs INDEXED BY jobs_finished WHERE state >= 2 ORDER BY finished_at LIMIT ?1) RETURNING state`,
      ),
      pruneOld: db.prepare<{ state: number }, [number, number]>(
        `DELETE FROM jobs WHERE seq IN (SELECT seq FROM jobs INDEXED BY jobs_finished WHERE state >= 2 AND finished_at < ?1 ORDER BY finished_at LIMIT ?2) RETURNING state`,
      ),
      counts: db.prepare<{ state: number; n: number }, []>('SELECT state, count(*) AS n FROM jobs GROUP BY state'),
      nextRunAt: db.prepare<{ t: number | null }, []>(
        `SELECT min(run_at) AS t FROM jobs INDEXED BY jobs_due WHERE state < 2 AND state = ${QUEUED}`,
      ),
      oldest: db.prepare<{ created_at: number }, []>(
        'SELECT created_at FROM jobs INDEXED BY jobs_unfinished WHERE state < 2 ORDER BY seq LIMIT 1',
      ),
      status: db.prepare<StatusRow, [string]>(
        'SELECT id, state, attempts, created_at, updated_at, run_at, finished_at, last_error FROM jobs WHERE id = ?1',
      ),
    };
  }

  transaction<T>(fn: () => T): T {
    return this.tx(fn) as T;
  }

  insert(ids: readonly string[], records: readonly Submission[], now: number): void {
    let at = 0;
    for (let c = 0; c < INSERT_CHUNKS.length; c++) {
      const rows = INSERT_CHUNKS[c]!;
      const statement = this.sql.insert[c]!;
      while (ids.length - at >= rows) {
        const values: Array<string | number> = new Array(1 + 2 * rows);
        values[0] = now;
        for (let i = 0; i < rows; i++, at++) {
          values[2 * i + 1] = ids[at]!;
          values[2 * i + 2] = JSON.stringify(records[at]);
        }
        statement.run(...values);
      }
    }
  }

  claim(now: number, leaseUntil: number, limit: number): ClaimedJob[] {
    const rows = this.sql.due.all(now, limit);
    const claimed: ClaimedJob[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      this.sql.lease.run(row.seq, leaseUntil, now);
      claimed[i] = { seq: row.seq, id: row.id, record: JSON.parse(row.payload) as Submission, attempts: row.attempts + 1, availableAt: row.run_at };
    }
    return claimed;
  }

  settle(s: Settle): boolean {
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

  recoverInterrupted(now: number, maxAttempts: number, reason: string): RecoveryResult {
    const result = { requeued: 0, failed: 0 };
    this.transaction(() => {
      for (const row of this.sql.recover.all(now, maxAttempts, reason)) {
        if (row.state === FAILED) result.failed++;
        else result.requeued++;
      }
    });
    return result;
  }

  prune(finishedBefore: number, excess: number, limit: number): PruneResult {
    const result = { succeeded: 0, failed: 0 };
    const count = (rows: Array<{ state: number }>) => {
      for (const row of rows) {
        if (row.state === SUCCEEDED) result.succeeded++;
        else result.failed++;
      }
      return rows.length;
    };
    this.transaction(() => {
      const byCount = excess > 0 ? count(this.sql.pruneExcess.all(Math.min(excess, limit))) : 0;
      if (byCount < limit) count(this.sql.pruneOld.all(finishedBefore, limit - byCount));
    });
    return result;
  }

  countByState(): Record<JobState, number> {
    const counts = { queued: 0, processing: 0, succeeded: 0, failed: 0 };
    for (const row of this.sql.counts.all()) {
      const state = JOB_STATES[row.state];
      if (state) counts[state] = row.n;
    }
    return counts;
  }

  nextRunAt(): number | null {
    return this.sql.nextRunAt.get()?.t ?? null;
  }

  oldestUnfinishedCreatedAt(): number | null {
    return this.sql.oldest.get()?.created_at ?? null;
  }

  status(id: string): JobStatus | undefined {
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

  close(): void {
    this.checkpointer.stop();
    // Unfinalized statements would keep the connection open as a zombie.
    for (const statement of Object.values(this.sql).flat()) statement.finalize();
    // Closing the last connection checkpoints the WAL into the main file and removes it.
    this.db.close(true);
    // Last: DATA_DIR is free for the next process only once the queue file is closed.
    this.owner.close();
  }
}
