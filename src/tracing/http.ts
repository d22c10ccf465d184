import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Span, type TextMapGetter } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_URL_SCHEME,
} from '@opentelemetry/semantic-conventions';
import { Elysia } from 'elysia';
import type { Tracing } from './provider';

/** The response header carrying the request's trace id, for clients to quote to support. `traceparent` is not echoed. */
export const TRACE_ID_HEADER = 'x-trace-id';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE']);

const headerGetter: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => [...headers.keys()],
};

/**
 * One SERVER span per request, following the stable HTTP semantic conventions: named
 * `METHOD /route/template` once the route is known, with method, route, scheme, protocol and
 * status. Never the raw path or query (an unmatched path is whatever a client typed), never a
 * header or body value: nothing here can carry personal data. An incoming W3C `traceparent` /
 * `tracestate` becomes the parent. The span is the active context for the rest of the request
 * (handlers, logs, the queue's PRODUCER span).
 *
 * This plugin only starts the span. It is ended by `finish` below, called from the
 * observability hook once the final status is known: Elysia runs global `mapResponse` hooks
 * only until one returns a value, so a second such hook here would silence the first.
 */
export function tracingPlugin(tracing: Tracing) {
  const { tracer, contexts, propagator } = tracing;
  return new Elysia({ name: 'pipewatch/tracing' }).onRequest(({ request, set }) => {
    const parent = propagator.extract(ROOT_CONTEXT, request.headers, headerGetter);
    const known = KNOWN_METHODS.has(request.method);
    const span = tracer.startSpan(
      known ? request.method : 'HTTP',
      {
        kind: SpanKind.SERVER,
        attributes: {
          [ATTR_HTTP_REQUEST_METHOD]: known ? request.method : '_OTHER',
          // The service itself speaks plain HTTP (TLS ends at the load balancer); reading request.url would build the whole URL string per request.
          [ATTR_URL_SCHEME]: 'http',
          [ATTR_NETWORK_PROTOCOL_VERSION]: '1.1',
        },
      },
      parent,
    );
    tracing.requests.set(request, span);
    contexts.enter(trace.setSpan(parent, span));
    set.headers[TRACE_ID_HEADER] = span.spanContext().traceId;
  });
}

/** Exemplar labels linking a latency observation to its trace. */
export type TraceExemplar = { trace_id: string; span_id: string };

/**
 * Ends the request's SERVER span with its route and final status. Returns the exemplar for
 * the request's latency observation when the span is sampled (an unsampled trace id would
 * lead nowhere), otherwise undefined. `route` is empty for unmatched paths.
 */
export function finishRequestSpan(tracing: Tracing, request: Request, route: string, status: number): TraceExemplar | undefined {
  const span = tracing.requests.get(request);
  if (!span) return undefined;
  tracing.requests.delete(request);
  endServerSpan(span, request.method, route, status);
  const context = span.spanContext();
  return context.traceFlags & TraceFlags.SAMPLED ? { trace_id: context.traceId, span_id: context.spanId } : undefined;
}

function endServerSpan(span: Span, method: string, route: string, status: number): void {
  if (route) {
    span.setAttribute(ATTR_HTTP_ROUTE, route);
    span.updateName(`${KNOWN_METHODS.has(method) ? method : 'HTTP'} ${route}`);
  }
  span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
  // Server spans: 5xx is an error of ours, 4xx is the client's (the semantic conventions' rule).
  if (status >= 500) {
    span.setAttribute(ATTR_ERROR_TYPE, String(status));
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}
