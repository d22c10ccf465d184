import { Elysia } from 'elysia';
import { renderMetrics, type Metrics } from '../metrics';
import { OPENMETRICS_CONTENT_TYPE, prefersOpenMetrics, renderOpenMetrics } from '../tracing/openmetrics';
import { seedOf } from './seed';

/**
 * `GET /metrics` at that exact path (collectors such as Google's do not follow redirects).
 * With `openMetrics` (tracing on), a scraper asking for OpenMetrics gets it, with exemplars;
 * everyone else gets the text format, always.
 */
export function metricsEndpointPlugin(metrics: Metrics, { openMetrics = false }: { openMetrics?: boolean } = {}) {
  return new Elysia({ name: 'pipewatch/metrics-endpoint', seed: seedOf(metrics, openMetrics) }).get(
    '/metrics',
    async ({ set, request }) => {
      if (openMetrics && prefersOpenMetrics(request.headers.get('accept'))) {
        set.headers['content-type'] = OPENMETRICS_CONTENT_TYPE;
        return renderOpenMetrics(metrics);
      }
      set.headers['content-type'] = metrics.registry.contentType;
      return renderMetrics(metrics);
    },
    { detail: { tags: ['Operations'], summary: 'Prometheus metrics (text exposition format)' } },
  );
}
