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
const Int = (minimum: number, maximum: number, dflt: number, description: string) =>
  T.Integer({ minimum, maximum, default: dflt, description });
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
  shutdownGraceMs: Int(0, 600_000, 8_000, 'SHUTDOWN_GRACE_MS: how long a stopping container drains. Cloud Run allows at most 9000 (it kills 10 s after SIGTERM).'),

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

  // GCP stack (project and region come from the provider's own keys gcp:project and gcp:region).
  serviceName: T.String({ default: 'pipewatch', pattern: '^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$', description: 'Cloud Run service name.' }),
  repositoryId: T.String({ default: 'pipewatch', pattern: '^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$', description: 'Artifact Registry repository id.' }),
  minInstances: Int(0, 100, 1, 'Cloud Run minimum instances (1 keeps an instance, and its queue, alive when idle).'),
  maxInstances: Int(1, 100, 1, 'Cloud Run maximum instances (each instance has its own queue file).'),
  concurrency: Int(1, 1000, 80, 'Requests one instance serves at once.'),
  cpu: OneOf(['1', '2', '4', '6', '8'] as const, '1', 'vCPUs of the app container (CPU stays allocated: the queue works after the response).'),
  memory: T.String({ default: '512Mi', pattern: '^[0-9]+(Mi|Gi)$', description: 'Memory of the app container, e.g. 512Mi or 1Gi (the queue file lives in it on Cloud Run).' }),
  metricsPort: Port(9091, 'Private port the app serves /metrics on; only the collector sidecar reaches it.'),
  collectorImage: T.String({
    default: 'us-docker.pkg.dev/cloud-ops-agents-artifacts/cloud-run-gmp-sidecar/cloud-run-gmp-sidecar:1.2.0',
    minLength: 1,
    description: "Google's Managed Service for Prometheus collector sidecar image.",
  }),
  scrapeInterval: T.String({ default: '30s', pattern: '^[0-9]+(s|m)$', description: 'How often the collector scrapes /metrics.' }),
  public: Bool(false, 'Allow unauthenticated invocation (grants roles/run.invoker to allUsers).'),
  deletionProtection: Bool(false, 'Cloud Run deletion protection (true blocks `pulumi destroy` until set back to false).'),
  alertEmail: T.Optional(
    T.String({ pattern: '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$', description: 'Email address for a new Cloud Monitoring notification channel.' }),
  ),
  notificationChannels: T.Array(T.String({ pattern: '^projects/[^/]+/notificationChannels/[^/]+$' }), {
    default: [],
    description: 'Existing notification channels (JSON list of projects/P/notificationChannels/ID) that alerts go to.',
  }),
});

export type StackConfig = Static<typeof StackConfigSchema>;

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
    if (!(key in StackConfigSchema.properties)) throw new StackConfigError(`unknown config key ${project}:${key} (known: ${Object.keys(StackConfigSchema.properties).join(', ')})`);
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
  const config = converted as StackConfig;
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
    throw new StackConfigError(`invalid ${project}:shutdownGraceMs=${config.shutdownGraceMs}: must be at most 9000 on Cloud Run (SIGKILL follows SIGTERM after 10 s)`);
  }
  if (config.target === 'local') {
    const ports: Array<[string, number]> = [
      ['apiPort', config.apiPort],
      ['prometheusPort', config.prometheusPort],
      ['grafanaPort', config.grafanaPort],
      ...(config.alertmanager ? ([['alertmanagerPort', config.alertmanagerPort]] as Array<[string, number]>) : []),
    ];
    for (const [i, [name, port]] of ports.entries()) {
      const clash = ports.slice(0, i).find(([, other]) => other === port);
      if (clash) throw new StackConfigError(`invalid ${project}:${name}=${port}: ${project}:${clash[0]} already publishes that port`);
    }
  }
  if (config.bindAddress.split('.').some((octet) => Number(octet) > 255)) {
    throw new StackConfigError(`invalid ${project}:bindAddress=${JSON.stringify(config.bindAddress)}: must be an IPv4 address`);
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
  if (!/^[a-z]+-[a-z]+[0-9]$/.test(region)) throw new StackConfigError(`invalid gcp:region=${JSON.stringify(region)}: must be a region such as europe-west1`);
  return { config, secrets, gcp: { project: gcpProject, region } };
}
