import type { CheckpointWorkerInit } from './checkpoint-worker';

/** How often the WAL is copied back into the database file; ~10 checkpoints/s keeps each one small. */
const CHECKPOINT_INTERVAL_MS = 100;
/** At close, how long to wait for the worker to finish a checkpoint in progress. */
const STOP_WAIT_MS = 2000;

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
  worker.addEventListener('error', (event) => onFailure(event.message || 'worker error'));
  const flag = new Int32Array(new SharedArrayBuffer(8));
  worker.postMessage({ file, intervalMs: CHECKPOINT_INTERVAL_MS, walLimitBytes, flag } satisfies CheckpointWorkerInit);
  return {
    restarts: () => Atomics.load(flag, 1),
    stop() {
      if (Atomics.compareExchange(flag, 0, 0, 1) === 0) Atomics.wait(flag, 0, 1, STOP_WAIT_MS);
      worker.terminate();
    },
  };
}
