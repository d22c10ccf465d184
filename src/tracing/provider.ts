import type { Context, Span, Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as OTLPProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate, type OTLPExporterNodeConfigBase } from '@opentelemetry/otlp-exporter-base/node-http';
import { JsonTraceSerializer, TraceExporterMetricsHelper } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type ReadableSpan,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import { RequestContextManager } from './context';
import type { TracingOptions } from './options';

/** What the instrumented code needs. Exists only while tracing is on: off means no provider, no exporter, no context manager. */
export interface Tracing {
  tracer: Tracer;
  contexts: RequestContextManager;
  propagator: W3CTraceContextPropagator;
  /** The SERVER span of each request in flight (set by tracingPlugin), e.g. for exemplars. */
  requests: WeakMap<Request, Span>;
  /** Exports every finished span now (tests, shutdown). */
  flush(): Promise<void>;
  /** Flushes and stops exporting. */
  shutdown(): Promise<void>;
}

export interface TracingOverrides {
  /** Replaces the configured exporter (tests: an InMemorySpanExporter), exported span by span. */
  exporter?: SpanExporter;
}

/** Builds the tracer named by OTEL_TRACES_EXPORTER, or undefined when tracing is off. */
export function createTracing(options: TracingOptions, overrides: TracingOverrides = {}): Tracing | undefined {
  if (options.exporter === 'none' && !overrides.exporter) return undefined;
  const processor = overrides.exporter
    ? new SimpleSpanProcessor({ exporter: overrides.exporter })
    : new BatchSpanProcessor({ exporter: configuredExporter(options), scheduledDelayMillis: options.scheduleDelayMs, exportTimeoutMillis: options.timeoutMs });
  const provider = new TracerProvider({
    resource: resourceFromAttributes(options.resource),
    sampler: sampler(options),
    spanProcessors: [processor],
  });
  return {
    tracer: provider.getTracer('pipewatch'),
    contexts: new RequestContextManager(),
    propagator: new W3CTraceContextPropagator(),
    requests: new WeakMap(),
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}

function configuredExporter(options: TracingOptions): SpanExporter {
  if (options.exporter === 'console') return new ConsoleSpanExporter();
  const config = { url: options.url, headers: options.headers, timeoutMillis: options.timeoutMs };
  return options.protocol === 'http/json' ? new OTLPJsonExporter(config) : new OTLPProtobufExporter(config);
}

/**
 * OTLP/HTTP with JSON bodies, from the same OTel exporter parts as the protobuf one. Not
 * @opentelemetry/exporter-trace-otlp-http: its newest release (0.301.0) depends on
 * @opentelemetry/sdk-trace 3.1.0 and would install a second SDK next to 3.1.1.
 */
class OTLPJsonExporter extends OTLPExporterBase<ReadableSpan[]> implements SpanExporter {
  constructor(config: OTLPExporterNodeConfigBase) {
    super(
      createOtlpHttpExportDelegate(
        convertLegacyHttpOptions(config, 'TRACES', 'v1/traces', { 'Content-Type': 'application/json' }),
        JsonTraceSerializer,
        'otlp_http_span_exporter',
        TraceExporterMetricsHelper,
        undefined,
      ),
    );
  }
}

function sampler(options: TracingOptions): Sampler {
  const ratio = new TraceIdRatioBasedSampler(options.ratio);
  switch (options.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio;
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio });
  }
}

export type { Context, Span };
