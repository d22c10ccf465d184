import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Context, type Span, type SpanContext } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';
import type { Tracing } from './provider';

/**
 * Messaging semantic-convention attributes (still "incubating" in @opentelemetry/semantic-conventions,
 * whose maintainers advise copying those names rather than importing them).
 */
const MESSAGING = {
  system: 'messaging.system',
  destination: 'messaging.destination.name',
  operationType: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  messageId: 'messaging.message.id',
} as const;
const SYSTEM = 'pipewatch';
const DESTINATION = 'submissions';

/** The PRODUCER span of one enqueue, open until its group commit settles. */
export interface EnqueueSpan {
  /** What the job stores in its `trace` column: W3C `traceparent`, then `\n` and `tracestate` when there is one. */
  readonly trace: string;
  /** The job's row is committed; `batchSize` jobs shared the commit (the span's length is the group-commit wait). */
  committed(jobId: string, batchSize: number): void;
  /** Nothing was stored: capacity, draining or a failed commit. */
  refused(reason: string): void;
}

/** How one attempt ended, as the engine settles it. */
export type AttemptEnd =
  | { kind: 'succeeded' }
  | { kind: 'retry'; reason: string; delayMs: number }
  | { kind: 'failed'; reason: string }
  /** Graceful stop cut it off: queued again, not counted. */
  | { kind: 'released' }
  /** A shared store's lease could not be renewed: another instance may run the job. */
  | { kind: 'lost' };

/** The CONSUMER span of one processing attempt. */
export interface AttemptSpan {
  /** Runs fn with the attempt's span active (the processor, and the log lines about the attempt). */
  within<T>(fn: () => T): T;
  end(outcome: AttemptEnd): void;
  /** Exemplar labels for `app_processing_seconds` when sampled. */
  exemplar(): Record<string, string>;
}

/** The queue engine's view of tracing. Absent when tracing is off: then the engine writes `trace = null` and starts no span. */
export interface JobTracer {
  /** Called inside the request's context: the PRODUCER span is a child of its SERVER span. */
  enqueue(): EnqueueSpan;
  /** A claimed job starts an attempt; `trace` is what enqueue stored (null: a job accepted while tracing was off). */
  attempt(job: { id: string; attempt: number; trace: string | null; queueWaitMs: number }): AttemptSpan;
  /** fn, run outside any request's context (the group commit serves many requests). */
  detached<F extends (...args: never[]) => unknown>(fn: F): F;
}

const noop = () => {};
const NO_EXEMPLAR: Record<string, string> = Object.freeze({}) as Record<string, string>;

export function jobTracer(tracing: Tracing): JobTracer {
  const { tracer, contexts } = tracing;
  return {
    enqueue() {
      const parent = contexts.active();
      const request = trace.getSpan(parent)?.spanContext();
      if (request && !(request.traceFlags & TraceFlags.SAMPLED) && trace.isSpanContextValid(request)) {
        // An unsampled request: a PRODUCER span would not be recorded either. The job stores the
        // request's own (unsampled) context instead, so its attempts keep the decision.
        return { trace: storedTrace(request), committed: noop, refused: noop };
      }
      const span = tracer.startSpan(
        `send ${DESTINATION}`,
        {
          kind: SpanKind.PRODUCER,
          attributes: {
            [MESSAGING.system]: SYSTEM,
            [MESSAGING.destination]: DESTINATION,
            [MESSAGING.operationType]: 'send',
            [MESSAGING.operationName]: 'send',
          },
        },
        parent,
      );
      const stored = storedTrace(span.spanContext());
      return {
        trace: stored,
        committed(jobId, batchSize) {
          span.setAttribute(MESSAGING.messageId, jobId);
          span.addEvent('committed', { 'pipewatch.commit.batch_size': batchSize });
          span.end();
        },
        refused(reason) {
          span.setAttribute(ATTR_ERROR_TYPE, reason);
          span.setStatus({ code: SpanStatusCode.ERROR, message: reason });
          span.end();
        },
      };
    },

    attempt({ id, attempt, trace: stored, queueWaitMs }) {
      const parent = stored ? storedContext(tracing, stored) : ROOT_CONTEXT;
      const span = tracer.startSpan(
        `process ${DESTINATION}`,
        {
          kind: SpanKind.CONSUMER,
          attributes: {
            [MESSAGING.system]: SYSTEM,
            [MESSAGING.destination]: DESTINATION,
            [MESSAGING.operationType]: 'process',
            [MESSAGING.operationName]: 'process',
            [MESSAGING.messageId]: id,
            'pipewatch.job.attempt': attempt,
            'pipewatch.queue.wait_ms': Math.round(queueWaitMs),
          },
        },
        parent,
      );
      const context = trace.setSpan(parent, span);
      return {
        within: (fn) => contexts.with(context, fn),
        end: (outcome) => endAttempt(span, outcome),
        exemplar() {
          const c = span.spanContext();
          return c.traceFlags & TraceFlags.SAMPLED ? { trace_id: c.traceId, span_id: c.spanId } : NO_EXEMPLAR;
        },
      };
    },

    detached: (fn) => contexts.bind(ROOT_CONTEXT, fn),
  };
}

/**
 * The W3C `traceparent` of the PRODUCER span (version 00), then `\n` and its `tracestate` when it
 * has one: written directly, the same text the W3C propagator's inject() gives, without its carrier.
 */
function storedTrace(context: SpanContext): string {
  const flags = (context.traceFlags & 0xff).toString(16).padStart(2, '0');
  const traceparent = `00-${context.traceId}-${context.spanId}-${flags}`;
  const state = context.traceState?.serialize();
  return state ? `${traceparent}\n${state}` : traceparent;
}

function storedContext(tracing: Tracing, stored: string): Context {
  const newline = stored.indexOf('\n');
  const carrier = newline < 0 ? { traceparent: stored } : { traceparent: stored.slice(0, newline), tracestate: stored.slice(newline + 1) };
  return tracing.propagator.extract(ROOT_CONTEXT, carrier, { get: (c, k) => c[k as keyof typeof c], keys: (c) => Object.keys(c) });
}

function endAttempt(span: Span, outcome: AttemptEnd): void {
  switch (outcome.kind) {
    case 'succeeded':
      break;
    case 'retry':
      span.setAttribute(ATTR_ERROR_TYPE, outcome.reason);
      span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.reason });
      span.addEvent('retry scheduled', { 'pipewatch.retry.delay_ms': Math.round(outcome.delayMs) });
      break;
    case 'failed':
      span.setAttribute(ATTR_ERROR_TYPE, outcome.reason);
      span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.reason });
      span.addEvent('dead-lettered');
      break;
    case 'released':
      span.addEvent('released', { 'pipewatch.release.cause': 'shutdown' });
      break;
    case 'lost':
      span.setAttribute(ATTR_ERROR_TYPE, 'lease_lost');
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'lease_lost' });
      span.addEvent('lease lost');
      break;
  }
  span.end();
}
