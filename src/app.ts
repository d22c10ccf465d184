import { Elysia } from 'elysia';
import { docsPlugin } from './http/docs';
import { errorsPlugin } from './http/errors';
import { healthPlugin, type Readiness } from './http/health';
import { metricsEndpointPlugin } from './http/metrics-endpoint';
import { observabilityPlugin } from './http/observability';
import type { Logger } from './log';
import type { ExemplarLabels, Metrics } from './metrics';
import type { Queue } from './queue/types';
import { submissionsRoutes } from './routes/submissions';

export interface AppDeps {
  queue: Queue;
  metrics: Metrics;
  log: Logger;
  readiness: Readiness;
  bodyLimitBytes: number;
  version: string;
  /** Serve /metrics on this app. False when a separate metrics port serves it. */
  serveMetrics: boolean;
  /** Exemplar labels (a trace id) for each request's duration; the tracing code provides it. */
  exemplar?: (request: Request) => ExemplarLabels | undefined;
}

/** The whole HTTP surface, composed from one plugin per concern. No ports, no globals. */
export function createApp(deps: AppDeps) {
  const app = new Elysia({ normalize: false })
    .use(errorsPlugin({ log: deps.log }))
    .use(observabilityPlugin({ metrics: deps.metrics, log: deps.log, exemplar: deps.exemplar }))
    .use(healthPlugin(deps.readiness))
    .use(submissionsRoutes(deps))
    .use(docsPlugin({ version: deps.version }));
  if (deps.serveMetrics) app.use(metricsEndpointPlugin(deps.metrics));
  return app;
}

/** The app for a separate, private metrics port: /metrics and nothing else. */
export function createMetricsApp(deps: Pick<AppDeps, 'metrics' | 'log'>) {
  return new Elysia().use(errorsPlugin({ log: deps.log })).use(metricsEndpointPlugin(deps.metrics));
}
