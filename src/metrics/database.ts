import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * What an operator of the PostgreSQL queue needs to see: is the database reachable, how full is
 * this instance's pool, how long round trips take, and which kinds of error it answers. Per
 * instance, so every one of these is summable across instances.
 */

/**
 * Every `operation` label value: a fixed set, so no query text can create series. `commit` is the
 * group commit (enqueues, settles, renewals and claims in one statement); `reclaim` recovers
 * expired leases (and repairs due times after a clock step); `lease` is the leader lease.
 */
export const DB_OPERATIONS = ['connect', 'migrate', 'commit', 'reclaim', 'stats', 'prune', 'status', 'lease'] as const;
export type DbOperation = (typeof DB_OPERATIONS)[number];

/** A round trip is sub-millisecond on a local network; a failover or a cold disk takes seconds. */
export const DB_DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** `up` counts as 1 while the last round trip succeeded no longer ago than this. */
const UP_WINDOW_MS = 10_000;

export interface DbPoolState {
  max: number;
  inUse: () => number;
  /** performance.now() of the last successful round trip, or undefined before the first. */
  lastOkAt: () => number | undefined;
  /** True when the last round trip failed. */
  lastFailed: () => boolean;
}

/**
 * The database metrics on `registry`. The pool is bound once the driver opened it (`bindPool`);
 * before that the gauges read 0 (not up, no connections).
 */
export function createDatabaseMetrics(registry: Registry) {
  const on = { registers: [registry] };
  let pool: DbPoolState = { max: 0, inUse: () => 0, lastOkAt: () => undefined, lastFailed: () => true };
  new Gauge({
    name: 'pipewatch_db_up',
    help: "PostgreSQL queue: 1 when the last round trip to the database succeeded within the last 10 s, else 0 (submissions get 503 storage and workers pause). Check that the database runs and accepts this instance's connections.",
    ...on,
    collect() {
      const ok = pool.lastOkAt();
      this.set(!pool.lastFailed() && ok !== undefined && performance.now() - ok <= UP_WINDOW_MS ? 1 : 0);
    },
  });
  new Gauge({
    name: 'pipewatch_db_pool_max_connections',
    help: "PostgreSQL queue: connections this instance may open (PG_POOL_MAX); instances x this must stay below the server's max_connections.",
    ...on,
    collect() {
      this.set(pool.max);
    },
  });
  new Gauge({
    name: 'pipewatch_db_pool_in_use_connections',
    help: "PostgreSQL queue: connections busy with a query right now; near pipewatch_db_pool_max_connections means queries queue for a connection (raise PG_POOL_MAX within the server's budget).",
    ...on,
    collect() {
      this.set(Math.min(pool.max, pool.inUse()));
    },
  });
  return {
    bindPool(state: DbPoolState): void {
      pool = state;
    },
    queryDuration: new Histogram({
      name: 'pipewatch_db_query_duration_seconds',
      help: 'PostgreSQL queue: round-trip time of each database operation (commit is the group commit a 202 waits for), failures included.',
      labelNames: ['operation'] as const,
      buckets: DB_DURATION_BUCKETS,
      ...on,
    }),
    errors: new Counter({
      name: 'pipewatch_db_errors_total',
      help: 'PostgreSQL queue: failed database operations by SQLSTATE class (08 connection, 40 rollback, 53 resources, 57 operator intervention/shutdown, "connection" a network error without SQLSTATE).',
      labelNames: ['sqlstate_class'] as const,
      ...on,
    }),
  };
}

export type DatabaseMetrics = ReturnType<typeof createDatabaseMetrics>;

/** Bounded label for an error: the SQLSTATE's class, `connection` for a network failure, else `other`. */
export function sqlstateClass(error: unknown): string {
  const { errno, code } = (error ?? {}) as { errno?: unknown; code?: unknown };
  if (typeof errno === 'string' && /^[0-9A-Z]{5}$/.test(errno)) return errno.slice(0, 2);
  if (typeof code === 'string' && /^ERR_POSTGRES_(CONNECTION|.*TIMEOUT|.*SOCKET|.*TLS|.*SSL)/.test(code)) return 'connection';
  if (error instanceof Error && error.name === 'DatabaseTimeoutError') return 'connection';
  return 'other';
}
