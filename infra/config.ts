import * as pulumi from '@pulumi/pulumi';
import { Type as T, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { describeRule } from '../src/schema-rule';

/**
 * The stack config of the `pipewatch` project, one TypeBox schema: every key, its type, default and
 * rule. `pulumi config set KEY VALUE` stores strings; they are converted and checked here, so a bad
 * value stops `pulumi preview` with one line naming the key and the rule instead of a cloud API error
 * halfway through `pulumi up`.
 */
const Int = (minimum: number, maximum: number, dflt: number, description: string) => T.Integer({ minimum, maximum, default: dflt, description });
const Port = (dflt: number, description: string) => Int(1, 65535, dflt, description);
const Bool = (dflt: boolean, description: string) => T.Boolean({ default: dflt, description });
const OneOf = <V extends string>(values: readonly V[], dflt: V, description: string) =>
  T.Union(
    values.map((v) => T.Literal(v)),
    { default: dflt, description },
  );

export const StackConfigSchema = T.Object({
  target: OneOf(['local', 'gcp'] as const, 'local', '`local`: Docker network on this machine. `gcp`: Cloud Run + Managed Prometheus.'),

  // The service, both targets.
  logLevel: OneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const, 'info', 'LOG_LEVEL of the service.'),
  sqliteSynchronous: OneOf(['NORMAL', 'FULL'] as const, 'FULL', 'SQLITE_SYNCHRONOUS of the queue (FULL: accepted jobs survive power loss).'),
  shutdownGraceMs: Int(
    0,
    600_000,
    8_000,
    'SHUTDOWN_GRACE_MS: how long a stopping container drains. Cloud Run allows at most 9000 (it kills 10 s after SIGTERM).',
  ),
  queueDriver: T.Optional(
    T.Union([T.Literal('sqlite'), T.Literal('postgres')], {
      description: 'QUEUE_DRIVER of the service. Default: postgres on gcp (Cloud SQL), sqlite locally (one service container).',
    }),
  ),
  pgPoolMax: Int(1, 100, 5, 'PG_POOL_MAX: connections each instance may open (instances x pgPoolMax must fit the database).'),

  // Local Docker stack.
  bindAddress: T.String({
    default: '127.0.0.1',
    pattern: '^(\\d{1,3}\\.){3}\\d{1,3}$',
    description: 'Host IPv4 address the published ports listen on (0.0.0.0 exposes them to the network).',
  }),
  apiPort: Port(8000, 'Host port of the API.'),
  prometheusPort: Port(9090, 'Host port of Prometheus.'),
  grafanaPort: Port(3000, 'Host port of Grafana.'),
  alertmanagerPort: Port(9093, 'Host port of Alertmanager (when enabled).'),
  prometheusRetention: T.String({
    default: '15d',
    pattern: '^[0-9]+(ms|s|m|h|d|w|y)$',
    description: 'Prometheus --storage.tsdb.retention.time, e.g. 15d or 12h.',
  }),
  grafanaAdminUser: T.String({ default: 'admin', minLength: 1, pattern: '^[A-Za-z0-9._-]+$', description: 'Grafana admin login.' }),
  grafanaAnonymous: Bool(false, 'Let visitors view dashboards without logging in (Viewer role only).'),
  alertmanager: Bool(false, 'Also run Alertmanager and point Prometheus at it.'),
  prometheusImage: T.String({ default: 'prom/prometheus:v2.53.4', minLength: 1, description: 'Prometheus image (v2.53 LTS).' }),
  grafanaImage: T.String({ default: 'grafana/grafana:11.6.1', minLength: 1, description: 'Grafana image (11.6.x, the dashboards SDK version).' }),
  alertmanagerImage: T.String({ default: 'prom/alertmanager:v0.27.0', minLength: 1, description: 'Alertmanager image.' }),
  replicas: T.Optional(
    T.Integer({
      minimum: 1,
      maximum: 9,
      description: 'Service containers (queueDriver=postgres only; sqlite runs one). Default: 2 with postgres, 1 with sqlite.',
    }),
  ),
  postgresImage: T.String({ default: 'postgres:16.9-bookworm', minLength: 1, description: 'PostgreSQL image of the local stack (queueDriver=postgres).' }),
  postgresPort: Port(5432, 'Host port PostgreSQL is published on (queueDriver=postgres), for psql from this host.'),
  tracing: Bool(
    true,
    'Local stack: run Grafana Tempo and have the service export its traces to it (OTEL_* env). false: no Tempo, the service exports nothing.',
  ),
  traceSampleRatio: T.Number({
    minimum: 0,
    maximum: 1,
    default: 1,
    description: 'OTEL_TRACES_SAMPLER_ARG of the local service (parentbased_traceidratio): share of new traces kept.',
  }),
  tempoImage: T.String({ default: 'grafana/tempo:2.6.1', minLength: 1, description: 'Grafana Tempo image of the local stack (tracing=true).' }),
  tempoPort: Port(3200, "Host port of Tempo's HTTP API (tracing=true); Grafana reaches it on the stack network."),

  // GCP stack (project and region come from the provider's own keys gcp:project and gcp:region).
  // The runtime service account id is `<serviceName>-run` (6-30 characters): at most 26 here.
  serviceName: T.String({
    default: 'pipewatch',
    pattern: '^[a-z][-a-z0-9]{0,24}[a-z0-9]$',
    description: 'Cloud Run service name (2-26 characters: the service account id <serviceName>-run has at most 30).',
  }),
  repositoryId: T.String({ default: 'pipewatch', pattern: '^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$', description: 'Artifact Registry repository id.' }),
  minInstances: Int(1, 100, 1, 'Cloud Run minimum instances (at least 1: the queue works between requests, and the "no target" alert means an outage).'),
  maxInstances: Int(1, 100, 3, 'Cloud Run maximum instances (postgres: a small autoscaling range on one shared queue; sqlite: must be 1).'),
  concurrency: Int(1, 1000, 80, 'Requests one instance serves at once.'),
  cpu: OneOf(['1', '2', '4', '6', '8'] as const, '1', 'vCPUs of the app container (CPU stays allocated: the queue works after the response).'),
  memory: T.String({
    default: '512Mi',
    pattern: '^[0-9]+(Mi|Gi)$',
    description: 'Memory of the app container, e.g. 512Mi or 1Gi (with sqlite the queue file lives in it on Cloud Run).',
  }),
  metricsPort: Port(9091, 'Private port the app serves /metrics on; only the collector sidecar reaches it.'),
  collectorImage: T.String({
    // 1.7.0: the newest tagged release of GoogleCloudPlatform/run-gmp-sidecar (March 2026).
    default: 'us-docker.pkg.dev/cloud-ops-agents-artifacts/cloud-run-gmp-sidecar/cloud-run-gmp-sidecar:1.7.0',
    minLength: 1,
    description: "Google's Managed Service for Prometheus collector sidecar image.",
  }),
  gcpTracing: Bool(
    false,
    "GCP stack: a second sidecar (otelcol-google) sends the service's traces to Cloud Trace via the Telemetry API. Off by default: unverified without a real `pulumi up` (README).",
  ),
  gcpTraceSampleRatio: T.Number({
    minimum: 0,
    maximum: 1,
    default: 0.1,
    description: 'OTEL_TRACES_SAMPLER_ARG on Cloud Run (gcpTracing=true, parentbased_traceidratio).',
  }),
  traceCollectorImage: T.String({
    default: 'us-docker.pkg.dev/cloud-ops-agents-artifacts/google-cloud-opentelemetry-collector/otelcol-google:0.130.0',
    minLength: 1,
    description: "Google's build of the OpenTelemetry Collector (gcpTracing=true).",
  }),
  scrapeInterval: T.String({ default: '30s', pattern: '^[0-9]+(s|m)$', description: 'How often the collector scrapes /metrics.' }),
  public: Bool(false, 'Allow unauthenticated invocation (invokerIamDisabled: no allUsers binding, which domain-restricted organisations reject).'),
  runbookBaseUrl: T.Optional(
    T.String({
      pattern: '^https://[^\\s#]+$',
      description: 'Where README.md is published (e.g. https://github.com/OWNER/pipewatch/blob/main/README.md): alert policies link runbooks there.',
    }),
  ),

  // Cloud SQL for PostgreSQL (gcp with queueDriver=postgres).
  dbVersion: OneOf(['POSTGRES_15', 'POSTGRES_16', 'POSTGRES_17'] as const, 'POSTGRES_16', 'Cloud SQL database version.'),
  dbTier: T.String({
    default: 'db-custom-1-3840',
    pattern: '^db-(custom-[0-9]+-[0-9]+|f1-micro|g1-small|perf-optimized-N-[0-9]+)$',
    description: 'Cloud SQL machine tier (ENTERPRISE edition), e.g. db-custom-1-3840 (1 vCPU, 3.75 GB).',
  }),
  dbDiskGb: Int(10, 65_536, 10, 'Cloud SQL SSD size in GB (grows automatically when nearly full).'),
  dbAvailability: OneOf(
    ['REGIONAL', 'ZONAL'] as const,
    'REGIONAL',
    'REGIONAL: a standby in a second zone with automatic failover (production). ZONAL: one zone, half the price (test stacks).',
  ),
  dbMaxConnections: Int(25, 5_000, 100, 'max_connections flag of the instance; the connection budget is checked against it.'),
  dbDeletionProtection: Bool(
    true,
    'Both deletion protections of the Cloud SQL instance (Pulumi and the API). Set false and `pulumi up` before `pulumi destroy`.',
  ),
  dbMaintenanceDay: Int(1, 7, 7, 'Maintenance window day (1 = Monday ... 7 = Sunday).'),
  dbMaintenanceHour: Int(0, 23, 3, 'Maintenance window start hour, UTC.'),
  deletionProtection: Bool(false, 'Cloud Run deletion protection (true blocks `pulumi destroy` until set back to false).'),
  alertEmail: T.Optional(
    T.String({ pattern: '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$', description: 'Email address for a new Cloud Monitoring notification channel.' }),
  ),
  notificationChannels: T.Array(T.String({ pattern: '^projects/[^/]+/notificationChannels/[^/]+$' }), {
    default: [],
    description: 'Existing notification channels (JSON list of projects/P/notificationChannels/ID) that alerts go to.',
  }),
});

