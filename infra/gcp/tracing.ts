import * as gcp from '@pulumi/gcp';
import type * as pulumi from '@pulumi/pulumi';
import type { GcpContext } from './context';

/**
 * Traces on the GCP stack (issue 13), on with stack config gcpTracing=true (off by default, see
 * README "Tracing on GCP"): Google's build of the OpenTelemetry Collector, `otelcol-google`, runs
 * as a SECOND sidecar for traces only. It receives the app's OTLP/HTTP on 127.0.0.1 and sends it to
 * Cloud Trace through the Telemetry API (telemetry.googleapis.com, OTLP), authenticated as the
 * runtime identity, so the app needs no Google library.
 *
 * Why not the one sidecar for metrics too (replacing run-gmp-sidecar): the alert policies select
 * `namespace=<service>, location=<region>` (alerting.ts) and every instance must write its own
 * series. run-gmp-sidecar sets both from Cloud Run's metadata; a plain prometheus receiver +
 * googlemanagedprometheus exporter on Cloud Run has no `namespace`, and every instance scrapes
 * the same target `127.0.0.1:<port>`, so `instance` would collide across instances. Matching that
 * needs resource processors no one here has run against a real project: not swapped blind.
 *
 * UNVERIFIED without a real `pulumi up`: that the image tag exists, that the revision starts with
 * the collector (config keys, health port), and that roles/telemetry.tracesWriter alone lets it write.
 */

/** Pinned collector image (Google's Artifact Registry path; the tag is not checked against the registry here). */
export const OTELCOL_GOOGLE_IMAGE = 'us-docker.pkg.dev/cloud-ops-agents-artifacts/google-cloud-opentelemetry-collector/otelcol-google:0.130.0';

/** APIs the project needs for traces: the OTLP endpoint and Cloud Trace's storage behind it. */
export const TRACING_APIS = ['telemetry.googleapis.com', 'cloudtrace.googleapis.com'] as const;

/** Project role of the runtime identity for traces (telemetry.traces.write). Metrics keep roles/monitoring.metricWriter (identity.ts). */
export const TRACING_ROLES = ['roles/telemetry.tracesWriter'] as const;

/** Where the app sends OTLP/HTTP inside the instance (containers of a revision share localhost). */
export const TRACE_COLLECTOR_OTLP_PORT = 4318;
/**
 * The collector's health_check extension. Not its usual 13133: run-gmp-sidecar's liveness endpoint
 * already listens there on the same localhost.
 */
export const TRACE_COLLECTOR_HEALTH_PORT = 13134;
export const TRACE_COLLECTOR_CONTAINER = 'trace-collector';
export const TRACE_COLLECTOR_CONFIG_DIR = '/etc/otelcol-google';
export const TRACE_COLLECTOR_CONFIG_FILE = 'config.yaml';
export const TRACE_COLLECTOR_VOLUME = 'trace-collector-config';

/** The app's tracing environment on Cloud Run: OTLP to the sidecar on localhost, a share of new traces. */
export function appTracingEnv(samplerArg = '0.1'): Record<string, string> {
  return {
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${TRACE_COLLECTOR_OTLP_PORT}`,
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: samplerArg,
  };
}

/**
 * The collector config: OTLP/HTTP in on localhost -> Cloud Trace via the Telemetry API. The
 * Telemetry API files spans under the resource attribute gcp.project_id, so it is inserted here.
 */
export function otelcolTracesConfig(opts: { projectId: string }): string {
  return Bun.YAML.stringify(
    {
      receivers: { otlp: { protocols: { http: { endpoint: `127.0.0.1:${TRACE_COLLECTOR_OTLP_PORT}` } } } },
      extensions: { health_check: { endpoint: `0.0.0.0:${TRACE_COLLECTOR_HEALTH_PORT}` }, googleclientauth: {} },
      processors: {
        memory_limiter: { check_interval: '1s', limit_percentage: 80, spike_limit_percentage: 20 },
        'resourcedetection/gcp': { detectors: ['gcp'], timeout: '10s' },
        'resource/gcp_project_id': { attributes: [{ key: 'gcp.project_id', value: opts.projectId, action: 'insert' }] },
        batch: {},
      },
      exporters: { 'otlphttp/telemetry': { endpoint: 'https://telemetry.googleapis.com', encoding: 'proto', auth: { authenticator: 'googleclientauth' } } },
      service: {
        extensions: ['health_check', 'googleclientauth'],
        pipelines: {
          traces: {
            receivers: ['otlp'],
            processors: ['memory_limiter', 'resourcedetection/gcp', 'resource/gcp_project_id', 'batch'],
            exporters: ['otlphttp/telemetry'],
          },
        },
      },
    },
    null,
    2,
  );
}

/**
 * The trace collector: its config in Secret Manager (Cloud Run mounts files from there; nothing in
 * it is secret), readable by the runtime identity only, and the sidecar container reading it.
 */
export function traceCollector(ctx: GcpContext, runtimeMember: pulumi.Input<string>) {
  const secret = new gcp.secretmanager.Secret(
    'trace-collector-config',
    { project: ctx.project, secretId: `${ctx.config.serviceName}-otelcol-traces`, replication: { auto: {} }, labels: ctx.labels },
    { dependsOn: ctx.apis },
  );
  const version = new gcp.secretmanager.SecretVersion('trace-collector-config', {
    secret: secret.id,
    secretData: otelcolTracesConfig({ projectId: ctx.project }),
  });
  const access = new gcp.secretmanager.SecretIamMember('runtime-reads-trace-collector-config', {
    project: ctx.project,
    secretId: secret.secretId,
    role: 'roles/secretmanager.secretAccessor',
    member: runtimeMember,
  });
  /** Pinned to this version: a changed config rolls out a new revision. */
  const volume: gcp.types.input.cloudrunv2.ServiceTemplateVolume = {
    name: TRACE_COLLECTOR_VOLUME,
    secret: { secret: secret.secretId, items: [{ version: version.version, path: TRACE_COLLECTOR_CONFIG_FILE }] },
  };
  const container: gcp.types.input.cloudrunv2.ServiceTemplateContainer = {
    name: TRACE_COLLECTOR_CONTAINER,
    image: ctx.config.traceCollectorImage,
    args: [`--config=${TRACE_COLLECTOR_CONFIG_DIR}/${TRACE_COLLECTOR_CONFIG_FILE}`],
    volumeMounts: [{ name: TRACE_COLLECTOR_VOLUME, mountPath: TRACE_COLLECTOR_CONFIG_DIR }],
    // Started before the app (the app depends on it), so the first spans find the receiver; a hung
    // collector is restarted rather than silently dropping traces.
    startupProbe: { httpGet: { path: '/', port: TRACE_COLLECTOR_HEALTH_PORT }, periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 30 },
    livenessProbe: { httpGet: { path: '/', port: TRACE_COLLECTOR_HEALTH_PORT }, periodSeconds: 30, timeoutSeconds: 5 },
    resources: { limits: { cpu: '1', memory: '512Mi' }, cpuIdle: false },
  };
  return { secret, version, access, volume, container };
}

export type TraceCollector = ReturnType<typeof traceCollector>;
