import { Type as T } from '@sinclair/typebox';

/**
 * The standard OpenTelemetry variables pipewatch reads (part of ConfigSchema, so they are
 * validated and documented with every other setting). The OTel JS 3.x trace SDK no longer reads
 * them itself. One deliberate difference from the specification: with OTEL_TRACES_EXPORTER unset,
 * tracing is off (the specification's default is `otlp`), so an unconfigured service sends nothing.
 */
export const TracingSettings = {
  OTEL_TRACES_EXPORTER: T.Union([T.Literal('none'), T.Literal('otlp'), T.Literal('console')], {
    default: 'none',
    description:
      'Tracing: `none` (off: no tracer, no exporter, nothing written to the job trace column), `otlp` (OTLP over HTTP to the endpoint below), `console` (span summaries on stderr, for debugging).',
  }),
  OTEL_EXPORTER_OTLP_ENDPOINT: T.Optional(
    T.String({ minLength: 1, description: 'Base URL of the OTLP/HTTP receiver (`/v1/traces` is appended); default `http://localhost:4318`.' }),
  ),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: T.Optional(
    T.String({ minLength: 1, description: 'Full URL spans are posted to, used as given; overrides `OTEL_EXPORTER_OTLP_ENDPOINT`.' }),
  ),
  OTEL_EXPORTER_OTLP_PROTOCOL: T.Union([T.Literal('http/protobuf'), T.Literal('http/json')], {
    default: 'http/protobuf',
    description: 'OTLP encoding (`grpc` is not supported).',
  }),
  OTEL_EXPORTER_OTLP_HEADERS: T.Optional(
    T.String({ minLength: 1, description: 'Extra request headers for the receiver, `key=value,key2=value2` (values URL-encoded); never logged.' }),
  ),
  OTEL_EXPORTER_OTLP_TIMEOUT: T.Integer({ minimum: 100, maximum: 120_000, default: 10_000, description: 'Milliseconds one export request may take.' }),
  OTEL_BSP_SCHEDULE_DELAY: T.Integer({
    minimum: 0,
    maximum: 600_000,
    default: 5_000,
    description: 'Milliseconds between two exports of finished spans (batched; also flushed on shutdown).',
  }),
  OTEL_SERVICE_NAME: T.String({ minLength: 1, default: 'pipewatch', description: 'The `service.name` resource attribute of every span.' }),
  OTEL_RESOURCE_ATTRIBUTES: T.Optional(
    T.String({ minLength: 1, description: 'More resource attributes, `key=value,key2=value2` (values URL-encoded), e.g. `deployment.environment.name=prod`.' }),
  ),
  OTEL_TRACES_SAMPLER: T.Union(
    [
      T.Literal('parentbased_always_on'),
      T.Literal('parentbased_always_off'),
      T.Literal('parentbased_traceidratio'),
      T.Literal('always_on'),
      T.Literal('always_off'),
      T.Literal('traceidratio'),
    ],
    {
      default: 'parentbased_always_on',
      description: 'Which traces are recorded; `parentbased_traceidratio` with `OTEL_TRACES_SAMPLER_ARG=0.1` for production.',
    },
  ),
  OTEL_TRACES_SAMPLER_ARG: T.Optional(T.Number({ minimum: 0, maximum: 1, description: 'Sampling ratio of the `*traceidratio` samplers (default 1).' })),
};