type RawStackConfig = Static<typeof StackConfigSchema>;
/** The checked config, with the target-dependent defaults (queue driver, replicas) filled in. */
export type StackConfig = Omit<RawStackConfig, 'queueDriver' | 'replicas'> & { queueDriver: 'sqlite' | 'postgres'; replicas: number };

/** Ports of the GCP revision that metricsPort must not take. */
export const CLOUD_RUN_APP_PORT = 8000;
/** run-gmp-sidecar's own liveness endpoint (entrypoint.go: livenessProbePort). */
export const COLLECTOR_HEALTH_PORT = 13133;
/** gcpTracing=true: the trace collector's OTLP receiver and health port (infra/gcp/tracing.ts). */
export const TRACE_COLLECTOR_PORTS = [4318, 13134] as const;
/** Connections Cloud SQL keeps for itself and an operator's psql, outside the service's budget. */
export const DB_RESERVED_CONNECTIONS = 5;

/** Keys whose values are JSON, not plain strings. */
const JSON_KEYS = new Set(['notificationChannels']);

/** A bad value in stack config. A RunError stops preview with its message and no stack trace. */
export class StackConfigError extends pulumi.RunError {}

/**
 * Converts and validates raw config strings (as `pulumi config` stores them). Pure: tests and the
 * program share it. `project` names the config namespace in messages.
 */
