import { afterAll } from 'bun:test';
import { startPostgres, type PostgresCluster } from './postgres';
import { serviceFleet, type RunningService, type StartOptions } from './service';

/**
 * For the multi-instance tests: one real PostgreSQL for the file, a fresh database per test, and
 * pipewatch processes on it (QUEUE_DRIVER=postgres), all killed by PID after the file.
 */
export interface PgFleet {
  pg: () => PostgresCluster;
  /** Creates a fresh database and returns its DATABASE_URL (through `port` if given, e.g. a proxy). */
  database: (port?: number) => Promise<{ name: string; url: string }>;
  start: (databaseUrl: string, env?: Record<string, string>, options?: StartOptions) => Promise<RunningService>;
  /** Rows of the jobs table, by id. */
  jobs: (database: string) => Promise<Map<string, { state: number; attempts: number; last_error: string | null }>>;
}

export function pgFleet(): PgFleet {
  let cluster: PostgresCluster | undefined;
  const ready = startPostgres().then((c) => (cluster = c));
  const startService = serviceFleet();
  afterAll(async () => {
    await (await ready).destroy();
  });
  return {
    pg: () => {
      if (!cluster) throw new Error('PostgreSQL not started yet');
      return cluster;
    },
    database: async (port) => {
      const pg = await ready;
      const name = await pg.createDatabase('fleet');
      const url = pg.url(name);
      return { name, url: port ? url.replace(`:${pg.port}/`, `:${port}/`) : url };
    },
    start: (databaseUrl, env = {}, options = {}) =>
      startService({
        ...options,
        env: {
          QUEUE_DRIVER: 'postgres',
          DATABASE_URL: databaseUrl,
          LOG_LEVEL: 'info',
          SHUTDOWN_DRAIN_MS: '0',
          PG_STARTUP_WAIT_MS: '5000',
          ...env,
          ...options.env,
        },
      }),
    jobs: async (database) => {
      const pg = await ready;
      const rows = await pg.query<{ id: string; state: number; attempts: number; last_error: string | null }>(
        'SELECT id::text AS id, state, attempts, last_error FROM pipewatch_jobs',
        database,
      );
      return new Map(rows.map((r) => [r.id, r]));
    },
  };
}

/** Ids answered 202 that are not in a final state (succeeded 2 / failed 3) in the table. */
export function unfinished(ids: Iterable<string>, jobs: Map<string, { state: number }>): string[] {
  return [...ids].filter((id) => (jobs.get(id)?.state ?? -1) < 2);
}
