/** What both queue benchmarks (sqlite/memory in queue.ts, PostgreSQL in queue-postgres.ts) share. */
import { createLogger } from '../../src/log';
import { createMetrics } from '../../src/metrics';
import { JobQueue } from '../../src/queue/engine';
import { createSimulatedPipeline } from '../../src/queue/pipeline';
import type { JobStore } from '../../src/queue/store';

export const RECORD = { name: 'Ravi', age: 32, city: 'Delhi' };
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const log = createLogger('error');

/** The engine over `store` with zero simulated delay and no retries, retention or capacity in the way. */
export function benchQueue(store: JobStore, concurrency = 8, failureRate = 0) {
  return JobQueue.open(
    store,
    {
      concurrency,
      maxAttempts: 5,
      retryBaseMs: 0,
      retryMaxMs: 0,
      capacity: 100_000_000,
      leaseMs: 60_000,
      retentionMaxAgeMs: 86_400_000,
      retentionMaxFinished: 100_000_000,
      process: createSimulatedPipeline({ distribution: 'fixed', minMs: 0, maxMs: 0, failureRate }),
    },
    { metrics: createMetrics(), log },
  );
}

/** `total` enqueues in bursts of `burst` concurrent ones (burst 1 = each awaited alone: one transaction each), per second; closes the queue. */
export async function enqueueRate(queue: Awaited<ReturnType<typeof benchQueue>>, total: number, burst: number): Promise<number> {
  const started = performance.now();
  if (burst === 1) {
    for (let i = 0; i < total; i++) await queue.enqueue(RECORD);
  } else {
    const pending: Promise<string>[] = new Array(burst);
    for (let done = 0; done < total; done += burst) {
      for (let i = 0; i < burst; i++) pending[i] = queue.enqueue(RECORD);
      await Promise.all(pending);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  await queue.stop(0);
  await queue.close();
  return total / seconds;
}

/** Enqueues `total` jobs in bursts of 1,000 (the workers not started): a backlog to drain or to weigh. */
export async function fillBacklog(queue: Awaited<ReturnType<typeof benchQueue>>, total: number): Promise<void> {
  const burst: Promise<string>[] = new Array(1000);
  for (let done = 0; done < total; done += 1000) {
    for (let i = 0; i < 1000; i++) burst[i] = queue.enqueue(RECORD);
    await Promise.all(burst);
  }
}
