import { Database } from 'bun:sqlite';
import { afterAll, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../src/queue/stores/sqlite';
import { SQLITE_MIGRATIONS } from '../src/queue/stores/sqlite-schema';
import { runToExit } from './support/queue';
import { removeDataDir, startService } from './support/service';

/** Explicit per-test budget: these tests start real processes and wait for real work. */
const TIMEOUT_MS = 30_000;

/** A data dir the queue cannot use stops the start with exit 1 and one line that names DATA_DIR and the fix. */
const root = mkdtempSync(join(tmpdir(), 'pipewatch-startup-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function expectStartFailure(dataDir: string, fix: RegExp) {
  const { code, stdout, stderr } = await runToExit({ DATA_DIR: dataDir });
  expect(code).toBe(1);
  expect(stdout).not.toContain('pipewatch listening');
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toStartWith('pipewatch: ');
  expect(lines[0]).toContain(`DATA_DIR=${dataDir}`);
  expect(lines[0]).toMatch(fix);
  expect(stderr).not.toMatch(/^\s+at /m); // no stack trace
}

test(
  'DATA_DIR that is a regular file',
  async () => {
    const file = join(root, 'a-file');
    writeFileSync(file, 'not a directory');
    await expectStartFailure(file, /it is a file, not a directory; point DATA_DIR at a directory/);
  },
  TIMEOUT_MS,
);

test(
  'DATA_DIR below a regular file (cannot be created)',
  async () => {
    const file = join(root, 'parent-file');
    writeFileSync(file, 'not a directory');
    await expectStartFailure(join(file, 'data'), /one of its parents is a file, not a directory; point DATA_DIR at a directory/);
  },
  TIMEOUT_MS,
);

test(
  'a queue file full of garbage',
  async () => {
    const dir = join(root, 'garbage');
    mkdirSync(dir);
    writeFileSync(join(dir, 'queue.sqlite'), Buffer.alloc(64 * 1024, 'garbage!'));
    await expectStartFailure(dir, /not a valid SQLite database .*restore it from a backup, or move it away/);
  },
  TIMEOUT_MS,
);

test(
  'a queue file whose pages are damaged',
  async () => {
    const dir = join(root, 'damaged');
    mkdirSync(dir);
    const file = join(dir, 'queue.sqlite');
    const db = new Database(file, { create: true });
    db.exec('CREATE TABLE jobs (seq INTEGER PRIMARY KEY, payload TEXT)');
    const insert = db.prepare('INSERT INTO jobs (payload) VALUES (?)');
    db.transaction(() => {
      for (let i = 0; i < 2000; i++) insert.run('x'.repeat(100));
    })();
    db.close();
    // Keep the header (page 1) valid, overwrite table pages in the middle.
    const bytes = new Uint8Array(await Bun.file(file).arrayBuffer());
    bytes.fill(0xa5, 4096 * 3, 4096 * 10);
    writeFileSync(file, bytes);
    await expectStartFailure(dir, /(integrity check|not a valid SQLite database).*restore it from a backup/);
  },
  TIMEOUT_MS,
);

test(
  'an SQLite file that is not a pipewatch queue',
  async () => {
    const dir = join(root, 'foreign');
    mkdirSync(dir);
    const db = new Database(join(dir, 'queue.sqlite'), { create: true });
    db.exec('CREATE TABLE something_else (x)');
    db.close();
    await expectStartFailure(dir, /not a pipewatch queue; move it away/);
  },
  TIMEOUT_MS,
);

test(
  'a damaged lock file is named as such, not as the queue file (which must not be moved away)',
  async () => {
    const dir = join(root, 'damaged-lock');
    mkdirSync(dir);
    writeFileSync(join(dir, 'queue.lock'), Buffer.alloc(8 * 1024, 'garbage!'));
    await expectStartFailure(dir, /the lock file .*queue\.lock .*holds no data: delete it/);
  },
  TIMEOUT_MS,
);

test(
  'a data dir that another running pipewatch owns',
  async () => {
    const owner = await startService({ env: { SHUTDOWN_DRAIN_MS: '0' } });
    try {
      await expectStartFailure(owner.dataDir, /locked by another process .*stop the other pipewatch/);
    } finally {
      await owner.stop();
      removeDataDir(owner.dataDir);
    }
  },
  TIMEOUT_MS,
);

test(
  'a queue file with a schema newer than this pipewatch knows is refused in one line, and left untouched',
  async () => {
    const dir = join(root, 'newer');
    mkdirSync(dir);
    const file = join(dir, 'queue.sqlite');
    const db = new Database(file, { create: true });
    db.exec('CREATE TABLE jobs (seq INTEGER PRIMARY KEY); PRAGMA user_version = 99');
    db.close();
    await expectStartFailure(dir, /queue schema in DATA_DIR=.* is version 99, newer than this pipewatch understands \(\d+\); run a newer pipewatch/);
    const after = new Database(file, { readonly: true });
    expect(after.query<{ user_version: number }, []>('PRAGMA user_version').get()?.user_version).toBe(99);
    after.close();
  },
  TIMEOUT_MS,
);

test(
  'a queue file of schema version 1 (before the trace column) is migrated in place, its jobs kept',
  async () => {
    const dir = join(root, 'v1');
    mkdirSync(dir);
    const db = new Database(join(dir, 'queue.sqlite'), { create: true, strict: true });
    // Version 1 exactly as it shipped, with one queued job in it.
    await SQLITE_MIGRATIONS[0]!.up({ version: async () => 0, setVersion: async () => {}, exec: async (sql) => void db.exec(sql) });
    db.exec('PRAGMA user_version = 1');
    const id = Bun.randomUUIDv7();
    db.query('INSERT INTO jobs (id, state, payload, attempts, created_at, updated_at, run_at) VALUES (?1, 0, ?2, 0, ?3, ?3, ?3)').run(
      id,
      JSON.stringify({ name: 'Ravi', age: 32, city: 'Delhi' }),
      Date.now(),
    );
    db.close();

    const store = await openSqliteStore({ dataDir: dir, synchronous: 'NORMAL' });
    try {
      expect(store.queueId).toMatch(/^[0-9a-f-]{36}$/);
      expect(await store.status(id)).toMatchObject({ status: 'queued', attempts: 0 });
      const now = Date.now();
      const { claimed } = await store.commit({ now, enqueue: [], settles: [], renew: [], claim: 10, leaseUntil: now + 1000 });
      expect(claimed).toMatchObject([{ id, trace: null, record: { name: 'Ravi', age: 32, city: 'Delhi' } }]);
    } finally {
      await store.close();
    }
    const reopened = new Database(join(dir, 'queue.sqlite'), { readonly: true });
    expect(reopened.query<{ user_version: number }, []>('PRAGMA user_version').get()?.user_version).toBe(SQLITE_MIGRATIONS.length);
    reopened.close();
  },
  TIMEOUT_MS,
);
