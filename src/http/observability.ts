import { Elysia } from 'elysia';
import { accessLogger, type Logger } from '../log';
import { UNMATCHED_ROUTE, type Metrics } from '../metrics';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Request id, RED metrics and the access log, recorded once per request after its final
 * status is known (errors and 404s included). `route` is the matched template, so label
 * values are bounded by the routes the app declares.
 */
export function observabilityPlugin(options: { metrics: Metrics; log: Logger }) {
  const { metrics, log } = options;
  const access = accessLogger(log);
  const started = new WeakMap<Request, number>();

  return new Elysia({ name: 'pipewatch/observability' })
    .onRequest(({ request, set }) => {
      started.set(request, performance.now());
      metrics.httpInFlight.inc();
      const incoming = request.headers.get('x-request-id');
      set.headers['x-request-id'] = incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    })
    .onAfterResponse({ as: 'global' }, ({ request, route, set }) => {
      const start = started.get(request);
      if (start === undefined) return;
      started.delete(request);
      const seconds = (performance.now() - start) / 1000;
      const labels = { method: methodLabel(request.method), route: route || UNMATCHED_ROUTE, status: String(set.status ?? 200) };
      metrics.httpInFlight.dec();
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, seconds);
      access({ method: labels.method, route: labels.route, status: Number(labels.status), durationMs: Math.round(seconds * 1e6) / 1e3, requestId: set.headers['x-request-id'] as string });
    });
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Clients can send any method token; unknown ones share one label value. */
function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'OTHER';
}
