import { describe, expect, test } from 'bun:test';
import { pgFleet, unfinished } from './support/pg-fleet';
import { runLoad, waitFor, type Answer } from './support/pg-load';
import { startTcpProxy } from './support/tcp-proxy';

// The database goes away under load: stopped for a few seconds, or every connection cut by a
// proxy. Submissions get 503 + Retry-After within a bounded time (never 500, never a hang),
// /readyz says not ready, and everything recovers without a restart; no 202 is lost.
const fleet = pgFleet();

const ENV = {
  WORKER_CONCURRENCY: '8',
  PROCESSING_DELAY_MIN_MS: '5',
  PROCESSING_DELAY_MAX_MS: '20',
  FAILURE_RATE: '0',
  PG_CONNECT_TIMEOUT_MS: '1000',
  PG_STATEMENT_TIMEOUT_MS: '2000',
};

/**
 * Every answer is a 202 or a 503 storage refusal with a short Retry-After (the database is back
 * in seconds: 30 s, the engine's default for a full disk, would idle clients long after it), and
 * none took longer than the bound.
 */
function expectOnlyDocumented(answers: Answer[], boundMs: number): void {
  const odd = answers.filter((a) => a.status !== 202 && !(a.status === 503 && /^\d+$/.test(a.retryAfter ?? '') && Number(a.retryAfter) <= 5));
  expect(odd.map((a) => `${a.status} ${a.detail ?? ''}`)).toEqual([]);
  expect(Math.max(...answers.map((a) => a.ms))).toBeLessThan(boundMs);
}

async function readyz(url: string): Promise<number> {
  return (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5_000) })).status;
}

describe('database faults', () => {
  test('PostgreSQL stopped for a few seconds mid-load', async () => {
    const db = await fleet.database();
    const service = await fleet.start(db.url, ENV);
    try {
      let done = false;
      const load = runLoad({ targets: () => [service.url], concurrency: 4, total: 100_000, until: () => done, pauseMs: 10, timeoutMs: 10_000 });
      await Bun.sleep(700);
      await fleet.pg().stop();
      const downAt = performance.now();
      // Polled, not slept: on a loaded machine the first failing round trip may come late.
      expect(await waitFor(async () => (await readyz(service.url)) === 503, 8_000)).toBe(true);
      expect(await (await fetch(`${service.url}/readyz`, { signal: AbortSignal.timeout(5_000) })).json()).toEqual({ status: 'storage-unavailable' });
      const status = await fetch(`${service.url}/submissions/${Bun.randomUUIDv7()}`, { signal: AbortSignal.timeout(5_000) });
      expect(status.status).toBe(503);
      await Bun.sleep(Math.max(0, 3_000 - (performance.now() - downAt)));
      await fleet.pg().start();
      const upAt = performance.now();
      expect(await waitFor(async () => (await readyz(service.url)) === 200, 10_000)).toBe(true);
      await Bun.sleep(700);
      done = true;
      const answers = await load;

      expectOnlyDocumented(answers, 10_000);
      expect(answers.filter((a) => a.status === 503).length).toBeGreaterThan(0);
      const accepted = answers.filter((a) => a.status === 202).map((a) => a.id!);
      expect(answers.filter((a) => a.status === 202 && a.ms >= 0).length).toBe(accepted.length);
      expect(performance.now() - upAt).toBeLessThan(15_000);
      let jobs = await fleet.jobs(db.name);
      expect(await waitFor(async () => unfinished(accepted, (jobs = await fleet.jobs(db.name))).length === 0, 20_000, 250)).toBe(true);
      expect(accepted.every((id) => jobs.has(id))).toBe(true);
      expect(service.process.exitCode).toBeNull(); // recovered by itself, no restart
    } finally {
      if (fleet.pg().pid() === undefined) await fleet.pg().start();
    }
  }, 90_000);

  test('every connection cut by a TCP proxy, and new ones refused for a while', async () => {
    const proxy = startTcpProxy({ host: '127.0.0.1', port: fleet.pg().port });
    try {
      const db = await fleet.database(proxy.port);
      const service = await fleet.start(db.url, ENV);
      let done = false;
      const load = runLoad({ targets: () => [service.url], concurrency: 4, total: 100_000, until: () => done, pauseMs: 10, timeoutMs: 10_000 });
      await Bun.sleep(700);
      // Cut repeatedly while connections come back, then refuse for 2 s.
      for (let i = 0; i < 5; i++) {
        proxy.cutAll();
        await Bun.sleep(150);
      }
      proxy.refuse(true);
      proxy.cutAll();
      const refusedAt = performance.now();
      expect(await waitFor(async () => (await readyz(service.url)) === 503, 8_000)).toBe(true);
      // Refuse for longer than one round trip's bound (connect 1 s + statement 2 s + 1 s), however
      // quickly readiness noticed: a commit that waits on the pool's reconnect must fail inside the
      // window (with a 2 s window it waited it out on a quiet machine and every answer was a 202).
      await Bun.sleep(Math.max(500, 5_000 - (performance.now() - refusedAt)));
      proxy.refuse(false);
      expect(await waitFor(async () => (await readyz(service.url)) === 200, 10_000)).toBe(true);
      await Bun.sleep(700);
      done = true;
      const answers = await load;

      expectOnlyDocumented(answers, 10_000);
      expect(answers.filter((a) => a.status === 503).length).toBeGreaterThan(0);
      const accepted = answers.filter((a) => a.status === 202).map((a) => a.id!);
      let jobs = await fleet.jobs(db.name);
      expect(await waitFor(async () => unfinished(accepted, (jobs = await fleet.jobs(db.name))).length === 0, 20_000, 250)).toBe(true);
      expect(accepted.every((id) => jobs.has(id))).toBe(true);
      expect(service.process.exitCode).toBeNull();
    } finally {
      proxy.stop();
    }
  }, 90_000);
});