export function parseStackConfig(raw: Record<string, string | undefined>, project = 'pipewatch'): StackConfig {
  const input: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) {
    if (!(key in StackConfigSchema.properties))
      throw new StackConfigError(`unknown config key ${project}:${key} (known: ${Object.keys(StackConfigSchema.properties).join(', ')})`);
  }
  for (const key of Object.keys(StackConfigSchema.properties)) {
    const value = raw[key]?.trim();
    if (value === undefined || value === '') continue;
    if (JSON_KEYS.has(key)) {
      try {
        input[key] = JSON.parse(value);
      } catch {
        throw new StackConfigError(`invalid ${project}:${key}: must be a JSON list, e.g. ["projects/P/notificationChannels/123"]`);
      }
    } else if (schemaAt(key)?.type === 'integer' && !/^-?[0-9]+$/.test(value)) {
      // Value.Convert would read "80.5" as 80 and "1e3" as 1000: integers only from plain digits.
      throw new StackConfigError(`invalid ${project}:${key}=${JSON.stringify(value)}: ${describeRule(schemaAt(key), '')}`);
    } else {
      input[key] = value;
    }
  }
  const converted = Value.Convert(StackConfigSchema, Value.Default(StackConfigSchema, input));
  const first = Value.Errors(StackConfigSchema, converted).First();
  if (first) {
    const key = first.path.split('/')[1] ?? 'config';
    const given = raw[key] === undefined ? 'unset' : JSON.stringify(raw[key]!.trim());
    throw new StackConfigError(`invalid ${project}:${key}=${given}: ${describeRule(schemaAt(key), first.message)}`);
  }
  const parsed = converted as RawStackConfig;
  const queueDriver = parsed.queueDriver ?? (parsed.target === 'gcp' ? 'postgres' : 'sqlite');
  const config: StackConfig = { ...parsed, queueDriver, replicas: parsed.replicas ?? (queueDriver === 'postgres' ? 2 : 1) };
  checkCombinations(config, project);
  return config;
}

