import { SQL } from 'bun';
import { describeTarget, sqlOptions, type PgTarget, type PoolOptions } from '../../db/connection';
import { sqlstateClass, type DatabaseMetrics, type DbOperation } from '../../metrics/database';
import { QueueStartError } from '../types';
import { migrate } from './postgres-schema';

/**
 * The thin seam between the PostgreSQL driver and Bun.SQL: one pool, every round trip timed and
 * bounded, its failures classified. Bun.SQL has no per-query timeout; the server's
 * statement_timeout bounds a slow query, and `deadline` bounds a round trip whose connection went
 * silent (no RST, no answer), so no caller ever waits longer than `operationTimeoutMs`.
 */

export class DatabaseTimeoutError extends Error {
  override name = 'DatabaseTimeoutError';
  readonly code = 'ERR_PIPEWATCH_DB_TIMEOUT';
}

export interface PgDbOptions {
  target: PgTarget;
  pool: PoolOptions;
  /** How long start-up keeps retrying an unreachable database (PG_STARTUP_WAIT_MS). */
  startupWaitMs: number;
  metrics?: DatabaseMetrics;
  /** Told about each failed start-up attempt (the reason holds no password). */
  onStartupRetry?: (reason: string, elapsedMs: number) => void;
}

export class PgDb {
  /** Round trips running now (the pool's busy connections, at most `pool.max`). */
  private running = 0;
  private lastOk: number | undefined;
  private failed = false;
  readonly operationTimeoutMs: number;

  private constructor(
    readonly sql: SQL,
    readonly options: PgDbOptions,
  ) {
    this.operationTimeoutMs = options.pool.statementTimeoutMs + options.pool.connectTimeoutMs + 1000;
  }

  /** Connects (retrying for startupWaitMs), then migrates. Throws a one-line QueueStartError. */
  static async open(options: PgDbOptions): Promise<{ db: PgDb; queueId: string; applied: string[] }> {
    const sql = new SQL(sqlOptions(options.target, options.pool));
    const db = new PgDb(sql, options);
    options.metrics?.bindPool({ max: options.pool.max, inUse: () => db.inUse(), lastOkAt: () => db.lastOkAt(), lastFailed: () => db.lastFailed() });
    const where = describeTarget(options.target);
    const started = performance.now();
    let lastReason = 'no attempt';
    for (let attempt = 0; ; attempt++) {
      try {
        await db.run('connect', (q) => q`SELECT 1`);
        break;
      } catch (error) {
        lastReason = describeError(error);
        const elapsed = performance.now() - started;
        if (!isTransient(error) || elapsed >= options.startupWaitMs) {
          await sql.close().catch(() => {});
          const hint = isTransient(error) ? `still unreachable after ${Math.round(elapsed)} ms (PG_STARTUP_WAIT_MS=${options.startupWaitMs})` : 'refused';
          throw new QueueStartError(
            `cannot connect to the PostgreSQL queue at ${where} named by ${options.target.source} (${lastReason}): ${hint}; check ${options.target.source} and that the database accepts connections`,
          );
        }
        options.onStartupRetry?.(lastReason, Math.round(elapsed));
        await Bun.sleep(Math.min(1000, 100 * 2 ** Math.min(attempt, 4), Math.max(10, options.startupWaitMs - elapsed)));
      }
    }
    try {
      const { queueId, applied } = await db.run('migrate', (q) => migrate(q, `the PostgreSQL database at ${where}`), 60_000);
      return { db, queueId, applied };
    } catch (error) {
      await sql.close().catch(() => {});
      if (error instanceof QueueStartError) throw error;
      throw new QueueStartError(
        `cannot prepare the PostgreSQL queue schema at ${where} (${describeError(error)}); check that the role named by ${options.target.source} may create tables in its database`,
      );
    }
  }

  get poolMax(): number {
    return this.options.pool.max;
  }

  inUse(): number {
    return this.running;
  }

  lastOkAt(): number | undefined {
    return this.lastOk;
  }

  lastFailed(): boolean {
    return this.failed;
  }

  /** True when the last round trip succeeded: used for readiness and to pause workers. */
  healthy(): boolean {
    return this.lastOk !== undefined && !this.failed;
  }

  /** One database operation: timed, bounded by `timeoutMs`, errors counted by SQLSTATE class. */
  async run<T>(operation: DbOperation, fn: (sql: SQL) => Promise<T>, timeoutMs = this.operationTimeoutMs): Promise<T> {
    const metrics = this.options.metrics;
    const started = performance.now();
    this.running++;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const result = await Promise.race([
        fn(this.sql),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new DatabaseTimeoutError(`no answer from PostgreSQL within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      this.lastOk = performance.now();
      this.failed = false;
      return result;
    } catch (error) {
      // A server error (a constraint, a bad statement) still means the database answered.
      if (isTransient(error)) this.failed = true;
      else this.lastOk = performance.now();
      metrics?.errors.inc({ sqlstate_class: sqlstateClass(error) });
      throw error;
    } finally {
      clearTimeout(timer);
      this.running--;
      metrics?.queryDuration.observe({ operation }, (performance.now() - started) / 1000);
    }
  }

  async close(): Promise<void> {
    await this.sql.close({ timeout: 2 }).catch(() => {});
  }
}

/**
 * Connection-level failures and server states that pass by themselves (shutdown, failover,
 * too many connections, serialization): worth retrying. Anything else is a bug or a
 * misconfiguration (bad password, missing privilege) that waiting does not fix.
 */
export function isTransient(error: unknown): boolean {
  const cls = sqlstateClass(error);
  return (
    cls === 'connection' ||
    cls === '08' ||
    cls === '40' ||
    cls === '53' ||
    cls === '57' ||
    cls === '58' ||
    cls === 'XX' ||
    (error as { errno?: string })?.errno === '55P03'
  );
}

/** Why a round trip failed, without the password or any data: a code and Bun's short message. */
export function describeError(error: unknown): string {
  const { errno, code, message } = (error ?? {}) as { errno?: string; code?: string; message?: string };
  const what = typeof errno === 'string' && /^[0-9A-Z]{5}$/.test(errno) ? `SQLSTATE ${errno}` : (code ?? (error instanceof Error ? error.name : 'unknown'));
  const text = typeof message === 'string' ? message.replace(/postgres(ql)?:\/\/\S*/gi, '<url>').slice(0, 120) : '';
  return text ? `${what}: ${text}` : what;
}
