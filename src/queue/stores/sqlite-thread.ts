import type { CommitRequest, CommitResult, JobStore, PruneRequest, PruneResult, RecoverRequest, RecoveryResult, StoreStats } from '../store';
import { QueueStartError, type JobStatus } from '../types';
import type { SqliteStoreOptions } from './sqlite';
import type { SerializedError, StoreMethod, ThreadReply, ThreadRequest } from './sqlite-thread-worker';

/** Where the worker's code is: beside this file from source; in the binary, relative to the bundle root (src/). */
const WORKER_URL = import.meta.url.startsWith('file:///$bunfs/')
  ? './queue/stores/sqlite-thread-worker.ts'
  : new URL('./sqlite-thread-worker.ts', import.meta.url).href;

/**
 * The sqlite store on a thread of its own (SQLITE_THREAD=worker): the same store as sqlite.ts,
 * every call posted to a worker that owns the connection. A commit stuck on the disk (fsfreeze,
 * a hung volume) then stalls the queue, not the event loop: /healthz and /metrics keep answering.
 * Costs one structured-clone round trip per call. Checkpoints run inline in that thread's commits.
 */
export async function openSqliteStoreInThread(options: SqliteStoreOptions): Promise<JobStore> {
  const worker = new Worker(WORKER_URL);
  const pending = new Map<number, PromiseWithResolvers<unknown>>();
  let seq = 0;
  const opened = Promise.withResolvers<{ queueId: string; durability: JobStore['durability'] }>();
  worker.onmessage = (event: MessageEvent<ThreadReply>) => {
    const reply = event.data;
    switch (reply.kind) {
      case 'opened':
        opened.resolve(reply);
        break;
      case 'open-failed':
        opened.reject(revive(reply.error));
        break;
      case 'exposed':
        options.onExposedDataDir?.(reply.mode);
        break;
      case 'result':
      case 'failed': {
        const call = pending.get(reply.seq);
        pending.delete(reply.seq);
        if (reply.kind === 'result') call?.resolve(reply.value);
        else call?.reject(revive(reply.error));
        break;
      }
    }
  };
  worker.addEventListener('error', (event) => {
    const error = new Error(`sqlite thread failed: ${event.message || 'worker error'}`);
    opened.reject(error);
    for (const call of pending.values()) call.reject(error);
    pending.clear();
  });
  worker.postMessage({ kind: 'open', options: { dataDir: options.dataDir, synchronous: options.synchronous } } satisfies ThreadRequest);
  let identity: { queueId: string; durability: JobStore['durability'] };
  try {
    identity = await opened.promise;
  } catch (error) {
    worker.terminate();
    throw error;
  }

  const call = <T>(method: StoreMethod, ...args: unknown[]): Promise<T> => {
    const id = ++seq;
    const result = Promise.withResolvers<unknown>();
    pending.set(id, result);
    worker.postMessage({ kind: 'call', seq: id, method, args } satisfies ThreadRequest);
    return result.promise as Promise<T>;
  };

  return {
    ownership: 'single',
    durability: identity.durability,
    queueId: identity.queueId,
    commit: (request: CommitRequest) => call<CommitResult>('commit', request),
    recover: (request: RecoverRequest) => call<RecoveryResult>('recover', request),
    clampDue: (request: { latest: number; now: number }) => call<number>('clampDue', request),
    prune: (request: PruneRequest) => call<PruneResult>('prune', request),
    stats: () => call<StoreStats>('stats'),
    oldestUnfinishedCreatedAt: () => call<number | null>('oldestUnfinishedCreatedAt'),
    status: (id: string) => call<JobStatus | undefined>('status', id),
    close: async () => {
      try {
        await call<void>('close');
      } finally {
        worker.terminate();
      }
    },
  };
}

/** The error as the caller expects it: start-up errors keep their one line, SQLite errors their code. */
function revive(error: SerializedError): Error {
  const revived = error.name === 'QueueStartError' ? new QueueStartError(error.message) : new Error(error.message);
  if (error.name !== 'QueueStartError') revived.name = error.name;
  if (error.code !== undefined) Object.assign(revived, { code: error.code });
  return revived;
}
