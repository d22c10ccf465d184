/**
 * Worker thread: copies the queue's write-ahead log back into the database file (a WAL
 * checkpoint) on its own connection, so the fsyncs of a checkpoint never block the event loop
 * that answers requests.
 *
 * Every tick a PASSIVE checkpoint: it never waits for, nor blocks, the writer. Under sustained
 * writes that alone never lets the WAL restart (a new commit always lands before the checkpoint
 * reaches the end of the log, so the writer keeps appending and the file grows without bound:
 * 816 MiB in 8 s in test/queue-wal.test.ts). So once the log holds more than `walLimitBytes`, the
 * PASSIVE pass (which did the bulk of the copying) is followed by a RESTART checkpoint: it waits
 * for the current commit, copies the few frames written since, and makes the next commit start
 * the log from the beginning, where `journal_size_limit` truncates the file back. The writer waits
 * for that short tail only (busy_timeout on its side), a few times a second at most.
 */
import { Database } from 'bun:sqlite';

declare const self: Worker;

/** flag[0]: 0 running, 1 the owner asks to stop, 2 stopped (connection closed). */
export interface CheckpointWorkerInit {
  file: string;
  intervalMs: number;
  walLimitBytes: number;
  /** [0]: the stop handshake above; [1]: WAL restarts completed so far (for tests and benchmarks). */
  flag: Int32Array;
}

/** How long a RESTART may wait for the writer's current commit before trying again next tick. */
const RESTART_WAIT_MS = 100;

self.onmessage = (event: MessageEvent<CheckpointWorkerInit>) => {
  const { file, intervalMs, walLimitBytes, flag } = event.data;
  const db = new Database(file, { readwrite: true });
  db.exec('PRAGMA busy_timeout = 0');
  const pageSize = db.query<{ page_size: number }, []>('PRAGMA page_size').get()?.page_size ?? 4096;
  const limitFrames = Math.max(1, Math.floor(walLimitBytes / pageSize));
  const passive = db.query<{ busy: number; log: number; checkpointed: number }, []>('PRAGMA wal_checkpoint(PASSIVE)');
  const restart = db.query<{ busy: number; log: number; checkpointed: number }, []>('PRAGMA wal_checkpoint(RESTART)');
  const timer = setInterval(() => {
    if (Atomics.load(flag, 0) === 1) {
      clearInterval(timer);
      passive.finalize();
      restart.finalize();
      db.close();
      Atomics.store(flag, 0, 2);
      Atomics.notify(flag, 0);
      return;
    }
    try {
      const pass = passive.get();
      if (pass && pass.log > limitFrames) {
        db.exec(`PRAGMA busy_timeout = ${RESTART_WAIT_MS}`);
        try {
          if (restart.get()?.busy === 0) Atomics.add(flag, 1, 1);
        } finally {
          db.exec('PRAGMA busy_timeout = 0');
        }
      }
    } catch {
      // Busy or interrupted: the next tick tries again; the owner checkpoints on close anyway.
    }
  }, intervalMs);
};
