/**
 * Queue benchmark (a script, not a test): durable enqueue throughput of the sqlite driver with
 * group commit against one transaction per enqueue, and worker throughput with zero simulated
 * delay. Run pinned to one core, as the README reports it:
 *
 *   bun run bench:queue            # = taskset -c 0 bun test/bench/queue.ts
 *
 * Each figure is the best of a few rounds (the box is shared; the best round is the one least
 * disturbed by other work). Real files in a temp dir, real metrics registry.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobStore } from '../../src/queue/store';
import { openMemoryStore } from '../../src/queue/stores/memory';
import { openSqliteStore } from '../../src/queue/stores/sqlite';
import { benchQueue, enqueueRate as timeEnqueues, fillBacklog, ROUNDS } from './queue-common';

const dirs: string[] = [];

type Driver = 'sqlite-normal' | 'sqlite-full' | 'memory';

/**
 * The WAL's peak size during each row (issue 9.1: it must stay bounded under sustained writes),
 * sampled every 10 ms from the newest data dir while the row runs.
 */
let walPeak = 0;
const walSampler = setInterval(() => {
  const dir = dirs.at(-1);
  if (!dir) return;
  try {
    walPeak = Math.max(walPeak, statSync(join(dir, 'queue.sqlite-wal')).size);
  } catch {}
}, 10);

function openStore(driver: Driver): Promise<JobStore> {
  if (driver === 'memory') return openMemoryStore();
  const dir = mkdtempSync(join(tmpdir(), 'pipewatch-bench-'));
  dirs.push(dir);
  return openSqliteStore({ dataDir: dir, synchronous: driver === 'sqlite-full' ? 'FULL' : 'NORMAL' });
}

async function makeQueue(driver: Driver, concurrency = 8, failureRate = 0) {
  return benchQueue(await openStore(driver), concurrency, failureRate);
}

/** `total` enqueues in bursts of `burst` concurrent ones (burst 1 = each awaited alone: one transaction each). */
async function enqueueRate(driver: Driver, total: number, burst: number): Promise<number> {
  return timeEnqueues(await makeQueue(driver), total, burst);
}

/** Fills a backlog, then times the workers draining it. */
async function workerRate(driver: Driver, total: number, concurrency: number, failureRate = 0): Promise<number> {
  const queue = await makeQueue(driver, concurrency, failureRate);
  await fillBacklog(queue, total);
  const started = performance.now();
  queue.start();
  for (;;) {
    const { depth } = queue.stats();
    if (depth.queued + depth.processing === 0) break;
    await Bun.sleep(1);
  }
  const seconds = (performance.now() - started) / 1000;
  await queue.stop(0);
  await queue.close();
  return total / seconds;
}

async function best(label: string, run: () => Promise<number>): Promise<number> {
  let top = 0;
  walPeak = 0;
  const before = dirs.length;
  for (let i = 0; i < ROUNDS; i++) top = Math.max(top, await run());
  const wal = dirs.length > before ? `   WAL peak ${(walPeak / 2 ** 20).toFixed(1).padStart(5)} MiB` : '';
  console.log(`${label.padEnd(62)} ${Math.round(top).toLocaleString('en-US').padStart(10)} /s${wal}`);
  return top;
}

async function rssWithBacklog(backlog: number): Promise<{ before: number; after: number }> {
  Bun.gc(true);
  const before = process.memoryUsage().rss;
  const queue = await makeQueue('sqlite-normal');
  await fillBacklog(queue, backlog);
  Bun.gc(true);
  const after = process.memoryUsage().rss;
  await queue.stop(0);
  await queue.close();
  return { before, after };
}

let affinity = 'unknown';
try {
  affinity = (await Bun.file('/proc/self/status').text()).match(/^Cpus_allowed_list:\s*(.+)$/m)?.[1] ?? 'unknown';
} catch {}
console.log(
  `pipewatch queue benchmark: Bun ${Bun.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), running on CPUs ${affinity}, best of ${ROUNDS} rounds\n`,
);

await enqueueRate('sqlite-normal', 20_000, 256); // warm-up (JIT, page cache)

console.log('durable enqueue (sqlite, synchronous=NORMAL: survives a process crash)');
const group = await best('  group commit, bursts of 256 concurrent enqueues', () => enqueueRate('sqlite-normal', 200_000, 256));
const groupSmall = await best('  group commit, bursts of 16 concurrent enqueues', () => enqueueRate('sqlite-normal', 100_000, 16));
const single = await best('  baseline: one transaction per enqueue (each awaited alone)', () => enqueueRate('sqlite-normal', 20_000, 1));
console.log(`  group commit (256) vs one transaction per enqueue: ${(group / single).toFixed(1)}x; (16): ${(groupSmall / single).toFixed(1)}x\n`);

console.log('durable enqueue (sqlite, synchronous=FULL: fsync per commit, survives power loss)');
const groupFull = await best('  group commit, bursts of 256 concurrent enqueues', () => enqueueRate('sqlite-full', 100_000, 256));
const singleFull = await best('  baseline: one transaction per enqueue (each awaited alone)', () => enqueueRate('sqlite-full', 1_000, 1));
console.log(`  group commit vs one transaction per enqueue: ${(groupFull / singleFull).toFixed(1)}x\n`);

console.log('memory driver (not durable), for comparison');
await best('  enqueue, bursts of 256', () => enqueueRate('memory', 200_000, 256));
console.log('');

console.log('workers, zero simulated delay, FAILURE_RATE=0 (claim + settle are durable writes too)');
await best('  sqlite NORMAL, WORKER_CONCURRENCY=8 (default)', () => workerRate('sqlite-normal', 100_000, 8));
await best('  sqlite NORMAL, WORKER_CONCURRENCY=64', () => workerRate('sqlite-normal', 100_000, 64));
await best('  sqlite NORMAL, WORKER_CONCURRENCY=8, FAILURE_RATE=0.1 (jobs/s)', () => workerRate('sqlite-normal', 100_000, 8, 0.1));
await best('  memory, WORKER_CONCURRENCY=8', () => workerRate('memory', 100_000, 8));
console.log('');

const rss = await rssWithBacklog(200_000);
console.log(
  `memory with a backlog: RSS ${(rss.before / 2 ** 20).toFixed(0)} MiB before, ${(rss.after / 2 ** 20).toFixed(0)} MiB with 200,000 jobs queued in sqlite`,
);

clearInterval(walSampler);
for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
