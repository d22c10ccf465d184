/**
 * Traces on the GCP stack (issue 13), decided but not yet wired into infra/gcp (the infra owner's
 * files): Google's build of the OpenTelemetry Collector, `otelcol-google`, REPLACES the
 * run-gmp-sidecar as the one sidecar. It receives the app's OTLP/HTTP on localhost and sends
 * traces to Cloud Trace through the Telemetry API (telemetry.googleapis.com, OTLP), and it
 * scrapes the app's private /metrics for Managed Service for Prometheus, so there is still one
 * sidecar and the metrics keep their names. Authentication is the sidecar's: the app exports
 * plain OTLP to 127.0.0.1 and needs no Google library.
 *
 * UNVERIFIED (no GCP project in this environment): the image tag, the collector components'
 * exact option names, and that the runtime identity needs nothing beyond the roles below.
 */

/** Pinned collector image (tag unverified: check the Artifact Registry listing before `pulumi up`). */
export const OTELCOL_GOOGLE_IMAGE = 'us-docker.pkg.dev/cloud-ops-agents-artifacts/google-cloud-opentelemetry-collector/otelcol-google:0.121.0';

/** APIs the project needs for traces (besides Cloud Run, Monitoring and Secret Manager already enabled). */
export const TRACING_APIS = ['telemetry.googleapis.com', 'cloudtrace.googleapis.com'] as const;

/** Roles of the runtime service account: write traces (Telemetry API), write metrics (Managed Prometheus). */
export const TRACING_ROLES = ['roles/telemetry.tracesWriter', 'roles/cloudtrace.agent', 'roles/monitoring.metricWriter'] as const;

/** The app's tracing environment on Cloud Run: OTLP to the sidecar on localhost, 10% of traces. */
export function appTracingEnv(samplerArg = '0.1'): Record<string, string> {
  return {
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: samplerArg,
  };
}

/** The collector config: OTLP in -> Cloud Trace (Telemetry API); /metrics scraped -> Managed Prometheus. */
export function otelcolGoogleConfig(opts: { projectId: string; metricsPort: number; scrapeInterval: string; job?: string }): string {
  const job = opts.job ?? 'pipewatch';
  return Bun.YAML.stringify(
    {
      receivers: {
        otlp: { protocols: { http: { endpoint: '127.0.0.1:4318' } } },
        prometheus: {
          config: { scrape_configs: [{ job_name: job, scrape_interval: opts.scrapeInterval, metrics_path: '/metrics', static_configs: [{ targets: [`127.0.0.1:${opts.metricsPort}`] }] }] },
        },
      },
      extensions: { googleclientauth: {} },
      processors: { batch: {}, 'resourcedetection/gcp': { detectors: ['gcp'], timeout: '10s' } },
      exporters: {
        'otlphttp/cloudtrace': { endpoint: 'https://telemetry.googleapis.com', encoding: 'proto', auth: { authenticator: 'googleclientauth' }, headers: { 'x-goog-user-project': opts.projectId } },
        googlemanagedprometheus: { project: opts.projectId },
      },
      service: {
        extensions: ['googleclientauth'],
        pipelines: {
          traces: { receivers: ['otlp'], processors: ['resourcedetection/gcp', 'batch'], exporters: ['otlphttp/cloudtrace'] },
          metrics: { receivers: ['prometheus'], processors: ['resourcedetection/gcp', 'batch'], exporters: ['googlemanagedprometheus'] },
        },
      },
    },
    null,
    2,
  );
}
