import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolvePgTarget } from '../../src/db/connection';
import type { JobStore } from '../../src/queue/store';
import { openMemoryStore } from '../../src/queue/stores/memory';
import { openPostgresStore } from '../../src/queue/stores/postgres';
import { openSqliteStore } from '../../src/queue/stores/sqlite';
import { openSqliteStoreInThread } from '../../src/queue/stores/sqlite-thread';
import { startPostgres, type PostgresCluster } from './postgres';

/**
 * The queue drivers the conformance suite (test/queue-conformance.test.ts) runs against, each a
 * factory of fresh, empty stores on real storage. A driver is added here and nowhere else.
 */
export interface DriverFixture {
  name: string;
  /** Called once before the driver's tests (e.g. start a PostgreSQL cluster). */
  setUp?(): Promise<void>;
  /** Called once after them (stop the cluster by PID). */
  tearDown?(): Promise<void>;
  /** A fresh store on fresh, empty storage. */
  create(): Promise<StoreHandle>;
}

export interface StoreHandle {
  store: JobStore;
  /**
   * Durable drivers: closes nothing itself; opens the same storage again (as a restarted process
   * would, after `store.close()` or after the process "died" without closing). Absent for memory.
   */
  reopen?(): Promise<JobStore>;
  /** Closes what is still open and deletes the storage. */
  dispose(): Promise<void>;
}

const opened: Array<{ store: JobStore; closed: boolean }> = [];

/** Tracks a store so dispose() can close it if the test did not. */
export function track(store: JobStore): JobStore {
  const entry = { store, closed: false };
  opened.push(entry);
  const close = store.close.bind(store);
  return Object.assign(store, {
    close: async () => {
      if (entry.closed) return;
      entry.closed = true;
      await close();
    },
  });
}

export function tempDataDir(prefix = 'pipewatch-driver-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export const memoryDriver: DriverFixture = {
  name: 'memory',
  async create() {
    const store = track(await openMemoryStore());
    return { store, dispose: () => store.close() };
  },
};

/** A sqlite fixture whose store `open` opens on a fresh temp data dir (and again on reopen). */
function sqliteFixture(name: string, open: typeof openSqliteStore): DriverFixture {
  return {
    name,
    async create() {
      const data = tempDataDir();
      const reopen = async () => track(await open({ dataDir: data.dir, synchronous: 'NORMAL' }));
      const store = await reopen();
      return {
        store,
        reopen,
        async dispose() {
          await closeAll();
          data.remove();
        },
      };
    },
  };
}

export const sqliteDriver = sqliteFixture('sqlite', openSqliteStore);

/** The same sqlite store, run on a thread of its own (SQLITE_THREAD=worker). */
export const sqliteThreadDriver = sqliteFixture('sqlite-thread', openSqliteStoreInThread);

/** Closes every tracked store still open (a "dead" process's store is closed here, after the test). */
export async function closeAll(): Promise<void> {
  for (const entry of opened.splice(0)) if (!entry.closed) await entry.store.close();
}

/** The drivers every conformance test runs against. */
export const DRIVERS: DriverFixture[] = [memoryDriver, sqliteDriver, sqliteThreadDriver, postgresDriver()];

/**
 * PostgreSQL: one real throw-away cluster for the driver's tests (test/support/postgres.ts), a
 * fresh database per store. `reopen` connects a second pool to the same database, as a restarted
 * (or another) instance would.
 */
export function postgresDriver(): DriverFixture {
  let cluster: PostgresCluster | undefined;
  return {
    name: 'postgres',
    async setUp() {
      cluster = await startPostgres();
    },
    async tearDown() {
      await cluster?.destroy();
      cluster = undefined;
    },
    async create() {
      if (!cluster) throw new Error('postgres fixture: setUp() was not called');
      const database = await cluster.createDatabase('conformance');
      const open = async () =>
        track(
          await openPostgresStore({
            target: resolvePgTarget({ DATABASE_URL: cluster!.url(database) }),
            pool: { max: 4, connectTimeoutMs: 5_000, statementTimeoutMs: 10_000 },
            startupWaitMs: 5_000,
          }),
        );
      const stores = [await open()];
      return {
        store: stores[0]!,
        reopen: async () => {
          const store = await open();
          stores.push(store);
          return store;
        },
        dispose: async () => {
          for (const store of stores) await store.close();
          await cluster?.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
        },
      };
    },
  };
}
