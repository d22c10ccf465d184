import { Elysia } from 'elysia';
import { docsPlugin } from './http/docs';
import { errorsPlugin } from './http/errors';
import { healthPlugin, type Readiness } from './http/health';
import { metricsEndpointPlugin } from './http/metrics-endpoint';
import { observabilityPlugin } from './http/observability';
import type { Logger } from './log';
import type { Metrics } from './metrics';
import type { Queue } from './queue/types';
import { submissionsRoutes } from './routes/submissions';
import { finishRequestSpan, tracingPlugin } from './tracing/http';
import type { Tracing } from './tracing/provider';

export interface AppDeps {
  queue: Queue;
  metrics: Metrics;
  log: Logger;
  readiness: Readiness;
  bodyLimitBytes: number;
  version: string;
  /** Serve /metrics on this app. False when a separate metrics port serves it. */
  serveMetrics: boolean;
  /** Present only while tracing is on (OTEL_TRACES_EXPORTER): a SERVER span per request. */
  tracing?: Tracing;
}

/** The whole HTTP surface, composed from one plugin per concern. No ports, no globals. */
export function createApp(deps: AppDeps) {
  const { tracing } = deps;
  const app = new Elysia({ normalize: false })
    .use(deps.tracing ? tracingPlugin(deps.tracing) : new Elysia({ name: 'pipewatch/tracing-off' }))
    .use(errorsPlugin({ log: deps.log }))
    .use(
      observabilityPlugin({
        metrics: deps.metrics,
        log: deps.log,
        exemplar: tracing && ((request, route, status) => finishRequestSpan(tracing, request, route, status)),
      }),
    )
    .use(healthPlugin(deps.readiness))
    .use(submissionsRoutes(deps))
    .use(docsPlugin({ version: deps.version }));
  if (deps.serveMetrics) app.use(metricsEndpointPlugin(deps.metrics, { openMetrics: deps.tracing !== undefined }));
  return app;
}

/** The app for a separate, private metrics port: /metrics and nothing else. */
export function createMetricsApp(deps: Pick<AppDeps, 'metrics' | 'log' | 'tracing'>) {
  return new Elysia().use(errorsPlugin({ log: deps.log })).use(metricsEndpointPlugin(deps.metrics, { openMetrics: deps.tracing !== undefined }));
}
