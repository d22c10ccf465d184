import { expect, test } from 'bun:test';
import { join } from 'node:path';
import { FAST_QUEUE_ENV, waitFor } from './support/queue';
import { serviceFleet, submit } from './support/service';

/**
 * Issue 9.7 / 12: a disk that stops answering (fsfreeze) froze the whole API, because every
 * sqlite call runs on the event loop. Here the "stuck disk" is another process holding an
 * exclusive lock on the queue file for 3 s: the service's next commit waits in SQLite's busy
 * handler (busy_timeout 2 s), as it would wait on a frozen fsync. With SQLITE_THREAD=worker that
 * wait happens on the store's own thread and /healthz keeps answering.
 */
const TIMEOUT_MS = 45_000;
const start = serviceFleet();

/** Holds an exclusive lock on the file for `ms` in a separate process; resolves once it holds it. */
async function holdLock(file: string, ms: number) {
  const script = `
    const { Database } = require('bun:sqlite');
    const db = new Database(${JSON.stringify(file)});
    db.exec('PRAGMA busy_timeout = 5000');
    db.exec('BEGIN EXCLUSIVE');
    console.log('locked');
    setTimeout(() => { db.exec('COMMIT'); db.close(); }, ${ms});`;
  const proc = Bun.spawn([process.execPath, '-e', script], { stdout: 'pipe', stderr: 'inherit' });
  const reader = proc.stdout.getReader();
  const { value } = await reader.read();
  expect(new TextDecoder().decode(value)).toContain('locked');
  return proc;
}

async function healthLatencyDuringStall(thread: 'event-loop' | 'worker'): Promise<{ worst: number; answered: number[] }> {
  const service = await start({ env: { ...FAST_QUEUE_ENV, SQLITE_THREAD: thread } });
  expect((await submit(service.url)).status).toBe(202);
  const locker = await holdLock(join(service.dataDir, 'queue.sqlite'), 3000);
  // A submission now has to commit: it waits for the lock (up to busy_timeout), then 503s or succeeds.
  const pending = submit(service.url);
  await Bun.sleep(100);
  const answered: number[] = [];
  let worst = 0;
  const until = performance.now() + 2000;
  while (performance.now() < until) {
    const sent = performance.now();
    const res = await fetch(`${service.url}/healthz`, { signal: AbortSignal.timeout(10_000) });
    const took = performance.now() - sent;
    answered.push(res.status);
    worst = Math.max(worst, took);
    await Bun.sleep(50);
  }
  expect([202, 503]).toContain((await pending).status); // never a 500, never lost in a hang
  await locker.exited;
  await waitFor('submissions to work again', async () => (await submit(service.url)).status === 202, 10_000);
  return { worst, answered };
}

test(
  'with SQLITE_THREAD=worker a commit stuck on the disk does not stall /healthz',
  async () => {
    const { worst, answered } = await healthLatencyDuringStall('worker');
    console.log(`worker thread: worst /healthz ${worst.toFixed(0)} ms over ${answered.length} probes`);
    expect(answered.every((status) => status === 200)).toBe(true);
    expect(worst).toBeLessThan(1000);
  },
  TIMEOUT_MS,
);

test(
  'on the event loop (the default) the same stall holds /healthz for the busy wait: what the README warns about',
  async () => {
    const { worst } = await healthLatencyDuringStall('event-loop');
    console.log(`event loop: worst /healthz ${worst.toFixed(0)} ms`);
    expect(worst).toBeGreaterThan(1000);
  },
  TIMEOUT_MS,
);
