/**
 * Where the PostgreSQL queue lives: DATABASE_URL, or libpq's PG* variables, turned into Bun.SQL
 * options, plus a description of the target that never contains the password (for logs and
 * start-up errors).
 */

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

export interface PgSettings {
  DATABASE_URL?: string;
  PGHOST?: string;
  PGPORT?: number;
  PGUSER?: string;
  PGPASSWORD?: string;
  PGDATABASE?: string;
  PGSSLMODE?: SslMode;
}

export interface PgTarget {
  /** TCP host name, or undefined when `socketDir` is used. */
  hostname: string | undefined;
  /** Unix-socket directory (e.g. Cloud Run's /cloudsql/PROJECT:REGION:INSTANCE). */
  socketDir: string | undefined;
  port: number;
  username: string;
  password: string | undefined;
  database: string;
  sslMode: SslMode | undefined;
  /** Which setting named the target: `DATABASE_URL` or `PGHOST`. */
  source: 'DATABASE_URL' | 'PGHOST';
}

export class PgTargetError extends Error {
  override name = 'PgTargetError';
}

/** Replaces the password of a postgres URL (or any text containing one) with `***`. */
export function redactUrl(text: string): string {
  return text.replace(/(postgres(?:ql)?:\/\/[^:/?#@\s]*):[^@/?#\s]*@/gi, '$1:***@');
}

/**
 * Reads DATABASE_URL when set (its parts win), else the PG* variables. `?host=/dir` in the URL or a
 * PGHOST starting with `/` is a unix-socket directory. Throws PgTargetError naming the variable.
 */
export function resolvePgTarget(settings: PgSettings): PgTarget {
  if (settings.DATABASE_URL !== undefined) return fromUrl(settings.DATABASE_URL, settings);
  const host = settings.PGHOST ?? 'localhost';
  const username = settings.PGUSER ?? 'postgres';
  return {
    hostname: host.startsWith('/') ? undefined : host,
    socketDir: host.startsWith('/') ? host : undefined,
    port: settings.PGPORT ?? 5432,
    username,
    password: settings.PGPASSWORD,
    database: settings.PGDATABASE ?? username,
    sslMode: settings.PGSSLMODE,
    source: 'PGHOST',
  };
}

function fromUrl(text: string, settings: PgSettings): PgTarget {
  let url: URL;
  try {
    // libpq accepts an empty host (`postgres://u:p@/db?host=/socket/dir`); WHATWG URL does not.
    url = new URL(text.replace(/^(postgres(?:ql)?:\/\/[^/?#]*@)(?=[/?#]|$)/i, '$1localhost'));
  } catch {
    throw new PgTargetError('invalid DATABASE_URL: not a URL; expected postgres://USER:PASSWORD@HOST:PORT/DATABASE');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new PgTargetError(`invalid DATABASE_URL: scheme must be postgres:// or postgresql://, not ${url.protocol}//`);
  }
  const hostParam = url.searchParams.get('host') ?? undefined;
  const port = url.port === '' ? (settings.PGPORT ?? 5432) : Number(url.port);
  const sslParam = url.searchParams.get('sslmode') ?? undefined;
  if (sslParam !== undefined && !(SSL_MODES as readonly string[]).includes(sslParam)) {
    throw new PgTargetError(`invalid DATABASE_URL: sslmode must be one of ${SSL_MODES.join(', ')}`);
  }
  const username = decodeURIComponent(url.username) || settings.PGUSER || 'postgres';
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || settings.PGDATABASE || username;
  const socketDir = hostParam?.startsWith('/') ? hostParam : undefined;
  return {
    hostname: socketDir ? undefined : (hostParam ?? url.hostname.replace(/^\[(.*)\]$/, '$1')),
    socketDir,
    port,
    username,
    password: url.password === '' ? settings.PGPASSWORD : decodeURIComponent(url.password),
    database,
    sslMode: (sslParam as SslMode | undefined) ?? settings.PGSSLMODE,
    source: 'DATABASE_URL',
  };
}

/** `postgres://user@host:port/db` (or `…@/db?host=/dir`): the target without its password. */
export function describeTarget(target: PgTarget): string {
  const where = target.socketDir ? `/${target.database}?host=${target.socketDir}` : `${target.hostname}:${target.port}/${target.database}`;
  return target.socketDir ? `postgres://${target.username}@${where}` : `postgres://${target.username}@${where}`;
}

export interface PoolOptions {
  max: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  applicationName?: string;
}

/** Bun.SQL options for the target: every part explicit, so Bun reads no environment of its own. */
export function sqlOptions(target: PgTarget, pool: PoolOptions): Bun.SQL.PostgresOrMySQLOptions {
  return {
    adapter: 'postgres',
    ...(target.socketDir ? { path: target.socketDir, hostname: 'localhost' } : { hostname: target.hostname }),
    port: target.port,
    username: target.username,
    password: target.password ?? '',
    database: target.database,
    ...(target.sslMode && target.sslMode !== 'disable' ? { tls: target.sslMode } : { tls: false }),
    max: pool.max,
    connectionTimeout: Math.max(1, Math.ceil(pool.connectTimeoutMs / 1000)),
    idleTimeout: 60,
    // Bun.SQL has no per-query timeout: the server enforces one, and ends any transaction left
    // idle (a cut-off client) so that its row locks do not outlive it.
    connection: {
      application_name: pool.applicationName ?? 'pipewatch',
      statement_timeout: pool.statementTimeoutMs,
      idle_in_transaction_session_timeout: Math.max(1000, pool.statementTimeoutMs * 2),
      lock_timeout: pool.statementTimeoutMs,
      synchronous_commit: 'on',
    },
  };
}