/** Rules that span keys. */
function checkCombinations(config: StackConfig, project: string): void {
  if (config.minInstances > config.maxInstances) {
    throw new StackConfigError(`invalid ${project}:minInstances=${config.minInstances}: must not exceed ${project}:maxInstances=${config.maxInstances}`);
  }
  if (config.target === 'gcp' && config.shutdownGraceMs > 9_000) {
    // Cloud Run sends SIGKILL 10 s after SIGTERM; a longer drain is cut off mid-job.
    throw new StackConfigError(
      `invalid ${project}:shutdownGraceMs=${config.shutdownGraceMs}: must be at most 9000 on Cloud Run (SIGKILL follows SIGTERM after 10 s)`,
    );
  }
  if (config.target === 'local') {
    const ports: Array<[string, number]> = [
      // Replica N of the service is published on apiPort + N - 1.
      ...Array.from({ length: config.queueDriver === 'postgres' ? config.replicas : 1 }, (_, i): [string, number] => [
        i === 0 ? 'apiPort' : `apiPort+${i}`,
        config.apiPort + i,
      ]),
      ...(config.queueDriver === 'postgres' ? ([['postgresPort', config.postgresPort]] as Array<[string, number]>) : []),
      ['prometheusPort', config.prometheusPort],
      ['grafanaPort', config.grafanaPort],
      ...(config.tracing ? ([['tempoPort', config.tempoPort]] as Array<[string, number]>) : []),
      ...(config.alertmanager ? ([['alertmanagerPort', config.alertmanagerPort]] as Array<[string, number]>) : []),
    ];
    for (const [i, [name, port]] of ports.entries()) {
      const clash = ports.slice(0, i).find(([, other]) => other === port);
      if (clash) throw new StackConfigError(`invalid ${project}:${name}=${port}: ${project}:${clash[0]} already publishes that port`);
    }
  }
  if (config.target === 'gcp') checkCloudRun(config, project);
  if (config.queueDriver === 'sqlite' && config.replicas > 1) {
    throw new StackConfigError(
      `invalid ${project}:replicas=${config.replicas}: sqlite is one process's queue file; use ${project}:queueDriver=postgres for more than one`,
    );
  }
  if (config.bindAddress.split('.').some((octet) => Number(octet) > 255)) {
    throw new StackConfigError(`invalid ${project}:bindAddress=${JSON.stringify(config.bindAddress)}: must be an IPv4 address`);
  }
}

/** Memory in MiB from `512Mi` / `2Gi`. */
export function memoryMiB(memory: string): number {
  const value = Number.parseInt(memory, 10);
  return memory.endsWith('Gi') ? value * 1024 : value;
}

/**
 * What the Cloud Run API would refuse after the image push (cloud.google.com/run/docs/configuring/
 * services/memory-limits and cpu): memory per CPU, gen2's floor, ports the revision already uses,
 * and the connection budget of the shared database.
 */
