import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createLogger } from '../src/log';
import { createMetrics } from '../src/metrics';
import { JobQueue } from '../src/queue/engine';
import { resolvePgTarget } from '../src/db/connection';
import { createDatabaseMetrics } from '../src/metrics/database';
import type { CommitRequest, JobStore } from '../src/queue/store';
import { openPostgresStore, type PostgresStore, type PostgresStoreOptions } from '../src/queue/stores/postgres';
import { QueueStartError, QueueUnavailableError, type Submission } from '../src/queue/types';
import { startPostgres, type PostgresCluster } from './support/postgres';
import { REPO_ROOT } from './support/service';
import { startTcpProxy } from './support/tcp-proxy';

// What only a shared store has to prove, on a real PostgreSQL: several instances on one database
// at once (migrations, claims, lease recovery, retention, the leader lease) and database faults.
let pg: PostgresCluster;
const opened: JobStore[] = [];
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(async () => {
  for (const store of opened) await store.close().catch(() => {});
  await pg?.destroy();
});

function options(database: string, extra: Partial<PostgresStoreOptions> = {}): PostgresStoreOptions {
  return {
    target: resolvePgTarget({ DATABASE_URL: pg.url(database) }),
    pool: { max: 4, connectTimeoutMs: 2_000, statementTimeoutMs: 5_000 },
    startupWaitMs: 2_000,
    ...extra,
  };
}

async function open(database: string, extra: Partial<PostgresStoreOptions> = {}): Promise<PostgresStore> {
  const store = await openPostgresStore(options(database, extra));
  opened.push(store);
  return store;
}

const RECORD: Submission = { name: 'Ravi', age: 32, city: 'Delhi' };

function request(now: number, parts: Partial<CommitRequest>): CommitRequest {
  return { now, enqueue: [], settles: [], renew: [], claim: 0, leaseUntil: now + 30_000, ...parts };
}

function newJobs(n: number, record: Submission = RECORD) {
  return Array.from({ length: n }, () => ({ id: Bun.randomUUIDv7(), record, trace: null }));
}

