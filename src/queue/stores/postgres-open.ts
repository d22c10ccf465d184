import type { Registry } from 'prom-client';
import type { Config } from '../../config';
import { describeTarget, resolvePgTarget } from '../../db/connection';
import { createDatabaseMetrics } from '../../metrics/database';
import type { Logger } from '../../log';
import type { JobStore } from '../store';
import { openPostgresStore } from './postgres';

/** QUEUE_DRIVER=postgres: the store from the validated config, with its metrics and log lines. */
export async function openPostgresQueueStore(config: Config, deps: { log: Logger; registry: Registry }): Promise<JobStore> {
  const { log, registry } = deps;
  const target = resolvePgTarget(config);
  const where = describeTarget(target);
  const store = await openPostgresStore({
    target,
    pool: { max: config.PG_POOL_MAX, connectTimeoutMs: config.PG_CONNECT_TIMEOUT_MS, statementTimeoutMs: config.PG_STATEMENT_TIMEOUT_MS },
    startupWaitMs: config.PG_STARTUP_WAIT_MS,
    metrics: createDatabaseMetrics(registry),
    onStartupRetry: (reason, elapsedMs) => log.warn({ database: where, reason, elapsed_ms: elapsedMs }, 'PostgreSQL not reachable yet; retrying'),
    onMigrated: (steps) => log.info({ database: where, steps }, 'PostgreSQL queue schema migrated'),
    onLeaderChange: (leading) =>
      log.info({ leader: leading }, leading ? 'this instance now exports the shared queue gauges' : 'another instance exports the shared queue gauges'),
  });
  log.info({ database: where, queue_id: store.queueId, pool_max: config.PG_POOL_MAX }, 'PostgreSQL queue open');
  return store;
}
