import { trace } from '@opentelemetry/api';
import type { RequestContextManager } from './context';

export interface TraceLogFields {
  trace_id?: string;
  span_id?: string;
}

/**
 * A pino mixin adding `trace_id` and `span_id` of the active span to every log line, so a line
 * leads to its trace (and a trace to its lines: search the logs for its id). A fresh object per
 * line: pino merges the line's own fields into what the mixin returns.
 */
export function traceLogMixin(contexts: RequestContextManager): () => TraceLogFields {
  return () => {
    const span = trace.getSpan(contexts.active());
    if (!span) return {};
    const { traceId, spanId } = span.spanContext();
    return { trace_id: traceId, span_id: spanId };
  };
}
