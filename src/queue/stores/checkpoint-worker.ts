/**
 * Worker thread: copies the queue's write-ahead log back into the database file (a WAL
 * checkpoint) on its own connection, so the fsyncs of a checkpoint never block the event loop
 * that answers requests. PASSIVE: it never waits for, nor blocks, the writer.
 */
import { Database } from 'bun:sqlite';

declare const self: Worker;

/** flag[0]: 0 running, 1 the owner asks to stop, 2 stopped (connection closed). */
export interface CheckpointWorkerInit {
  file: string;
  intervalMs: number;
  flag: Int32Array;
}

self.onmessage = (event: MessageEvent<CheckpointWorkerInit>) => {
  const { file, intervalMs, flag } = event.data;
  const db = new Database(file, { readwrite: true });
  db.exec('PRAGMA busy_timeout = 0');
  const checkpoint = db.query('PRAGMA wal_checkpoint(PASSIVE)');
  const timer = setInterval(() => {
    if (Atomics.load(flag, 0) === 1) {
      clearInterval(timer);
      checkpoint.finalize();
      db.close();
      Atomics.store(flag, 0, 2);
      Atomics.notify(flag, 0);
      return;
    }
    try {
      checkpoint.get();
    } catch {
      // Busy or interrupted: the next tick tries again; the owner checkpoints on close anyway.
    }
  }, intervalMs);
};
