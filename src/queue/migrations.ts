import { QueueStartError } from './types';

/**
 * Versioned schema migrations, one mechanism for every SQL store (sqlite, postgres). Each store
 * keeps its own ordered list of steps in its own dialect; `applyMigrations` runs the missing ones
 * on a `SchemaSession` the store opened INSIDE ONE TRANSACTION (sqlite: `BEGIN IMMEDIATE`;
 * postgres: `sql.begin` plus a transaction-scoped advisory lock, so instances starting together
 * migrate exactly once). A schema newer than the last step this build knows is refused with one
 * line, before anything is written.
 */

export interface Migration {
  /** 1, 2, 3, … in order, never reused: the version the schema has once this step ran. */
  version: number;
  /** What the step does, for the log line. */
  name: string;
  /** The step itself; it may run several statements and read what earlier steps made. */
  up(session: SchemaSession): Promise<void>;
}

/** The store's side, bound to the one open transaction. */
export interface SchemaSession {
  /** The schema's version: 0 for an empty database. */
  version(): Promise<number>;
  setVersion(version: number): Promise<void>;
  /** Runs one or more statements (no parameters). */
  exec(sql: string): Promise<void>;
}

export interface MigrationOutcome {
  from: number;
  to: number;
  /** Names of the steps applied now (empty when the schema was current). */
  applied: string[];
}

/**
 * Brings the schema up to the last of `migrations`. `where` names the store for the refusal line,
 * e.g. `DATA_DIR=/srv/data` or `the PostgreSQL database at db:5432/pipewatch` (never a password).
 */
export async function applyMigrations(session: SchemaSession, migrations: readonly Migration[], where: string): Promise<MigrationOutcome> {
  assertOrdered(migrations);
  const known = migrations.at(-1)?.version ?? 0;
  const from = await session.version();
  if (from > known) throw newerSchemaError(where, from, known);
  const applied: string[] = [];
  for (const step of migrations) {
    if (step.version <= from) continue;
    await step.up(session);
    applied.push(step.name);
  }
  if (applied.length > 0) await session.setVersion(known);
  return { from, to: Math.max(from, known), applied };
}

/** The one line for a schema this build cannot read: a newer pipewatch wrote it. */
export function newerSchemaError(where: string, found: number, known: number): QueueStartError {
  return new QueueStartError(
    `the queue schema in ${where} is version ${found}, newer than this pipewatch understands (${known}); run a newer pipewatch or point it at another queue`,
  );
}

function assertOrdered(migrations: readonly Migration[]): void {
  migrations.forEach((step, i) => {
    if (step.version !== i + 1) throw new Error(`migration "${step.name}" has version ${step.version}, expected ${i + 1}`);
  });
}