function checkCloudRun(config: StackConfig, project: string): void {
  const mib = memoryMiB(config.memory);
  const cpu = Number(config.cpu);
  // Minimum memory for a CPU count; maximum memory a CPU count may have.
  const minMiB: Record<number, number> = { 1: 512, 2: 512, 4: 2048, 6: 4096, 8: 4096 };
  const maxMiB: Record<number, number> = { 1: 4096, 2: 8192, 4: 16384, 6: 24576, 8: 32768 };
  if (mib < minMiB[cpu]!) {
    throw new StackConfigError(
      `invalid ${project}:memory=${JSON.stringify(config.memory)}: ${cpu} CPU on Cloud Run gen2 needs at least ${minMiB[cpu]! >= 1024 ? `${minMiB[cpu]! / 1024}Gi` : `${minMiB[cpu]}Mi`}`,
    );
  }
  if (mib > maxMiB[cpu]!) {
    throw new StackConfigError(
      `invalid ${project}:memory=${JSON.stringify(config.memory)}: more than ${maxMiB[cpu]! / 1024}Gi needs more than ${cpu} CPU (${project}:cpu)`,
    );
  }
  for (const [port, what] of [
    [CLOUD_RUN_APP_PORT, 'the app port Cloud Run routes requests to'],
    [COLLECTOR_HEALTH_PORT, "the collector sidecar's health port"],
  ] as const) {
    if (config.metricsPort === port) throw new StackConfigError(`invalid ${project}:metricsPort=${port}: ${port} is ${what}`);
  }
  if (config.gcpTracing && (TRACE_COLLECTOR_PORTS as readonly number[]).includes(config.metricsPort)) {
    throw new StackConfigError(`invalid ${project}:metricsPort=${config.metricsPort}: the trace collector sidecar listens there (gcpTracing=true)`);
  }
  if (config.queueDriver === 'sqlite' && config.maxInstances > 1) {
    throw new StackConfigError(
      `invalid ${project}:maxInstances=${config.maxInstances}: with ${project}:queueDriver=sqlite every instance has its own in-memory queue; use 1, or queueDriver=postgres`,
    );
  }
  if (config.queueDriver === 'postgres') {
    // During a rollout the old and the new revision run side by side: twice the instances.
    const needed = 2 * config.maxInstances * config.pgPoolMax;
    const budget = config.dbMaxConnections - DB_RESERVED_CONNECTIONS;
    if (needed > budget) {
      throw new StackConfigError(
        `invalid ${project}:pgPoolMax=${config.pgPoolMax}: 2 revisions x ${config.maxInstances} instances x ${config.pgPoolMax} connections = ${needed} exceeds ${project}:dbMaxConnections=${config.dbMaxConnections} minus ${DB_RESERVED_CONNECTIONS} reserved`,
      );
    }
  }
}

function schemaAt(key: string): TSchema | undefined {
  return (StackConfigSchema.properties as Record<string, TSchema>)[key];
}

/** Secrets: read only with getSecret, so they stay encrypted in state and never print. */
export interface StackSecrets {
  /** Unset: a random password is generated (see infra/local/grafana.ts). */
  grafanaAdminPassword?: pulumi.Output<string>;
  /** Where Alertmanager posts alerts; often carries a token. Unset: alerts are only shown in its UI. */
  alertmanagerWebhookUrl?: pulumi.Output<string>;
}
const SECRET_KEYS = ['grafanaAdminPassword', 'alertmanagerWebhookUrl'] as const;

export interface GcpSettings {
  project: string;
  region: string;
}

/** Reads this stack's config through Pulumi: plain keys validated, secrets kept as secrets. */
export function readStackConfig(): { config: StackConfig; secrets: StackSecrets; gcp?: GcpSettings } {
  const cfg = new pulumi.Config();
  const project = pulumi.getProject();
  const raw: Record<string, string | undefined> = {};
  // Every key set in this project's namespace, so a typo (apiport) fails instead of being ignored.
  for (const fullKey of Object.keys(pulumi.runtime.allConfig())) {
    const [namespace, key] = fullKey.split(':');
    if (namespace === project && key !== undefined && !(SECRET_KEYS as readonly string[]).includes(key)) raw[key] = undefined;
  }
  for (const key of Object.keys(StackConfigSchema.properties)) raw[key] = cfg.get(key);
  const config = parseStackConfig(raw, project);
  const secrets: StackSecrets = {};
  for (const key of SECRET_KEYS) {
    const value = cfg.getSecret(key);
    if (value !== undefined) secrets[key] = value;
  }
  if (config.target !== 'gcp') return { config, secrets };
  const gcpConfig = new pulumi.Config('gcp');
  const gcpProject = gcpConfig.get('project');
  const region = gcpConfig.get('region');
  if (!gcpProject) throw new StackConfigError('missing gcp:project: run `pulumi config set gcp:project YOUR_PROJECT_ID`');
  if (!region) throw new StackConfigError('missing gcp:region: run `pulumi config set gcp:region europe-west1` (any Cloud Run region)');
  if (!/^[a-z]+-[a-z]+[0-9]{1,2}$/.test(region))
    throw new StackConfigError(`invalid gcp:region=${JSON.stringify(region)}: must be a region such as europe-west1`);
  return { config, secrets, gcp: { project: gcpProject, region } };
}
