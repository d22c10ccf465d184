import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';

/**
 * Test harness for a real PostgreSQL from Debian's `postgresql` package: one throw-away cluster
 * (initdb) in a temp dir, on a free loopback port with its own unix-socket dir, run as an
 * unprivileged user (the package's `postgres` user when the tests run as root, else ourselves),
 * stopped by PID after the tests and on process exit. The system cluster on 5432 that installing
 * the package starts is never used. Missing binaries fail loudly, never skip.
 */

const INSTALL_HINT = "install Debian's `postgresql` package (`apt-get install postgresql`) or run `bash test/support/install-system-deps.sh`";

/** PostgreSQL's binaries: the newest /usr/lib/postgresql/<major>/bin that has all three. */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((name) => /^\d+$/.test(name))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const major of majors) {
    const bin = join(root, major, 'bin');
    if (['initdb', 'pg_ctl', 'postgres'].every((name) => existsSync(join(bin, name)))) return bin;
  }
  throw new Error(`no PostgreSQL server binaries under ${root}/*/bin: the PostgreSQL tests run a real server; ${INSTALL_HINT}`);
}

export interface PostgresOptions {
  /**
   * fsync the WAL (default false: tests prove protocol, not disks, and a 2-core machine shared
   * with other test files should not wait on fsync). Benchmarks pass true for honest figures.
   */
  fsync?: boolean;
  maxConnections?: number;
  startTimeoutMs?: number;
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string | number>;
}

export interface PostgresCluster {
  host: '127.0.0.1';
  port: number;
  /** Directory holding the server's unix socket (connect with host=<this dir>). */
  socketDir: string;
  user: string;
  password: string;
  /** postgres://user:password@127.0.0.1:port/<database> (default database `postgres`). */
  url(database?: string): string;
  /** libpq variables for that database over TCP. */
  env(database?: string): Record<string, string>;
  /** Creates a fresh empty database and returns its name. */
  createDatabase(prefix?: string): Promise<string>;
  /** Runs one statement as the superuser (test set-up and checks), returning its rows. */
  query<T = Record<string, unknown>>(text: string, database?: string): Promise<T[]>;
  /** PID of the running postmaster, or undefined while stopped. */
  pid(): number | undefined;
  /** Fast shutdown of the server (connections cut); the data dir is kept for `start()`. */
  stop(): Promise<void>;
  /** Starts the server again on the same port and data dir. */
  start(): Promise<void>;
  /** Stops the server and removes its temp dir. */
  destroy(): Promise<void>;
  /** The server's log so far. */
  log(): string;
}

const alive = new Set<Subprocess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // SIGQUIT = immediate shutdown: the postmaster ends its backends and exits at once.
  process.on('exit', () => {
    for (const proc of alive) proc.kill('SIGQUIT');
  });
}

/** A loopback port that was free a moment ago. */
export function freePort(): number {
  const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

/** Runs a program as the cluster's user: `postgres` via setpriv when we are root, else ourselves. */
function asClusterUser(argv: string[]): string[] {
  if (process.getuid?.() !== 0) return argv;
  return ['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', '--', ...argv];
}

function clusterOwner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = Bun.spawnSync(['id', '-u', 'postgres']);
  const group = Bun.spawnSync(['id', '-g', 'postgres']);
  if (passwd.exitCode !== 0 || group.exitCode !== 0) {
    throw new Error(`running as root but there is no \`postgres\` system user to run the test cluster as; ${INSTALL_HINT}`);
  }
  return { uid: Number(passwd.stdout.toString().trim()), gid: Number(group.stdout.toString().trim()) };
}