describe('several instances on one database', () => {
  test('instances starting together migrate exactly once and share one queue id', async () => {
    const db = await pg.createDatabase();
    const migrated: string[][] = [];
    const stores = await Promise.all([1, 2, 3].map(() => open(db, { onMigrated: (steps) => migrated.push(steps) })));
    expect(migrated).toHaveLength(1);
    expect(new Set(stores.map((s) => s.queueId)).size).toBe(1);
    const [row] = await pg.query<{ value: string }>("SELECT value FROM pipewatch_meta WHERE key = 'schema_version'", db);
    expect(row?.value).toBe('1');
    const [settings] = await pg.query<{ reloptions: string[] }>("SELECT reloptions FROM pg_class WHERE relname = 'pipewatch_jobs'", db);
    expect(settings?.reloptions).toContain('autovacuum_vacuum_scale_factor=0.01');
  });

  test('a schema newer than this build is refused with one line', async () => {
    const db = await pg.createDatabase();
    await (await open(db)).close();
    await pg.query("UPDATE pipewatch_meta SET value = '99' WHERE key = 'schema_version'", db);
    const error = await openPostgresStore(options(db)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(QueueStartError);
    expect((error as Error).message).toMatch(/version 99, newer than this pipewatch understands \(1\)/);
    expect((error as Error).message).not.toContain(pg.password);
    expect((error as Error).message).not.toContain('\n');
  });

  test('concurrent claims from three instances never hand out one job twice', async () => {
    const db = await pg.createDatabase();
    const stores = await Promise.all([1, 2, 3].map(() => open(db)));
    const now = Date.now();
    await stores[0]!.commit(request(now, { enqueue: newJobs(300) }));
    const seen = new Map<number, number>();
    for (let round = 0; round < 20; round++) {
      const results = await Promise.all(stores.map((s) => s.commit(request(now + 1, { claim: 7 }))));
      for (const r of results) for (const job of r.claimed) seen.set(job.seq, (seen.get(job.seq) ?? 0) + 1);
    }
    expect(seen.size).toBe(300);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
  });

  test('an expired lease is recovered by another instance once, counted; the late settle is fenced out', async () => {
    const db = await pg.createDatabase();
    const [a, b, c] = await Promise.all([open(db), open(db), open(db)]);
    const now = Date.now();
    await a.commit(request(now, { enqueue: newJobs(5) }));
    const { claimed } = await a.commit(request(now, { claim: 5, leaseUntil: now + 1_000 }));
    expect(claimed).toHaveLength(5);
    // b and c find the leases expired at the same moment: each job recovered exactly once.
    const [rb, rc] = await Promise.all(
      [b, c].map((s) => s.recover({ leaseEndedBy: now + 1_000, now: now + 1_001, maxAttempts: 5, reason: 'lease_expired', limit: 100 })),
    );
    expect(rb!.requeued + rc!.requeued).toBe(5);
    const late = await a.commit(
      request(now + 1_002, { settles: claimed.map((j) => ({ kind: 'succeeded' as const, seq: j.seq, attempts: j.attempts, now: now + 1_002 })) }),
    );
    expect(late.applied).toEqual([false, false, false, false, false]);
    const again = await b.commit(request(now + 1_003, { claim: 5 }));
    expect(again.claimed.map((j) => j.attempts)).toEqual([2, 2, 2, 2, 2]);
    const status = await c.status(again.claimed[0]!.id);
    expect(status).toMatchObject({ status: 'processing', attempts: 2, lastError: 'lease_expired' });
  });

  test('renewal keeps a slow attempt; a released job is claimable at once without the attempt counted', async () => {
    const db = await pg.createDatabase();
    const [a, b] = await Promise.all([open(db), open(db)]);
    const now = Date.now();
    await a.commit(request(now, { enqueue: newJobs(2) }));
    const { claimed } = await a.commit(request(now, { claim: 2, leaseUntil: now + 1_000 }));
    const [slow, cut] = claimed as [(typeof claimed)[0], (typeof claimed)[0]];
    const renewed = await a.commit(request(now + 900, { renew: [{ seq: slow.seq, attempts: slow.attempts }], leaseUntil: now + 5_000 }));
    expect(renewed.renewed).toEqual([true]);
    expect((await b.recover({ leaseEndedBy: now + 2_000, now: now + 2_000, maxAttempts: 5, reason: 'lease_expired', limit: 10 })).requeued).toBe(1);
    const released = await a.commit(request(now + 2_100, { settles: [{ kind: 'release', seq: slow.seq, attempts: slow.attempts, now: now + 2_100 }] }));
    expect(released.applied).toEqual([true]);
    const next = await b.commit(request(now + 2_101, { claim: 5 }));
    expect(next.claimed.map((j) => [j.id, j.attempts]).sort()).toEqual(
      [
        [slow.id, 1],
        [cut.id, 2],
      ].sort(),
    );
  });

  test('retention from two instances at once deletes each finished job once', async () => {
    const db = await pg.createDatabase();
    const [a, b] = await Promise.all([open(db), open(db)]);
    const now = Date.now();
    await a.commit(request(now, { enqueue: newJobs(400) }));
    const { claimed } = await a.commit(request(now, { claim: 400 }));
    await a.commit(request(now + 1, { settles: claimed.map((j) => ({ kind: 'succeeded' as const, seq: j.seq, attempts: j.attempts, now: now + 1 })) }));
    let deleted = 0;
    for (let i = 0; i < 10; i++) {
      const results = await Promise.all([a, b].map((s) => s.prune({ excess: 0, finishedBefore: now + 10, limit: 50 })));
      for (const r of results) deleted += r.succeeded + r.failed;
    }
    expect(deleted).toBe(400);
    expect(await pg.query('SELECT count(*)::int AS n FROM pipewatch_jobs', db)).toEqual([{ n: 0 }]);
  });

  test('exactly one instance leads; the lease passes on when the leader stops', async () => {
    const db = await pg.createDatabase();
    const stores = await Promise.all([1, 2, 3].map(() => open(db, { leaderTtlMs: 3_000 })));
    const leaders = () => stores.filter((s) => s.leader.isLeader());
    expect(leaders()).toHaveLength(1);
    const stats = await Promise.all(stores.map((s) => s.stats()));
    expect(stats.filter((s) => s.leader)).toHaveLength(1);
    const first = leaders()[0]!;
    await first.close();
    const rest = stores.filter((s) => s !== first);
    const deadline = performance.now() + 10_000;
    while (rest.filter((s) => s.leader.isLeader()).length !== 1 && performance.now() < deadline) await Bun.sleep(20);
    expect(rest.filter((s) => s.leader.isLeader())).toHaveLength(1);
  });
});

describe('the engine on a shared store', () => {
  test('backpressure counts the whole queue: an instance refuses once others filled the shared capacity', async () => {
    const db = await pg.createDatabase();
    const engine = async () =>
      JobQueue.open(
        await open(db),
        {
          concurrency: 1,
          maxAttempts: 5,
          retryBaseMs: 0,
          retryMaxMs: 0,
          capacity: 20,
          leaseMs: 60_000,
          retentionMaxAgeMs: 86_400_000,
          retentionMaxFinished: 1_000,
          process: () => new Promise<void>(() => {}), // attempts never finish: the backlog stays
        },
        { metrics: createMetrics(), log: createLogger('silent') },
      );
    const [a, b] = [await engine(), await engine()];
    a.start();
    b.start();
    try {
      await Promise.all(Array.from({ length: 20 }, () => a.enqueue(RECORD)));
      // b learns the global backlog from its next poll (about once a second), not from its own counts.
      const deadline = performance.now() + 10_000;
      let refusal: unknown;
      while (!refusal && performance.now() < deadline) {
        refusal = await b.enqueue(RECORD).then(
          () => undefined,
          (e: unknown) => e,
        );
        if (!refusal) await Bun.sleep(100);
      }
      expect(refusal).toBeInstanceOf(QueueUnavailableError);
      expect((refusal as QueueUnavailableError).reason).toBe('capacity');
      const [row] = await pg.query<{ n: number }>('SELECT count(*)::int AS n FROM pipewatch_jobs WHERE state < 2', db);
      expect(row!.n).toBeGreaterThanOrEqual(20);
      expect(row!.n).toBeLessThan(40); // b stopped accepting within about one poll
    } finally {
      await Promise.all([a.stop(0), b.stop(0)]);
      await Promise.all([a.close(), b.close()]);
    }
  }, 30_000);
});

describe('table health', () => {
  test('claims, lease recovery, backlog counts, the oldest job and retention each use their partial index', async () => {
    const db = await pg.createDatabase();
    const store = await open(db);
    const now = Date.now();
    for (let i = 0; i < 20; i++) await store.commit(request(now, { enqueue: newJobs(1000) }));
    // Mostly finished rows, as in a healthy queue: the hot lookups must not scan them.
    await pg.query(`UPDATE pipewatch_jobs SET state = 2, finished_at = ${now} WHERE seq % 50 <> 0`, db);
    await pg.query('UPDATE pipewatch_jobs SET state = 1 WHERE seq % 100 = 0', db);
    await pg.query('VACUUM ANALYZE pipewatch_jobs', db);
    const plan = async (query: string) => (await pg.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${query}`, db)).map((r) => r['QUERY PLAN']).join('\n');
    expect(await plan(`SELECT seq FROM pipewatch_jobs WHERE state = 0 AND run_at <= ${now} ORDER BY run_at, seq LIMIT 8 FOR UPDATE SKIP LOCKED`)).toContain(
      'using pipewatch_jobs_due',
    );
    expect(await plan(`SELECT seq FROM pipewatch_jobs WHERE state = 1 AND run_at <= ${now} ORDER BY run_at LIMIT 100 FOR UPDATE SKIP LOCKED`)).toContain(
      'using pipewatch_jobs_leased',
    );
    expect(await plan('SELECT created_at FROM pipewatch_jobs WHERE state < 2 ORDER BY seq LIMIT 1')).toContain(
      'Index Only Scan using pipewatch_jobs_unfinished',
    );
    expect(await plan('SELECT count(*) FROM pipewatch_jobs WHERE state = 0')).toContain('using pipewatch_jobs_due');
    expect(
      await plan(`SELECT seq FROM pipewatch_jobs WHERE state >= 2 AND finished_at < ${now + 1} ORDER BY finished_at LIMIT 100 FOR UPDATE SKIP LOCKED`),
    ).toContain('using pipewatch_jobs_finished');
    expect(await store.oldestUnfinishedCreatedAt()).toBe(now);
  }, 30_000);
});

describe('connections', () => {
  test("a unix-socket directory as the host (as Cloud Run's /cloudsql/…), from DATABASE_URL and from PGHOST", async () => {
    const db = await pg.createDatabase();
    for (const settings of [
      { DATABASE_URL: `postgres://${pg.user}@/${db}?host=${pg.socketDir}`, PGPORT: pg.port },
      { PGHOST: pg.socketDir, PGPORT: pg.port, PGUSER: pg.user, PGDATABASE: db },
    ]) {
      const store = await openPostgresStore({ ...options(db), target: resolvePgTarget(settings) });
      opened.push(store);
      await store.commit(request(Date.now(), { enqueue: newJobs(1) }));
      const [row] = await pg.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pipewatch' AND client_addr IS NULL AND backend_type = 'client backend'",
      );
      expect(row!.n).toBeGreaterThan(0); // connected over the socket: no client address
      await store.close();
    }
    expect(await pg.query('SELECT count(*)::int AS n FROM pipewatch_jobs', db)).toEqual([{ n: 2 }]);
  });
});

