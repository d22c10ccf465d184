/**
 * Worker thread that owns the sqlite store (sqlite-thread.ts is the other side): every store
 * call runs here, so a commit waiting on a slow or frozen disk blocks this thread, not the event
 * loop that answers HTTP.
 */
import type { JobStore } from '../store';
import { openSqliteStore, type SqliteStoreOptions } from './sqlite';

declare const self: Worker;

export type ThreadRequest =
  | { kind: 'open'; options: Pick<SqliteStoreOptions, 'dataDir' | 'synchronous'> }
  | { kind: 'call'; seq: number; method: StoreMethod; args: unknown[] };

export type StoreMethod = 'commit' | 'recover' | 'clampDue' | 'prune' | 'stats' | 'oldestUnfinishedCreatedAt' | 'status' | 'close';

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
}

export type ThreadReply =
  | { kind: 'opened'; queueId: string; durability: JobStore['durability'] }
  | { kind: 'open-failed'; error: SerializedError }
  | { kind: 'exposed'; mode: string }
  | { kind: 'result'; seq: number; value: unknown }
  | { kind: 'failed'; seq: number; error: SerializedError };

function serialize(error: unknown): SerializedError {
  const { code } = error as { code?: unknown };
  return {
    name: error instanceof Error ? error.name : 'Error',
    message: error instanceof Error ? error.message : String(error),
    code: typeof code === 'string' ? code : undefined,
  };
}

let store: JobStore | undefined;
const reply = (message: ThreadReply) => self.postMessage(message);

self.onmessage = async (event: MessageEvent<ThreadRequest>) => {
  const request = event.data;
  if (request.kind === 'open') {
    try {
      store = await openSqliteStore({ ...request.options, checkpoints: 'inline', onExposedDataDir: (mode) => reply({ kind: 'exposed', mode }) });
      reply({ kind: 'opened', queueId: store.queueId, durability: store.durability });
    } catch (error) {
      reply({ kind: 'open-failed', error: serialize(error) });
    }
    return;
  }
  try {
    if (!store) throw new Error('the store is not open');
    const method = store[request.method] as (...args: unknown[]) => Promise<unknown>;
    reply({ kind: 'result', seq: request.seq, value: await method.apply(store, request.args) });
  } catch (error) {
    reply({ kind: 'failed', seq: request.seq, error: serialize(error) });
  }
};
