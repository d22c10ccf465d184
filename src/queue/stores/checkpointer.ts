import type { CheckpointWorkerInit } from './checkpoint-worker';
import { RESTARTED, SLOT, SLOTS, STOP, TURN } from './checkpoint-protocol';

/**
 * How often the WAL is copied back into the database file. Short passes matter on one core: a
 * pass preempts the event loop for as long as it runs, ~7 ms every 100 ms under load against
 * ~2 ms every 25 ms (bench:http's p99, README).
 */
const CHECKPOINT_INTERVAL_MS = 25;
/** At close, how long to wait for the worker to finish a checkpoint in progress. */
const STOP_WAIT_MS = 2000;
/** The writer's wait for a restart it stepped aside for; should the worker never answer, it writes anyway (and may meet SQLITE_BUSY). */
const TURN_TIMEOUT_MS = 1000;

/**
 * Where the worker's code is. From source: beside this file. In the binary, `bun run build` bundles
 * it as a second entrypoint, addressed relative to the bundle root (src/) rather than to this module.
 */
const WORKER_URL = import.meta.url.startsWith('file:///$bunfs/')
  ? './queue/stores/checkpoint-worker.ts'
  : new URL('./checkpoint-worker.ts', import.meta.url).href;

export interface Checkpointer {
  /** WAL restarts the worker completed (each bounds the WAL file again). */
  restarts(): number;
  /** Synchronous, for close(): waits until the worker's connection is closed. */
  stop(): void;
  /**
   * Called before each commit: undefined when the writer may go ahead (one atomic load, the usual
   * case), or a promise to await first because the worker is restarting the WAL meanwhile (see
   * checkpoint-protocol.ts: TURN). The event loop stays free while it waits.
   */
  writerTurn(): Promise<void> | undefined;
}

/**
 * Runs WAL checkpoints in a worker thread (checkpoint-worker.ts) instead of SQLite's automatic
 * ones, which run inside a commit on the event loop: at a few thousand enqueues/s those stalled
 * every request in flight for ~6 ms a few times a second (the HTTP p99). Past `walLimitBytes` of
 * log the worker restarts the WAL (see checkpoint-worker.ts). `onFailure` is told if
 * the worker cannot run, so the caller can fall back to automatic checkpoints.
 */
export function startCheckpointer(file: string, walLimitBytes: number, onFailure: (reason: string) => void): Checkpointer {
  const worker = new Worker(WORKER_URL);
  worker.unref();
  const flag = new Int32Array(new SharedArrayBuffer(SLOTS * Int32Array.BYTES_PER_ELEMENT));
  let stepAside: { done: PromiseWithResolvers<void>; timeout: ReturnType<typeof setTimeout> } | undefined;
  const resume = () => {
    if (!stepAside) return;
    clearTimeout(stepAside.timeout);
    stepAside.done.resolve();
    stepAside = undefined;
  };
  worker.addEventListener('message', (event) => {
    if (event.data === RESTARTED) resume();
  });
  worker.addEventListener('error', (event) => {
    resume();
    onFailure(event.message || 'worker error');
  });
  worker.postMessage({ file, intervalMs: CHECKPOINT_INTERVAL_MS, walLimitBytes, flag } satisfies CheckpointWorkerInit);
  return {
    restarts: () => Atomics.load(flag, SLOT.restarts),
    writerTurn() {
      if (stepAside) return stepAside.done.promise;
      if (Atomics.load(flag, SLOT.turn) !== TURN.wanted || Atomics.compareExchange(flag, SLOT.turn, TURN.wanted, TURN.granted) !== TURN.wanted) {
        return undefined;
      }
      stepAside = { done: Promise.withResolvers<void>(), timeout: setTimeout(resume, TURN_TIMEOUT_MS) };
      Atomics.notify(flag, SLOT.turn);
      return stepAside.done.promise;
    },
    stop() {
      resume();
      if (Atomics.compareExchange(flag, SLOT.stop, STOP.running, STOP.requested) === STOP.running) {
        Atomics.wait(flag, SLOT.stop, STOP.requested, STOP_WAIT_MS);
      }
      worker.terminate();
    },
  };
}
