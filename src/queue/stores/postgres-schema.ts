import type { SQL } from 'bun';
import { applyMigrations, type Migration } from '../migrations';

/**
 * The PostgreSQL queue's schema, as numbered migrations applied in order at start. Each instance
 * runs `migrate` inside ONE transaction that first takes a transaction-scoped advisory lock (never
 * a session lock: Bun.SQL reconnects silently, and a session lock would vanish with the old
 * connection), so instances starting together migrate exactly once and the others then see the
 * finished schema. An instance refuses a schema newer than it knows.
 */

/** States as small integers, the same codes as the sqlite driver: JOB_STATES[code] is the name. */
export const QUEUED = 0;
export const PROCESSING = 1;
export const SUCCEEDED = 2;
export const FAILED = 3;

/**
 * `run_at` is when a queued job may run, and while processing when its lease ends. Partial indexes
 * keep every hot lookup a short index scan however many finished rows are kept: `jobs_due` (claims,
 * next due, queued count), `jobs_leased` (expired leases, processing count), `jobs_unfinished`
 * (oldest unfinished job) and `jobs_finished` (retention). Rows churn all day (insert, 2-3 updates,
 * delete), so autovacuum is told to visit this table far more often than the global default
 * (20% dead rows), keeping the indexes and the heap small.
 */
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'jobs table, partial indexes, autovacuum settings, leader lease table',
    up: (session) =>
      session.exec(`
CREATE TABLE pipewatch_jobs (
  seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id          uuid     NOT NULL UNIQUE,
  state       smallint NOT NULL,
  payload     jsonb    NOT NULL,
  trace       text,
  attempts    integer  NOT NULL,
  created_at  bigint   NOT NULL,
  updated_at  bigint   NOT NULL,
  run_at      bigint   NOT NULL,
  finished_at bigint,
  last_error  text
) WITH (
  autovacuum_vacuum_scale_factor = 0.01,
  autovacuum_vacuum_threshold = 1000,
  autovacuum_vacuum_insert_scale_factor = 0.05,
  autovacuum_analyze_scale_factor = 0.02,
  autovacuum_vacuum_cost_delay = 1
);
CREATE INDEX pipewatch_jobs_due ON pipewatch_jobs (run_at, seq) WHERE state = ${QUEUED};
CREATE INDEX pipewatch_jobs_leased ON pipewatch_jobs (run_at) WHERE state = ${PROCESSING};
CREATE INDEX pipewatch_jobs_unfinished ON pipewatch_jobs (seq) INCLUDE (created_at) WHERE state < ${SUCCEEDED};
CREATE INDEX pipewatch_jobs_finished ON pipewatch_jobs (finished_at) INCLUDE (state) WHERE state >= ${SUCCEEDED};
CREATE TABLE pipewatch_leader (
  name       text PRIMARY KEY,
  holder     text NOT NULL,
  expires_at timestamptz NOT NULL
);
`),
  },
];

export const SCHEMA_VERSION = MIGRATIONS.at(-1)!.version;

/** Any constant: all pipewatch instances on one database serialise their migrations on it. */
const MIGRATION_LOCK = 0x70697065; // "pipe"

export interface MigrationResult {
  queueId: string;
  /** Names of the steps this instance applied (empty when another instance already had). */
  applied: string[];
}

/** Brings the schema to SCHEMA_VERSION and returns the queue's id (made on first start). */
export async function migrate(sql: SQL, where: string): Promise<MigrationResult> {
  return await sql.begin(async (tx) => {
    // Waits for an instance migrating right now; released by this transaction's end, whatever happens.
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    // Checked first: CREATE ... IF NOT EXISTS needs the CREATE privilege even when the table
    // exists, and a role limited to reading and writing the queue's tables has no such privilege.
    const [meta] = await tx`SELECT to_regclass('pipewatch_meta') IS NOT NULL AS present`;
    if (!(meta as { present: boolean }).present) await tx`CREATE TABLE pipewatch_meta (key text PRIMARY KEY, value text NOT NULL)`;
    const outcome = await applyMigrations(
      {
        version: async () => {
          const [row] = await tx`SELECT value FROM pipewatch_meta WHERE key = 'schema_version'`;
          return row ? Number((row as { value: string }).value) : 0;
        },
        setVersion: async (version) => {
          await tx`INSERT INTO pipewatch_meta (key, value) VALUES ('schema_version', ${String(version)})
                   ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`;
        },
        exec: async (text) => {
          await tx.unsafe(text);
        },
      },
      MIGRATIONS,
      where,
    );
    const [row] = await tx`SELECT value FROM pipewatch_meta WHERE key = 'queue_id'`;
    let queueId = (row as { value: string } | undefined)?.value;
    if (!queueId) {
      queueId = crypto.randomUUID();
      await tx`INSERT INTO pipewatch_meta (key, value) VALUES ('queue_id', ${queueId})`;
    }
    return { queueId, applied: outcome.applied };
  });
}
