import type { Config } from '../config';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import type { Tracing } from '../tracing/provider';
import { jobTracer } from '../tracing/queue';
import { JobQueue } from './engine';
import { createSimulatedPipeline } from './pipeline';
import type { JobStore } from './store';
import { openMemoryStore } from './stores/memory';
import { openPostgresQueueStore } from './stores/postgres-open';
import { openSqliteStore } from './stores/sqlite';
import { openSqliteStoreInThread } from './stores/sqlite-thread';
import { QueueStartError, type Queue } from './types';

export * from './types';

/** Opens the store named by QUEUE_DRIVER. */
function openStore(config: Config, log: Logger, metrics: Metrics): Promise<JobStore> {
  switch (config.QUEUE_DRIVER) {
    case 'memory':
      return openMemoryStore();
    case 'sqlite':
      return (config.SQLITE_THREAD === 'worker' ? openSqliteStoreInThread : openSqliteStore)({
        dataDir: config.DATA_DIR,
        synchronous: config.SQLITE_SYNCHRONOUS,
        onCheckpointerFailure: (reason) => log.warn({ reason }, 'WAL checkpoint worker failed; checkpoints now run inside commits (higher latency)'),
        onExposedDataDir: (mode) =>
          log.warn({ data_dir_mode: mode }, 'DATA_DIR can be read by other users of this machine and holds citizen records; chmod 700 it'),
      });
    case 'postgres':
      return openPostgresQueueStore(config, { log, registry: metrics.registry });
  }
}

/**
 * Builds the queue named by QUEUE_DRIVER, with the simulated pipeline as its processor.
 * Opening the store and recovering interrupted jobs happen here, before the API listens; a store
 * that cannot be used throws a QueueStartError.
 */
export async function createQueue(config: Config, deps: { metrics: Metrics; log: Logger; tracing?: Tracing }): Promise<Queue> {
  const store = await openStore(config, deps.log, deps.metrics);
  if (store.durability === 'nothing') {
    deps.log.warn({ queue_driver: config.QUEUE_DRIVER }, 'the memory queue is not durable: accepted submissions are lost when the process stops');
  }
  try {
    return await JobQueue.open(
      store,
      {
        concurrency: config.WORKER_CONCURRENCY,
        maxAttempts: config.MAX_ATTEMPTS,
        retryBaseMs: config.RETRY_BASE_MS,
        retryMaxMs: config.RETRY_MAX_MS,
        capacity: config.QUEUE_CAPACITY,
        leaseMs: config.LEASE_MS,
        retentionMaxAgeMs: config.RETENTION_MAX_AGE_S * 1000,
        retentionMaxFinished: config.RETENTION_MAX_FINISHED,
        process: createSimulatedPipeline({
          distribution: config.PROCESSING_DELAY_DISTRIBUTION,
          minMs: config.PROCESSING_DELAY_MIN_MS,
          maxMs: config.PROCESSING_DELAY_MAX_MS,
          failureRate: config.FAILURE_RATE,
        }),
        tracer: deps.tracing && jobTracer(deps.tracing),
      },
      { metrics: deps.metrics, log: deps.log },
    );
  } catch (error) {
    await store.close().catch(() => {});
    if (error instanceof QueueStartError) throw error;
    const code = (error as { code?: string }).code ?? (error instanceof Error ? error.name : 'unknown error');
    if (config.QUEUE_DRIVER === 'postgres') {
      throw new QueueStartError(
        `cannot resume the PostgreSQL queue (${code}); check that the database named by DATABASE_URL or PGHOST is reachable and try again`,
      );
    }
    throw new QueueStartError(
      `cannot resume the queue in DATA_DIR=${config.DATA_DIR} (${code}); check that DATA_DIR is a writable directory on a local disk with free space`,
    );
  }
}
