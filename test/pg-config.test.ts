import { describe, expect, test } from 'bun:test';
import { ConfigError, loadConfig } from '../src/config';
import { describeTarget, redactUrl, resolvePgTarget } from '../src/db/connection';
import { freePort } from './support/postgres';
import { REPO_ROOT } from './support/service';

// QUEUE_DRIVER=postgres settings: validated at start like every other, the password never shown.
describe('PostgreSQL connection settings', () => {
  test('DATABASE_URL gives host, port, role, password, database and sslmode', () => {
    const target = resolvePgTarget({ DATABASE_URL: 'postgresql://queue:s%40cret@db.internal:6543/pipewatch?sslmode=require' });
    expect(target).toEqual({
      hostname: 'db.internal',
      socketDir: undefined,
      port: 6543,
      username: 'queue',
      password: 's@cret',
      database: 'pipewatch',
      sslMode: 'require',
      source: 'DATABASE_URL',
    });
    expect(describeTarget(target)).toBe('postgres://queue@db.internal:6543/pipewatch');
  });

  test('a unix-socket directory from ?host= (Cloud Run /cloudsql) or from PGHOST', () => {
    const url = resolvePgTarget({ DATABASE_URL: 'postgres://queue:pw@/pipewatch?host=/cloudsql/proj:europe-west1:db' });
    expect(url).toMatchObject({ hostname: undefined, socketDir: '/cloudsql/proj:europe-west1:db', username: 'queue', password: 'pw', database: 'pipewatch' });
    const env = resolvePgTarget({ PGHOST: '/cloudsql/proj:europe-west1:db', PGUSER: 'queue', PGPASSWORD: 'pw' });
    expect(env).toMatchObject({ socketDir: '/cloudsql/proj:europe-west1:db', port: 5432, database: 'queue', source: 'PGHOST' });
    expect(describeTarget(env)).not.toContain('pw');
  });

  test('PG* variables with libpq defaults', () => {
    expect(resolvePgTarget({})).toMatchObject({ hostname: 'localhost', port: 5432, username: 'postgres', database: 'postgres', password: undefined });
    expect(loadConfig({ QUEUE_DRIVER: 'postgres', PGPORT: '5433', PG_POOL_MAX: '4' })).toMatchObject({
      PGPORT: 5433,
      PG_POOL_MAX: 4,
      PG_STARTUP_WAIT_MS: 30_000,
    });
  });

  test('bad values fail with one line naming the variable, never showing the URL or password', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ QUEUE_DRIVER: 'postgres', DATABASE_URL: 'mysql://u:hunter2@h/db' }, 'invalid DATABASE_URL: scheme must be postgres:// or postgresql://'],
      [{ QUEUE_DRIVER: 'postgres', DATABASE_URL: 'postgres://u:hunter2@h/db?sslmode=maybe' }, 'invalid DATABASE_URL: sslmode must be one of'],
      [{ QUEUE_DRIVER: 'postgres', DATABASE_URL: 'not a url hunter2' }, 'invalid DATABASE_URL: not a URL'],
      [{ QUEUE_DRIVER: 'postgres', PGSSLMODE: 'hunter2' }, 'invalid PGSSLMODE="hunter2"'],
      [{ QUEUE_DRIVER: 'postgres', PG_POOL_MAX: '1' }, 'invalid PG_POOL_MAX="1": must be an integer from 2 to 1000'],
      [{ QUEUE_DRIVER: 'postgres', PG_STATEMENT_TIMEOUT_MS: '5s' }, 'invalid PG_STATEMENT_TIMEOUT_MS="5s"'],
    ];
    for (const [env, message] of cases) {
      let error: unknown;
      try {
        loadConfig(env);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toStartWith(message);
      expect((error as Error).message).not.toContain('\n');
      if (!env.PGSSLMODE) expect((error as Error).message).not.toContain('hunter2');
    }
  });

  test('redactUrl hides passwords in any text', () => {
    expect(redactUrl('connect postgres://queue:s3cret@db:5432/x failed')).toBe('connect postgres://queue:***@db:5432/x failed');
    expect(redactUrl('postgresql://a@b/c')).toBe('postgresql://a@b/c');
  });
});

describe('a real process with an unreachable database', () => {
  for (const [variable, env] of [
    ['DATABASE_URL', (port: number) => ({ DATABASE_URL: `postgres://queue:hunter2@127.0.0.1:${port}/pipewatch` })],
    ['PGHOST', (port: number) => ({ PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'queue', PGPASSWORD: 'hunter2' })],
  ] as const) {
    test(`retries for PG_STARTUP_WAIT_MS, then exits 1 with one line naming ${variable}, never the password`, async () => {
      const started = performance.now();
      const proc = Bun.spawn([process.execPath, 'src/main.ts'], {
        cwd: REPO_ROOT,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOST: '127.0.0.1',
          PORT: '0',
          QUEUE_DRIVER: 'postgres',
          PG_STARTUP_WAIT_MS: '1200',
          PG_CONNECT_TIMEOUT_MS: '500',
          ...env(freePort()),
        },
        stdout: 'pipe',
        stderr: 'pipe',
      });
      const code = await proc.exited;
      const elapsed = performance.now() - started;
      const stderr = await new Response(proc.stderr).text();
      const stdout = await new Response(proc.stdout).text();
      expect(code).toBe(1);
      expect(elapsed).toBeGreaterThanOrEqual(1_100);
      expect(elapsed).toBeLessThan(15_000);
      const lines = stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toStartWith('pipewatch: cannot connect to the PostgreSQL queue at postgres://queue@127.0.0.1:');
      expect(lines[0]).toContain(`named by ${variable}`);
      expect(stderr + stdout).not.toContain('hunter2');
      // The retries were logged as warnings while it waited.
      expect(stdout).toContain('PostgreSQL not reachable yet; retrying');
    }, 30_000);
  }
});

describe('README database metrics table', () => {
  test('names every pipewatch_db_* metric with its type and labels', async () => {
    const { readFileSync } = await import('node:fs');
    const { Registry } = await import('prom-client');
    const { createDatabaseMetrics } = await import('../src/metrics/database');
    const readme = readFileSync(`${REPO_ROOT}/README.md`, 'utf8');
    const section = readme.slice(readme.indexOf('<!-- section:postgres -->'), readme.indexOf('<!-- /section:postgres -->'));
    const rows = new Map<string, string>();
    for (const line of section.split('\n')) {
      const m = /^\| `(pipewatch_db_[a-z_]+)` \| (\w+) \| ([^|]*) \|/.exec(line);
      if (m) rows.set(m[1]!, `${m[2]} ${m[3]!.trim().replaceAll('`', '')}`);
    }
    const registry = new Registry();
    createDatabaseMetrics(registry);
    const exposed = await registry.getMetricsAsJSON();
    const expected = new Map(
      exposed.map((m) => {
        const labels = ((registry.getSingleMetric(m.name) as unknown as { labelNames?: string[] }).labelNames ?? []).join(', ');
        return [m.name, `${m.type} ${labels || '—'}`];
      }),
    );
    expect(Object.fromEntries(rows)).toEqual(Object.fromEntries(expected));
  });
});
