/**
 * PostgreSQL queue benchmark (a script, not a test): durable enqueue throughput of the postgres
 * driver with group commit against one transaction per enqueue, and worker throughput with one
 * and with three instances on one database. PostgreSQL 15 runs on the same machine (a throw-away
 * cluster from test/support/postgres.ts, fsync ON, synchronous_commit on: every figure is durable).
 *
 *   bun test/bench/queue-postgres.ts        # part of `bun run bench:queue`
 *
 * Each figure is the best of a few rounds; the machine's load average is printed with it, since
 * the box is shared. Instances are separate processes (`worker` mode of this same file).
 */
import { cpus, loadavg } from 'node:os';
import { resolvePgTarget } from '../../src/db/connection';
import { openPostgresStore } from '../../src/queue/stores/postgres';
import { startPostgres, type PostgresCluster } from '../support/postgres';
import { benchQueue, fillBacklog, ROUNDS, enqueueRate as timeEnqueues } from './queue-common';

async function makeQueue(url: string, concurrency: number) {
  const store = await openPostgresStore({
    target: resolvePgTarget({ DATABASE_URL: url }),
    pool: { max: 10, connectTimeoutMs: 5_000, statementTimeoutMs: 30_000 },
    startupWaitMs: 5_000,
  });
  return benchQueue(store, concurrency);
}

// --- worker mode: one instance draining the shared backlog until told to stop ---
if (process.argv[2] === 'worker') {
  const queue = await makeQueue(process.argv[3]!, Number(process.argv[4]));
  queue.start();
  console.log('ready');
  process.on('SIGTERM', async () => {
    await queue.stop(1000);
    await queue.close();
    process.exit(0);
  });
  await new Promise(() => {});
}

/** `total` enqueues in bursts of `burst` concurrent ones (burst 1 = each awaited alone: one transaction each). */
async function enqueueRate(pg: PostgresCluster, total: number, burst: number): Promise<number> {
  const db = await pg.createDatabase('bench');
  return timeEnqueues(await makeQueue(pg.url(db), 8), total, burst);
}

/** Fills a backlog of `total` jobs, then times `instances` worker processes draining it. */
async function workerRate(pg: PostgresCluster, total: number, instances: number, concurrency: number): Promise<number> {
  const db = await pg.createDatabase('bench');
  const url = pg.url(db);
  const filler = await makeQueue(url, 1);
  await fillBacklog(filler, total);
  await filler.stop(0);
  await filler.close();
  const workers = Array.from({ length: instances }, () =>
    Bun.spawn([process.execPath, import.meta.path, 'worker', url, String(concurrency)], { stdout: 'pipe', stderr: 'inherit' }),
  );
  const started = performance.now();
  const sql = new Bun.SQL({ url, max: 1 });
  try {
    for (;;) {
      const [row] = await sql`SELECT count(*)::int AS n FROM pipewatch_jobs WHERE state < 2`;
      if ((row as { n: number }).n === 0) break;
      await Bun.sleep(20);
    }
    return total / ((performance.now() - started) / 1000);
  } finally {
    await sql.close();
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
  }
}

async function best(label: string, run: () => Promise<number>): Promise<number> {
  let top = 0;
  for (let i = 0; i < ROUNDS; i++) top = Math.max(top, await run());
  const load = loadavg()[0]!.toFixed(2);
  console.log(`${label.padEnd(66)} ${Math.round(top).toLocaleString('en-US').padStart(10)} /s   (load ${load})`);
  return top;
}

console.log(
  `pipewatch PostgreSQL queue benchmark: Bun ${Bun.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), PostgreSQL on the same machine, fsync on, best of ${ROUNDS} rounds; load average at start ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}\n`,
);
const pg = await startPostgres({ fsync: true, settings: { shared_buffers: '128MB', max_wal_size: '1GB' } });
try {
  await enqueueRate(pg, 10_000, 256); // warm-up
  console.log('durable enqueue (postgres, synchronous_commit=on, fsync on)');
  const group = await best('  group commit, bursts of 256 concurrent enqueues', () => enqueueRate(pg, 100_000, 256));
  const groupSmall = await best('  group commit, bursts of 16 concurrent enqueues', () => enqueueRate(pg, 30_000, 16));
  const single = await best('  baseline: one transaction per enqueue (each awaited alone)', () => enqueueRate(pg, 2_000, 1));
  console.log(`  group commit (256) vs one transaction per enqueue: ${(group / single).toFixed(1)}x; (16): ${(groupSmall / single).toFixed(1)}x\n`);

  console.log('workers, zero simulated delay, FAILURE_RATE=0 (claim + settle are durable commits too), separate processes');
  await best('  1 instance, WORKER_CONCURRENCY=8 (default)', () => workerRate(pg, 30_000, 1, 8));
  await best('  1 instance, WORKER_CONCURRENCY=64', () => workerRate(pg, 50_000, 1, 64));
  await best('  3 instances, WORKER_CONCURRENCY=8 each', () => workerRate(pg, 30_000, 3, 8));
  await best('  3 instances, WORKER_CONCURRENCY=64 each', () => workerRate(pg, 50_000, 3, 64));
} finally {
  await pg.destroy();
}