/** initdb + start a throw-away cluster. Always `destroy()` it (afterAll); it is also killed on process exit. */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresCluster> {
  const bin = postgresBinDir();
  installExitHook();
  const owner = clusterOwner();
  const root = mkdtempSync(join(tmpdir(), 'pipewatch-pg-'));
  const dataDir = join(root, 'data');
  const socketDir = join(root, 'sock');
  mkdirSync(socketDir, { mode: 0o700 });
  const user = 'postgres';
  const password = `test-${crypto.randomUUID()}`;
  const pwfile = join(root, 'pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (owner) for (const path of [root, socketDir, pwfile]) chownSync(path, owner.uid, owner.gid);

  // Password auth over TCP (what the service uses), trust over the private socket dir.
  const init = Bun.spawnSync(
    asClusterUser([
      join(bin, 'initdb'),
      '-D',
      dataDir,
      '-U',
      user,
      `--pwfile=${pwfile}`,
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
      '--no-instructions',
    ]),
    { stdout: 'pipe', stderr: 'pipe', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' } },
  );
  if (init.exitCode !== 0) {
    rmSync(root, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.exitCode}): ${init.stderr.toString()}`);
  }

  const port = freePort();
  const fsync = options.fsync ?? false;
  const settings: Record<string, string | number> = {
    listen_addresses: '127.0.0.1',
    port,
    unix_socket_directories: socketDir,
    max_connections: options.maxConnections ?? 100,
    shared_buffers: '64MB',
    fsync: fsync ? 'on' : 'off',
    full_page_writes: fsync ? 'on' : 'off',
    synchronous_commit: 'on',
    logging_collector: 'off',
    log_min_messages: 'warning',
    ...options.settings,
  };
  const args = [join(bin, 'postgres'), '-D', dataDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  let proc: Subprocess | undefined;
  let serverLog = '';

  const launch = async () => {
    const child = Bun.spawn(asClusterUser(args), { stdout: 'pipe', stderr: 'pipe', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' } });
    proc = child;
    alive.add(child);
    void child.exited.then(() => alive.delete(child));
    const drain = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream) serverLog += new TextDecoder().decode(chunk);
    };
    void drain(child.stdout as ReadableStream<Uint8Array>);
    void drain(child.stderr as ReadableStream<Uint8Array>);
    const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`postgres exited during start-up:\n${serverLog}`);
      if (await acceptsQueries(port, user, password)) return;
      if (Date.now() > deadline) {
        child.kill('SIGQUIT');
        throw new Error(`postgres did not accept connections within ${options.startTimeoutMs ?? 30_000} ms:\n${serverLog}`);
      }
      await Bun.sleep(50);
    }
  };

  const url = (database = 'postgres') => `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  const query = async <T>(text: string, database = 'postgres'): Promise<T[]> => {
    const sql = new Bun.SQL({ url: url(database), max: 1, idleTimeout: 1, connectionTimeout: 5 });
    try {
      return [...((await sql.unsafe(text)) as T[])];
    } finally {
      await sql.close();
    }
  };
  const stop = async () => {
    const child = proc;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGINT'); // fast shutdown: clients cut, data kept
    const done = await Promise.race([child.exited.then(() => true), Bun.sleep(15_000).then(() => false)]);
    if (!done) {
      child.kill('SIGQUIT');
      await child.exited;
    }
    proc = undefined;
  };

  try {
    await launch();
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
  let databases = 0;
  return {
    host: '127.0.0.1',
    port,
    socketDir,
    user,
    password,
    url,
    env: (database = 'postgres') => ({ PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: user, PGPASSWORD: password, PGDATABASE: database }),
    createDatabase: async (prefix = 'pipewatch') => {
      const name = `${prefix}_${process.pid}_${++databases}`;
      await query(`CREATE DATABASE ${name}`);
      return name;
    },
    query,
    pid: () => proc?.pid,
    stop,
    start: launch,
    destroy: async () => {
      await stop();
      rmSync(root, { recursive: true, force: true });
    },
    log: () => serverLog,
  };
}

async function acceptsQueries(port: number, user: string, password: string): Promise<boolean> {
  const sql = new Bun.SQL({ hostname: '127.0.0.1', port, username: user, password, database: 'postgres', max: 1, connectionTimeout: 2, idleTimeout: 1 });
  try {
    await sql`SELECT 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.close().catch(() => {});
  }
}
