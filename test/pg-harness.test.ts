import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { statSync } from 'node:fs';
import { startPostgres, type PostgresCluster } from './support/postgres';
import { startTcpProxy } from './support/tcp-proxy';

// The PostgreSQL test harness itself: a real throw-away cluster, and the fault proxy in front of it.
let pg: PostgresCluster;
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(async () => {
  await pg?.destroy();
});

describe('test PostgreSQL cluster', () => {
  test('runs unprivileged on its own loopback port and socket dir, with password auth over TCP', async () => {
    expect(pg.port).not.toBe(5432);
    const [row] = await pg.query<{ port: string; sockets: string; user: string }>(
      "SELECT current_setting('port') AS port, current_setting('unix_socket_directories') AS sockets, current_user AS user",
    );
    expect(row).toEqual({ port: String(pg.port), sockets: pg.socketDir, user: 'postgres' });
    const owner = statSync(`/proc/${pg.pid()}`).uid;
    expect(owner).not.toBe(0);
    const wrong = new Bun.SQL({
      hostname: '127.0.0.1',
      port: pg.port,
      username: pg.user,
      password: 'wrong',
      database: 'postgres',
      max: 1,
      connectionTimeout: 5,
    });
    const error = await wrong`SELECT 1`.then(
      () => undefined,
      (e: { errno?: string }) => e,
    );
    await wrong.close();
    expect(error?.errno).toBe('28P01'); // invalid_password
  });

  test('stops by PID and starts again on the same port with its data', async () => {
    const db = await pg.createDatabase('harness');
    await pg.query('CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)', db);
    const pid = pg.pid()!;
    await pg.stop();
    expect(() => process.kill(pid, 0)).toThrow();
    await pg.start();
    expect(await pg.query('SELECT x FROM kept', db)).toEqual([{ x: 42 }]);
  }, 60_000);
});

describe('TCP proxy', () => {
  test('forwards queries, cuts every connection on demand, refuses new ones while asked', async () => {
    const proxy = startTcpProxy({ host: '127.0.0.1', port: pg.port });
    const sql = new Bun.SQL({
      hostname: '127.0.0.1',
      port: proxy.port,
      username: pg.user,
      password: pg.password,
      database: 'postgres',
      max: 2,
      connectionTimeout: 2,
    });
    try {
      const [big] = await sql`SELECT repeat('x', 1000000) AS s`;
      expect((big as { s: string }).s.length).toBe(1_000_000);
      expect(proxy.connections()).toBeGreaterThan(0);
      const pending = sql`SELECT pg_sleep(5)`.then(
        () => 'finished',
        (e: { code?: string }) => e.code,
      );
      await Bun.sleep(200);
      proxy.cutAll();
      expect(await pending).toBe('ERR_POSTGRES_CONNECTION_CLOSED');
      proxy.refuse(true);
      await Bun.sleep(20);
      expect(
        await sql`SELECT 1`.then(
          () => 'ok',
          (e: { code?: string }) => e.code,
        ),
      ).toStartWith('ERR_POSTGRES_CONNECTION');
      proxy.refuse(false);
      await Bun.sleep(20);
      expect(await sql`SELECT 1 AS x`).toEqual([{ x: 1 }] as never);
    } finally {
      await sql.close();
      proxy.stop();
    }
  }, 30_000);
});
