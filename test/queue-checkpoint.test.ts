import { expect, test } from 'bun:test';
import { statSync } from 'node:fs';
import { join } from 'node:path';
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
