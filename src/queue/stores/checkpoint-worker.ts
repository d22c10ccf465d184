/**
 * Worker thread: copies the queue's write-ahead log back into the database file (a WAL
 * checkpoint) on its own connection, so the fsyncs of a checkpoint never block the event loop
 * that answers requests.
 *
 * Every tick a PASSIVE checkpoint: it never waits for, nor blocks, the writer. Under sustained
 * writes that alone never lets the WAL restart (a new commit always lands before the checkpoint
 * reaches the end of the log, so the writer keeps appending and the file grows without bound:
 * 816 MiB in 8 s in test/queue-wal.test.ts). So once the log holds more than `walLimitBytes`, the
 * PASSIVE pass (which did the bulk of the copying) is followed by a RESTART checkpoint: it copies
 * the few frames written since and makes the next commit start the log from the beginning, where
 * `journal_size_limit` truncates the file back. For that the worker first asks the writer to step
 * aside (checkpoint-protocol.ts: TURN), which it does at its next commit; the restart then runs
 * alone (~2 ms) and the writer resumes on the 'restarted' message. A writer that does not answer
 * (no commit is coming) is not waited for long: the restart then goes ahead as before.
 */
import { Database } from 'bun:sqlite';
import { RESTARTED, SLOT, STOP, TURN } from './checkpoint-protocol';

declare const self: Worker;

export interface CheckpointWorkerInit {
  file: string;
  intervalMs: number;
  walLimitBytes: number;
  /** Shared with the queue's thread: see checkpoint-protocol.ts. */
  flag: Int32Array;
}

/** How long a RESTART may wait for the writer's current commit before trying again next tick. */
const RESTART_WAIT_MS = 100;
/** How long to wait for the writer to step aside; under load its next commit comes within a millisecond or two. */
const TURN_WAIT_MS = 20;

self.onmessage = (event: MessageEvent<CheckpointWorkerInit>) => {
  const { file, intervalMs, walLimitBytes, flag } = event.data;
  const db = new Database(file, { readwrite: true });
  db.exec('PRAGMA busy_timeout = 0');
  const pageSize = db.query<{ page_size: number }, []>('PRAGMA page_size').get()?.page_size ?? 4096;
  const limitFrames = Math.max(1, Math.floor(walLimitBytes / pageSize));
  const passive = db.query<{ busy: number; log: number; checkpointed: number }, []>('PRAGMA wal_checkpoint(PASSIVE)');
  const restart = db.query<{ busy: number; log: number; checkpointed: number }, []>('PRAGMA wal_checkpoint(RESTART)');
  const timer = setInterval(() => {
    if (Atomics.load(flag, SLOT.stop) === STOP.requested) {
      clearInterval(timer);
      passive.finalize();
      restart.finalize();
      db.close();
      Atomics.store(flag, SLOT.stop, STOP.stopped);
      Atomics.notify(flag, SLOT.stop);
      return;
    }
    try {
      const pass = passive.get();
      if (pass && pass.log > limitFrames) {
        const alone = writerSteppedAside(flag);
        db.exec(`PRAGMA busy_timeout = ${RESTART_WAIT_MS}`);
        try {
          if (restart.get()?.busy === 0) Atomics.add(flag, SLOT.restarts, 1);
        } finally {
          db.exec('PRAGMA busy_timeout = 0');
          if (alone) {
            Atomics.store(flag, SLOT.turn, TURN.writer);
            self.postMessage(RESTARTED);
          }
        }
      }
    } catch {
      // Busy or interrupted: the next tick tries again; the owner checkpoints on close anyway.
    }
  }, intervalMs);
};

/** Asks the writer to step aside and waits a little for it; true when it did (it then waits for RESTARTED). */
function writerSteppedAside(flag: Int32Array): boolean {
  Atomics.store(flag, SLOT.turn, TURN.wanted);
  Atomics.wait(flag, SLOT.turn, TURN.wanted, TURN_WAIT_MS);
  // Not granted in time: withdraw the request, unless the writer granted it just now.
  return Atomics.compareExchange(flag, SLOT.turn, TURN.wanted, TURN.writer) === TURN.granted;
}