describe('records and statuses', () => {
  test('every script of the load-test payload file round-trips unchanged, with its trace', async () => {
    const db = await pg.createDatabase();
    const store = await open(db);
    const lines = readFileSync(join(REPO_ROOT, 'artillery/payloads/people.csv'), 'utf8').trim().split('\n').slice(1);
    const records = lines.map((line) => {
      const [name, age, city] = line.split(',');
      return { name: name!, age: Number(age), city: city! };
    });
    records.push({ name: 'O\'Brien "\\" 😀', age: 0, city: '{"not":"json"}' });
    const now = Date.now();
    const jobs = records.map((record, i) => ({ id: Bun.randomUUIDv7(), record, trace: i % 2 ? `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` : null }));
    await store.commit(request(now, { enqueue: jobs }));
    const { claimed } = await store.commit(request(now, { claim: jobs.length }));
    const byId = new Map(claimed.map((j) => [j.id, j]));
    for (const job of jobs) {
      expect(byId.get(job.id)?.record).toEqual(job.record);
      expect(byId.get(job.id)?.trace).toBe(job.trace);
    }
    const [kind] = await pg.query<{ t: string }>('SELECT DISTINCT jsonb_typeof(payload) AS t FROM pipewatch_jobs', db);
    expect(kind?.t).toBe('object'); // stored as JSON objects, not double-encoded strings
  });

  test('status of an unknown or malformed id is undefined, without a database error', async () => {
    const db = await pg.createDatabase();
    const store = await open(db);
    expect(await store.status(Bun.randomUUIDv7())).toBeUndefined();
    expect(await store.status("x' OR 1=1 --")).toBeUndefined();
    expect(await store.status('')).toBeUndefined();
  });
});

