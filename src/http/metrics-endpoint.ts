import { Elysia } from 'elysia';
import { renderMetrics, type Metrics } from '../metrics';
import { seedOf } from './seed';

/** `GET /metrics` at that exact path (collectors such as Google's do not follow redirects). */
export function metricsEndpointPlugin(metrics: Metrics) {
  return new Elysia({ name: 'pipewatch/metrics-endpoint', seed: seedOf(metrics) }).get(
    '/metrics',
    async ({ set }) => {
      set.headers['content-type'] = metrics.registry.contentType;
      return renderMetrics(metrics);
    },
    { detail: { tags: ['Operations'], summary: 'Prometheus metrics (text exposition format)' } },
  );
}
