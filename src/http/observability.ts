import { Elysia, ElysiaCustomStatusResponse, StatusMap } from 'elysia';
import { accessLogger, type Logger } from '../log';
import { seedOf } from './seed';
import { UNMATCHED_ROUTE, type ExemplarLabels, type Metrics } from '../metrics';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Request id, RED metrics and the access log, recorded once per request when its final status
 * is known (errors and 404s included). `route` is the matched template, so label values are
 * bounded by the routes the app declares.
 *
 * Recorded in a global `mapResponse` hook, which Elysia runs synchronously just before it turns
 * the value into the Response it hands back, on the success path and on the error path alike.
 * Not in `onAfterResponse`: Elysia compiles that into one `setImmediate` closure per request
 * holding the request's whole context, and clients that pipeline requests without reading the
 * answers piled those up by the million (issue 9: 65 MiB -> 1 GiB RSS).
 */
export function observabilityPlugin(options: {
  metrics: Metrics;
  log: Logger;
  /**
   * Exemplar labels for a request's duration observation (e.g. its trace id); none by default.
   * Called once per answered request with its route template ('' when unmatched) and final status
   * (the tracing code ends the request's span here).
   */
  exemplar?: (request: Request, route: string, status: number) => ExemplarLabels | undefined;
}) {
  const { metrics, log, exemplar = () => undefined } = options;
  const access = accessLogger(log);
  const started = new WeakMap<Request, number>();

  return new Elysia({ name: 'pipewatch/observability', seed: seedOf(metrics, log) })
    .onRequest(({ request, set }) => {
      started.set(request, performance.now());
      metrics.httpInFlight.inc();
      const incoming = request.headers.get('x-request-id');
      set.headers['x-request-id'] = incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    })
    .mapResponse({ as: 'global' }, ({ request, route, set, responseValue }) => {
      // Hands the value back unchanged: Elysia 1.4's error path replaces the response with whatever
      // a mapResponse hook returns, undefined included (its success path keeps it). The type says
      // Response, but any value is mapped the same way as the handler's own.
      const unchanged = responseValue as Response;
      const start = started.get(request);
      if (start === undefined) return unchanged;
      started.delete(request);
      const seconds = (performance.now() - start) / 1000;
      const method = methodLabel(request.method);
      const path = route || UNMATCHED_ROUTE;
      const status = request.signal.aborted ? unsent(finalStatus(responseValue, set.status)) : finalStatus(responseValue, set.status);
      metrics.httpInFlight.dec();
      metrics.httpRed.series(method, path, status).record(seconds, exemplar(request, route, status));
      access({ method, route: path, status, durationMs: Math.round(seconds * 1e6) / 1e3, requestId: set.headers['x-request-id'] as string });
      return unchanged;
    });
}

/** The status the adapter is about to send: a returned Response or `status(...)` wins over `set.status`. */
function finalStatus(value: unknown, status: number | string | undefined): number {
  if (value instanceof Response) return value.status;
  if (value instanceof ElysiaCustomStatusResponse) return value.code;
  // Elysia also takes a status name ('Accepted'); its adapter maps it the same way.
  return typeof status === 'number' ? status : status === undefined ? 200 : (StatusMap[status as keyof typeof StatusMap] ?? 200);
}

/** Status label of an answer Bun will not send: the connection is already closed. */
const CLOSED_BEFORE_ANSWER = 499;

/**
 * The connection closed before the answer was ready, so it is never sent. Recorded as 499
 * (nginx's "client closed request"; no such status goes on the wire) rather than as the status
 * that would have been sent, except a 408: the body was cut off by the idle timeout, which is
 * what the 408 says. On Bun 1.4.5 this is also how a request pipelined behind a pending async
 * answer ends (uWS closes the connection; see the README's operations section).
 */
function unsent(status: number): number {
  return status === 408 ? 408 : CLOSED_BEFORE_ANSWER;
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Clients can send any method token; unknown ones share one label value. */
function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'OTHER';
}