describe('database faults', () => {
  test('unreachable at start: retries for startupWaitMs, then one line naming the variable, no password', async () => {
    const started = performance.now();
    const error = await openPostgresStore({
      target: resolvePgTarget({ DATABASE_URL: `postgres://postgres:${pg.password}@127.0.0.1:1/nowhere` }),
      pool: { max: 2, connectTimeoutMs: 500, statementTimeoutMs: 1_000 },
      startupWaitMs: 1_500,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(QueueStartError);
    const message = (error as Error).message;
    expect(message).toContain('DATABASE_URL');
    expect(message).toContain('postgres://postgres@127.0.0.1:1/nowhere');
    expect(message).not.toContain(pg.password);
    expect(elapsed).toBeGreaterThanOrEqual(1_400);
    expect(elapsed).toBeLessThan(10_000);
  });

  test('a wrong password fails at once (waiting would not fix it), naming the variable, without the password', async () => {
    const started = performance.now();
    const error = await openPostgresStore({
      target: resolvePgTarget({ DATABASE_URL: pg.url().replace(encodeURIComponent(pg.password), 'not-the-password') }),
      pool: { max: 2, connectTimeoutMs: 1_000, statementTimeoutMs: 1_000 },
      startupWaitMs: 20_000,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(error).toBeInstanceOf(QueueStartError);
    expect((error as Error).message).toContain('SQLSTATE 28P01');
    expect((error as Error).message).toContain('DATABASE_URL');
    expect((error as Error).message).not.toContain('not-the-password');
  });

  test('a role with only read/write privileges on the queue tables starts on a migrated database', async () => {
    const db = await pg.createDatabase();
    await (await open(db)).close();
    await pg.query("CREATE ROLE queue_rw LOGIN PASSWORD 'rw-secret'");
    await pg.query(
      `REVOKE CREATE ON SCHEMA public FROM PUBLIC; GRANT USAGE ON SCHEMA public TO queue_rw;
      GRANT SELECT, INSERT, UPDATE, DELETE ON pipewatch_jobs, pipewatch_meta, pipewatch_leader TO queue_rw`,
      db,
    );
    const store = await openPostgresStore({
      target: resolvePgTarget({ DATABASE_URL: `postgres://queue_rw:rw-secret@127.0.0.1:${pg.port}/${db}` }),
      pool: { max: 2, connectTimeoutMs: 2_000, statementTimeoutMs: 2_000 },
      startupWaitMs: 2_000,
    });
    opened.push(store);
    const now = Date.now();
    await store.commit(request(now, { enqueue: newJobs(1) }));
    expect((await store.commit(request(now, { claim: 1 }))).claimed).toHaveLength(1);
    expect((await store.stats()).leader).toBe(true);
  });

  test('a network gone silent (no RST, no answer): the commit rejects within the bound, then recovers', async () => {
    const db = await pg.createDatabase();
    const proxy = startTcpProxy({ host: '127.0.0.1', port: pg.port });
    let store: PostgresStore | undefined;
    try {
      const target = { ...resolvePgTarget({ DATABASE_URL: pg.url(db) }), port: proxy.port };
      store = await openPostgresStore({ target, pool: { max: 2, connectTimeoutMs: 500, statementTimeoutMs: 1_000 }, startupWaitMs: 2_000 });
      proxy.stall(true);
      const started = performance.now();
      const error = await store.commit(request(Date.now(), { enqueue: newJobs(3) })).then(
        () => undefined,
        (e: unknown) => e,
      );
      const elapsed = performance.now() - started;
      expect((error as Error | undefined)?.name).toBe('DatabaseTimeoutError');
      expect(elapsed).toBeLessThan(store.db.operationTimeoutMs + 3_000); // generous: timers run late on a loaded machine
      expect(store.healthy()).toBe(false);
      proxy.stall(false);
      proxy.cutAll(); // the stalled connections are dead to the client: drop them
      let ok = false;
      for (let i = 0; i < 50 && !ok; i++) {
        ok = await store.commit(request(Date.now(), { enqueue: newJobs(1) })).then(
          () => true,
          () => false,
        );
        if (!ok) await Bun.sleep(50);
      }
      expect(ok).toBe(true);
    } finally {
      await store?.close();
      proxy.stop();
    }
  }, 30_000);

  test('connections cut and refused: the commit rejects in bounded time, nothing half-written, then it recovers by itself', async () => {
    const db = await pg.createDatabase();
    const proxy = startTcpProxy({ host: '127.0.0.1', port: pg.port });
    const registry = new Registry();
    let store: PostgresStore | undefined;
    try {
      const target = { ...resolvePgTarget({ DATABASE_URL: pg.url(db) }), port: proxy.port };
      const metrics = createDatabaseMetrics(registry);
      store = await openPostgresStore({ target, pool: { max: 4, connectTimeoutMs: 1_000, statementTimeoutMs: 2_000 }, startupWaitMs: 2_000, metrics });
      expect(await registry.metrics()).toMatch(/pipewatch_db_up 1/);
      expect(await registry.metrics()).toMatch(/pipewatch_db_pool_max_connections 4/);
      expect(await registry.metrics()).toMatch(/pipewatch_db_query_duration_seconds_count\{operation="migrate"\} 1/);
      const now = Date.now();
      await store.commit(request(now, { enqueue: newJobs(10) }));
      proxy.refuse(true);
      proxy.cutAll();
      const started = performance.now();
      const error = await store.commit(request(now, { enqueue: newJobs(10) })).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeDefined();
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(store.healthy()).toBe(false);
      const statusError = await store.status(Bun.randomUUIDv7()).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(statusError).toBeInstanceOf(QueueUnavailableError);
      const text = await registry.metrics();
      expect(text).toMatch(/pipewatch_db_up 0/);
      expect(text).toMatch(/pipewatch_db_errors_total\{sqlstate_class="connection"\} [1-9]/);
      proxy.refuse(false);
      let ok = false;
      for (let i = 0; i < 50 && !ok; i++) {
        ok = await store.commit(request(Date.now(), { enqueue: newJobs(1) })).then(
          () => true,
          () => false,
        );
        if (!ok) await Bun.sleep(50);
      }
      expect(ok).toBe(true);
      expect(store.healthy()).toBe(true);
      expect(await registry.metrics()).toMatch(/pipewatch_db_up 1/);
      const [count] = await pg.query<{ n: number }>('SELECT count(*)::int AS n FROM pipewatch_jobs', db);
      expect([11, 21]).toContain(count!.n); // the cut batch: all or nothing, never part
    } finally {
      await store?.close();
      proxy.stop();
    }
  }, 30_000);
});
