import { Database } from 'bun:sqlite';
import { expect, test } from 'bun:test';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCheckpointer } from '../src/queue/stores/checkpointer';
import { configure } from '../src/queue/stores/sqlite-open';
import { waitFor } from './support/queue';
import { serviceFleet, submit } from './support/service';

const start = serviceFleet();

/**
 * Checkpoints run in a worker thread, not inside commits (wal_autocheckpoint = 0 on the queue's
 * connection): if that worker did not run, the database file would never grow while the service
 * is up, only the WAL would.
 */
test('a running service copies its WAL into the queue file from the checkpoint worker, and a clean stop removes the WAL', async () => {
  const service = await start({ env: { QUEUE_DRIVER: 'sqlite', PROCESSING_DELAY_MIN_MS: '0', PROCESSING_DELAY_MAX_MS: '1' } });
  const file = join(service.dataDir, 'queue.sqlite');
  const before = statSync(file).size;
  for (let round = 0; round < 20; round++) {
    const answers = await Promise.all(Array.from({ length: 20 }, () => submit(service.url)));
    expect(answers.map((res) => res.status)).toEqual(Array(20).fill(202));
  }
  await waitFor('the queue file to grow', () => statSync(file).size > before, 5_000);
  expect(statSync(file).size).toBeGreaterThan(before);

  expect(await service.stop('SIGTERM')).toBe(0);
  expect(() => statSync(`${file}-wal`)).toThrow(); // the last connection closed cleanly
  expect(service.logs().filter((line) => String(line.msg).includes('checkpoint worker failed'))).toEqual([]);
}, 30_000);

/**
 * The WAL restart handshake (checkpoint-protocol.ts): under sustained writes the worker asks the
 * writer to step aside, the writer's next commit waits for the restart instead of colliding with
 * it, and the restart bounds the WAL. Driven here with the store's own writer setup on a real
 * file: a commit every loop turn, each asking `writerTurn()` first as the store does.
 */
test('under sustained writes the writer steps aside for WAL restarts, and a writer that never asks does not stop restarts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pipewatch-turn-'));
  try {
    for (const asks of [true, false]) {
      const file = join(dir, `queue-${asks}.sqlite`);
      const db = new Database(file, { create: true, readwrite: true });
      configure(db, 'NORMAL');
      db.exec('CREATE TABLE t (v TEXT NOT NULL)');
      const insert = db.prepare('INSERT INTO t (v) VALUES (?1)');
      const failures: string[] = [];
      const checkpointer = startCheckpointer(file, 1024 * 1024, (reason) => failures.push(reason));
      let steppedAside = 0;
      let peak = 0;
      const until = performance.now() + 3000;
      while (performance.now() < until && checkpointer.restarts() < 3) {
        const turn = asks ? checkpointer.writerTurn() : undefined;
        if (turn) {
          steppedAside++;
          await turn;
        }
        db.transaction(() => {
          for (let i = 0; i < 50; i++) insert.run('x'.repeat(200));
        })();
        peak = Math.max(peak, statSync(`${file}-wal`).size);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const restarts = checkpointer.restarts();
      console.log(
        `writer ${asks ? 'asks' : 'never asks'}: ${restarts} restarts, stepped aside ${steppedAside} times, WAL peak ${(peak / 2 ** 20).toFixed(1)} MiB`,
      );
      checkpointer.stop();
      insert.finalize();
      db.close();
      expect(failures).toEqual([]);
      expect(restarts).toBeGreaterThanOrEqual(3);
      // The writer that asks stepped aside for restarts (not necessarily every one: a loop turn
      // slower than the worker's 20 ms wait lets the restart go ahead without it), and its WAL
      // stayed small (9-16 MiB seen here). One that never asks gets restarts all the same, after
      // colliding with its commits (the old way: 19-98 MiB peaks seen, so no bound asserted).
      if (asks) {
        expect(steppedAside).toBeGreaterThan(0);
        expect(peak).toBeLessThan(64 * 1024 * 1024);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);
