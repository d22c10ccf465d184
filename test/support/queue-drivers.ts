import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobStore } from '../../src/queue/store';

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

/** Filled in as drivers move to the async contract (memory and sqlite first; postgres by the pg engineer). */
export const DRIVERS: DriverFixture[] = [];
