import { Type as T, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { PgTargetError, resolvePgTarget, SSL_MODES } from './db/connection';
import { describeRule } from './schema-rule';
import { TracingSettingError, tracingOptions } from './tracing/options';
import { TracingSettings } from './tracing/settings';

/**
 * Every setting pipewatch reads, as one TypeBox schema over the environment.
 * Each key is the environment variable's name; `description` is what the README's
 * configuration table says about it.
 */
const Port = (description: string, dflt?: number) => T.Integer({ minimum: 0, maximum: 65535, description, ...(dflt === undefined ? {} : { default: dflt }) });

/** The PostgreSQL queue's connection (QUEUE_DRIVER=postgres); read only by that driver. */
const POSTGRES_SETTINGS = {
  DATABASE_URL: T.Optional(
    T.String({
      minLength: 1,
      description:
        'PostgreSQL queue: `postgres://USER:PASSWORD@HOST:PORT/DATABASE[?sslmode=…]`, or `postgres://USER:PASSWORD@/DATABASE?host=/socket/dir` for a unix socket (Cloud Run: `/cloudsql/PROJECT:REGION:INSTANCE`). Its parts win over the `PG*` variables. Never logged (the password is redacted).',
    }),
  ),
  PGHOST: T.Optional(
    T.String({
      minLength: 1,
      description: 'PostgreSQL host name, or a unix-socket directory starting with `/` (default `localhost`), when `DATABASE_URL` is unset.',
    }),
  ),
  PGPORT: T.Optional(Port('PostgreSQL port (default 5432).')),
  PGUSER: T.Optional(T.String({ minLength: 1, description: 'PostgreSQL role (default `postgres`).' })),
  PGPASSWORD: T.Optional(T.String({ minLength: 1, description: 'PostgreSQL password; never logged.' })),
  PGDATABASE: T.Optional(T.String({ minLength: 1, description: 'PostgreSQL database (default: the role name).' })),
  PGSSLMODE: T.Optional(
    T.Union(
      SSL_MODES.map((mode) => T.Literal(mode)),
      { description: 'TLS to PostgreSQL, as libpq: `disable` … `verify-full` (ignored on a unix socket).' },
    ),
  ),
  PG_POOL_MAX: T.Integer({
    minimum: 2,
    maximum: 1000,
    default: 10,
    description: "Connections each instance keeps to PostgreSQL at most; instances x this must stay below the server's `max_connections`.",
  }),
  PG_CONNECT_TIMEOUT_MS: T.Integer({ minimum: 100, maximum: 120_000, default: 5_000, description: 'Longest wait for one new PostgreSQL connection.' }),
  PG_STATEMENT_TIMEOUT_MS: T.Integer({
    minimum: 100,
    maximum: 600_000,
    default: 5_000,
    description:
      "Longest one queue statement or commit may take (the server's `statement_timeout`; also bounds how long a submission waits on a slow database before `503`).",
  }),
  PG_STARTUP_WAIT_MS: T.Integer({
    minimum: 0,
    maximum: 3_600_000,
    default: 30_000,
    description: 'How long start-up keeps retrying an unreachable PostgreSQL before exiting 1.',
  }),
};

export const ConfigSchema = T.Object({
  HOST: T.String({ minLength: 1, default: '0.0.0.0', description: 'Interface the API listens on.' }),
  PORT: Port('TCP port of the API (0 picks a free port).', 8000),
  METRICS_PORT: T.Optional(Port('When set, `/metrics` is served only on this separate port (keep it private); otherwise on `PORT`.')),
  METRICS_HOST: T.Optional(T.String({ minLength: 1, description: 'Interface of the metrics port (defaults to `HOST`).' })),
  LOG_LEVEL: T.Union(
    [T.Literal('fatal'), T.Literal('error'), T.Literal('warn'), T.Literal('info'), T.Literal('debug'), T.Literal('trace'), T.Literal('silent')],
    { default: 'info', description: 'Lowest log level written to stdout (one JSON object per line).' },
  ),
  BODY_LIMIT_BYTES: T.Integer({
    minimum: 64,
    maximum: 1_048_576,
    default: 16_384,
    description: 'Largest accepted request body; larger bodies get `413`.',
  }),
  SHUTDOWN_GRACE_MS: T.Integer({
    minimum: 0,
    maximum: 600_000,
    default: 10_000,
    description: 'On SIGTERM/SIGINT, the most the whole shutdown (drain, in-flight requests, running jobs) may take; then the process exits 0 regardless.',
  }),
  SHUTDOWN_DRAIN_MS: T.Integer({
    minimum: 0,
    maximum: 600_000,
    default: 1_000,
    description:
      'On SIGTERM/SIGINT, how long the API keeps serving with `/readyz` at `503` (responses say `Connection: close`) so load balancers move traffic away before the listener closes. Part of `SHUTDOWN_GRACE_MS`; `0` on platforms that stop routing before the signal (Cloud Run).',
  }),
  QUEUE_DRIVER: T.Union([T.Literal('sqlite'), T.Literal('memory'), T.Literal('postgres')], {
    default: 'sqlite',
    description:
      '`sqlite`: durable queue in `DATA_DIR`, one instance. `postgres`: durable queue in PostgreSQL shared by any number of instances (`DATABASE_URL` or `PG*`). `memory`: NOT durable, for development and tests only.',
  }),
  DATA_DIR: T.String({
    minLength: 1,
    default: './data',
    description: 'Directory holding the SQLite queue file (`queue.sqlite`), on a local disk; one pipewatch process per directory.',
  }),
  SQLITE_SYNCHRONOUS: T.Union([T.Literal('NORMAL'), T.Literal('FULL')], {
    default: 'NORMAL',
    description: '`NORMAL`: accepted jobs survive a process crash. `FULL`: they also survive power loss (slower).',
  }),
  SQLITE_THREAD: T.Union([T.Literal('event-loop'), T.Literal('worker')], {
    default: 'event-loop',
    description:
      '`event-loop`: sqlite calls run on the event loop (checkpoints in a worker). `worker`: every sqlite call runs on a thread of its own, so a stuck disk stalls the queue but not the API (`/healthz`, `/metrics`).',
  }),
  ...POSTGRES_SETTINGS,
  WORKER_CONCURRENCY: T.Integer({ minimum: 1, maximum: 1024, default: 8, description: 'Jobs processed at once.' }),
  FAILURE_RATE: T.Number({
    minimum: 0,
    maximum: 1,
    default: 0.1,
    description: 'Probability that one simulated processing attempt fails (the seed used 10%).',
  }),
  MAX_ATTEMPTS: T.Integer({ minimum: 1, maximum: 100, default: 5, description: 'Attempts before a job is dead-lettered as `failed`.' }),
  RETRY_BASE_MS: T.Integer({ minimum: 0, maximum: 3_600_000, default: 200, description: 'First retry backoff; doubles each attempt, with full jitter.' }),
  RETRY_MAX_MS: T.Integer({ minimum: 0, maximum: 86_400_000, default: 30_000, description: 'Upper bound of one retry backoff.' }),
  QUEUE_CAPACITY: T.Integer({
    minimum: 1,
    maximum: 100_000_000,
    default: 100_000,
    description: 'Unfinished jobs (queued + processing) at which `POST /submit_data` answers `503` with `Retry-After`.',
  }),
  LEASE_MS: T.Integer({
    minimum: 100,
    maximum: 3_600_000,
    default: 30_000,
    description:
      'The longest one processing attempt may take; past it the attempt is given up (`lease_expired`) and the job retried. Must exceed `PROCESSING_DELAY_MAX_MS`.',
  }),
  PROCESSING_DELAY_DISTRIBUTION: T.Union([T.Literal('uniform'), T.Literal('exponential'), T.Literal('fixed')], {
    default: 'uniform',
    description:
      'Shape of the simulated processing delay: `uniform` between MIN and MAX (the seed); `exponential` MIN plus a long tail with mean (MAX - MIN) / 4, capped at MAX; `fixed` always MIN.',
  }),
  PROCESSING_DELAY_MIN_MS: T.Number({ minimum: 0, maximum: 600_000, default: 10, description: 'Smallest simulated processing delay.' }),
  PROCESSING_DELAY_MAX_MS: T.Number({
    minimum: 0,
    maximum: 600_000,
    default: 100,
    description: 'Largest simulated processing delay (the seed: 10 to 100 ms).',
  }),
  RETENTION_MAX_AGE_S: T.Integer({ minimum: 1, maximum: 31_536_000, default: 86_400, description: 'Finished jobs older than this are pruned.' }),
  RETENTION_MAX_FINISHED: T.Integer({
    minimum: 1,
    maximum: 100_000_000,
    default: 100_000,
    description: 'At most this many finished jobs are kept (oldest pruned first).',
  }),
  ...TracingSettings,
});

export type Config = Static<typeof ConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads the environment into a validated Config, or throws one ConfigError naming the variable and the rule. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const raw: Record<string, string> = {};
  const converted: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(ConfigSchema.properties as Record<string, TSchema>)) {
    const given = env[key];
    if (given === undefined || given.trim() === '') continue;
    // Numbers are plain decimal text exactly (PORT=" 8000" is refused); other values are trimmed.
    const value = isNumeric(schema) ? given : given.trim();
    raw[key] = value;
    converted[key] = fromText(schema, value);
  }
  Value.Default(ConfigSchema, converted);
  const first = Value.Errors(ConfigSchema, converted).First();
  if (first) {
    const name = first.path.replace(/^\//, '') || 'configuration';
    const given = raw[name] === undefined ? 'unset' : SECRET_SETTINGS.has(name) ? '(hidden)' : JSON.stringify(raw[name]);
    throw new ConfigError(`invalid ${name}=${given}: ${describeRule(schemaAt(name), first.message)}`);
  }
  const config = converted as Config;
  if (config.METRICS_PORT !== undefined && config.METRICS_PORT !== 0 && config.METRICS_PORT === config.PORT) {
    throw new ConfigError('invalid METRICS_PORT: must differ from PORT (leave it unset to serve /metrics on PORT)');
  }
  if (config.SHUTDOWN_DRAIN_MS > config.SHUTDOWN_GRACE_MS) {
    throw new ConfigError('invalid SHUTDOWN_DRAIN_MS: must not exceed SHUTDOWN_GRACE_MS');
  }
  if (config.PROCESSING_DELAY_MIN_MS > config.PROCESSING_DELAY_MAX_MS) {
    throw new ConfigError('invalid PROCESSING_DELAY_MIN_MS: must not exceed PROCESSING_DELAY_MAX_MS');
  }
  if (config.RETRY_BASE_MS > config.RETRY_MAX_MS) {
    throw new ConfigError('invalid RETRY_BASE_MS: must not exceed RETRY_MAX_MS');
  }
  if (config.LEASE_MS <= config.PROCESSING_DELAY_MAX_MS) {
    // An attempt that outlives its lease is given up and retried: every slow attempt would be,
    // and dead-lettered after MAX_ATTEMPTS, without one processing error.
    throw new ConfigError('invalid LEASE_MS: must exceed PROCESSING_DELAY_MAX_MS (the longest attempt), or every slow job is retried as lease_expired');
  }
  if (config.QUEUE_DRIVER === 'postgres') {
    try {
      resolvePgTarget(config);
    } catch (error) {
      if (error instanceof PgTargetError) throw new ConfigError(error.message);
      throw error;
    }
  }
  try {
    tracingOptions(config);
  } catch (error) {
    if (error instanceof TracingSettingError) throw new ConfigError(error.message);
    throw error;
  }
  return config;
}

/** Settings whose value never appears in an error message. */
const SECRET_SETTINGS = new Set(['DATABASE_URL', 'PGPASSWORD']);

const INTEGER_TEXT = /^[+-]?\d+$/;
const NUMBER_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Numbers only from plain decimal text: TypeBox's Value.Convert would silently read
 * PORT=80.5 as 80, 1e3 as 1 and 0x50 as 80. Anything else stays a string and fails the schema.
 */
function isNumeric(schema: TSchema): boolean {
  return schema.type === 'integer' || schema.type === 'number';
}

function fromText(schema: TSchema, text: string): unknown {
  if (schema.type === 'integer') return INTEGER_TEXT.test(text) ? Number(text) : text;
  if (schema.type === 'number') return NUMBER_TEXT.test(text) ? Number(text) : text;
  return text;
}

function schemaAt(name: string): TSchema | undefined {
  return (ConfigSchema.properties as Record<string, TSchema>)[name];
}
