import { Elysia, t } from 'elysia';

export interface Readiness {
  /** False while starting and once draining: load balancers should stop sending traffic. */
  ready(): boolean;
}

const Health = t.Object({ status: t.String({ examples: ['ok'] }) });

export function healthPlugin(readiness: Readiness) {
  return new Elysia({ name: 'pipewatch/health' })
    .get('/healthz', () => ({ status: 'ok' }), {
      response: { 200: Health },
      detail: { tags: ['Operations'], summary: 'Liveness: the process is up and serving' },
    })
    .get('/readyz', ({ status }) => (readiness.ready() ? { status: 'ready' } : status(503, { status: 'not ready' })), {
      response: { 200: Health, 503: Health },
      detail: { tags: ['Operations'], summary: 'Readiness: 503 while starting or draining' },
    });
}
