import type { Database } from 'bun:sqlite';
import { applyMigrations, type Migration, type MigrationOutcome, type SchemaSession } from '../migrations';

// States as small integers in the file; JOB_STATES[code] is the name.
export const QUEUED = 0;
export const PROCESSING = 1;
export const SUCCEEDED = 2;
export const FAILED = 3;

/**
 * The queue file's schema, as versioned steps (src/queue/migrations.ts); the version is SQLite's
 * `user_version`. Never edit a step that has shipped: add the next one.
 */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'jobs table and its partial indexes',
    /**
     * One table. Three partial indexes keep every hot query an index range scan whatever the
     * number of finished rows: `jobs_due` (unfinished jobs by when they may run; claims and the
     * next-due lookup), `jobs_unfinished` (enqueue order; the oldest-job gauge) and `jobs_finished`
     * (retention). A finished job leaves the first two, so they stay as small as the backlog.
     * The queries repeat each index's `WHERE` term: SQLite only uses a partial index when the query
     * literally implies it.
     */
    up: (session) =>
      session.exec(`
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
        CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state >= 2;`),
  },
  {
    version: 2,
    name: 'trace column and the queue id',
    // The trace context sits beside the record, never inside it. The queue id names this queue
    // in the global gauges' `queue` label for as long as the file lives.
    up: (session) =>
      session.exec(`
        ALTER TABLE jobs ADD COLUMN trace TEXT;
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
        INSERT INTO meta (key, value) VALUES ('queue_id', '${crypto.randomUUID()}');`),
  },
  {
    version: 3,
    name: 'no index for the oldest unfinished job',
    /**
     * `jobs_unfinished` cost every enqueue, claim and settle a B-tree write (~0.5 µs of the ~2.9 µs
     * a row of a 50-row commit; bench:http, README). The oldest unfinished job is now found by a
     * rowid range scan from a seq the store keeps at or below every unfinished job's (sqlite.ts).
     */
    up: (session) => session.exec('DROP INDEX jobs_unfinished;'),
  },
];

/** Runs the missing steps in ONE immediate transaction (nothing else uses the file yet). */
export async function migrateSqlite(db: Database, where: string): Promise<MigrationOutcome> {
  const session: SchemaSession = {
    version: async () => db.query<{ user_version: number }, []>('PRAGMA user_version').get()?.user_version ?? 0,
    setVersion: async (version) => void db.exec(`PRAGMA user_version = ${Math.trunc(version)}`),
    exec: async (sql) => void db.exec(sql),
  };
  db.exec('BEGIN IMMEDIATE');
  try {
    const outcome = await applyMigrations(session, SQLITE_MIGRATIONS, where);
    db.exec('COMMIT');
    return outcome;
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
}

export function readQueueId(db: Database): string {
  const row = db.query<{ value: string }, []>("SELECT value FROM meta WHERE key = 'queue_id'").get();
  if (!row) throw new Error('the queue file has no queue_id');
  return row.value;
}
