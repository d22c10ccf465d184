import { afterEach, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobStore } from '../src/queue/sync-store';
import { createMemoryStore } from '../src/queue/stores/memory';
import { openSqliteStore } from '../src/queue/stores/sqlite';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

// A group commit inserts with multi-row statements of 128/32/8/1 rows: every size and every
// remainder must keep each id with its own record, in enqueue order.
for (const driver of ['sqlite', 'memory'] as const) {
  test(`${driver}: one insert call of any size stores each id with its own record, in order`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'pipewatch-insert-'));
    dirs.push(dir);
    const store: JobStore = driver === 'sqlite' ? openSqliteStore({ dataDir: dir, synchronous: 'NORMAL' }) : createMemoryStore();
    try {
      const now = Date.now();
      const ids: string[] = [];
      for (const size of [1, 7, 8, 9, 33, 128, 300]) {
        const batch = Array.from({ length: size }, () => Bun.randomUUIDv7());
        const records = batch.map((_, i) => ({ name: `n${ids.length + i}`, age: (ids.length + i) % 131, city: `c${ids.length + i}` }));
        store.transaction(() => store.insert(batch, records, now));
        ids.push(...batch);
      }
      const claimed = store.claim(now, now + 1000, 10_000);
      expect(claimed.map((job) => job.id)).toEqual(ids);
      claimed.forEach((job, i) => expect(job.record).toEqual({ name: `n${i}`, age: i % 131, city: `c${i}` }));
      expect(store.countByState()).toMatchObject({ queued: 0, processing: ids.length });
      expect(store.status(ids[0]!)).toMatchObject({ state: 'processing', attempts: 1 });
    } finally {
      store.close();
    }
  });
}
