import { Elysia, t } from 'elysia';
import { seedOf } from './seed';

export interface Readiness {
  /** False while starting and once draining: load balancers should stop sending traffic. */
  ready(): boolean;
  /** True once shutdown began: responses ask keep-alive clients to reconnect (elsewhere). */
  draining?(): boolean;
  /** False while the queue's storage cannot be reached (a shared queue's database is away). */
  storageReachable?(): boolean;
}

const Health = t.Object({ status: t.String({ examples: ['ok'] }) });

export function healthPlugin(readiness: Readiness) {
  const draining = readiness.draining ?? (() => false);
  const storageReachable = readiness.storageReachable ?? (() => true);
  // Why the instance is not ready, for the operator reading /readyz: draining wins, then storage.
  const notReady = () => (draining() ? 'draining' : storageReachable() ? 'starting' : 'storage-unavailable');
  return new Elysia({ name: 'pipewatch/health', seed: seedOf(readiness) })
    .onRequest(({ set }) => {
      // Without this, a client's idle keep-alive connection is cut when the listener closes,
      // racing any request it is about to send.
      if (draining()) set.headers.connection = 'close';
    })
    .get('/healthz', () => ({ status: 'ok' }), {
      response: { 200: Health },
      detail: { tags: ['Operations'], summary: 'Liveness: the process is up and serving' },
    })
    .get('/readyz', ({ status }) => (readiness.ready() ? { status: 'ready' } : status(503, { status: notReady() })), {
      response: { 200: Health, 503: Health },
      detail: { tags: ['Operations'], summary: 'Readiness: 503 while starting, draining or without its storage' },
    });
}
