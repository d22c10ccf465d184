import { describe, expect, test } from 'bun:test';
import { pgFleet, unfinished } from './support/pg-fleet';
import { runLoad, tally, waitFor, type Answer } from './support/pg-load';

// A rolling deploy of three real instances on one real PostgreSQL: each gets SIGTERM in turn
// under load and is replaced.
const fleet = pgFleet();

const ENV = {
  // Enough workers that the long attempts below keep up with the load.
  WORKER_CONCURRENCY: '64',
  // Some attempts outlast the grace period, so a stopping instance has leases to give back.
  PROCESSING_DELAY_DISTRIBUTION: 'uniform',
  PROCESSING_DELAY_MIN_MS: '20',
  PROCESSING_DELAY_MAX_MS: '2500',
  FAILURE_RATE: '0',
  SHUTDOWN_GRACE_MS: '1500',
  SHUTDOWN_DRAIN_MS: '300',
  // Long: a released job that waited for its lease to expire would blow the test's time bound.
  LEASE_MS: '120000',
};

describe('rolling restart', () => {
  test('each instance SIGTERMed in turn under load: no 202 lost, only the documented 503 draining, released leases picked up at once', async () => {
    const db = await fleet.database();
    const services = await Promise.all([0, 1, 2].map(() => fleet.start(db.url, ENV)));
    const targets: Array<string | undefined> = services.map((s) => s.url);
    let done = false;
    const load = runLoad({ targets: () => targets, concurrency: 2, total: 1_500, until: () => done, pauseMs: 20, timeoutMs: 10_000 });
    await Bun.sleep(500);
    const stopped: Array<{ code: number | null; output: string }> = [];
    let lastSigterm = 0;
    for (let i = 0; i < 3; i++) {
      lastSigterm = performance.now();
      const code = await services[i]!.stop('SIGTERM');
      stopped.push({ code, output: services[i]!.output() });
      targets[i] = undefined;
      services[i] = await fleet.start(db.url, ENV);
      targets[i] = services[i]!.url;
      await Bun.sleep(300);
    }
    done = true;
    const answers: Answer[] = await load;

    expect(stopped.map((s) => s.code)).toEqual([0, 0, 0]);
    const statuses = tally(answers);
    // 202; 503 only while draining (with Retry-After); 0 = the listener already closed.
    expect(Object.keys(statuses).filter((s) => !['202', '503', '0'].includes(s))).toEqual([]);
    for (const a of answers.filter((x) => x.status === 503)) {
      expect(a.retryAfter).toMatch(/^\d+$/);
      expect(a.detail).toContain('shutting down');
    }
    // The stopping instances gave running attempts back rather than leaving them leased.
    expect(stopped.some((s) => /"cut_off":[1-9]/.test(s.output))).toBe(true);

    const accepted = answers.filter((a) => a.status === 202).map((a) => a.id!);
    expect(accepted.length).toBeGreaterThan(100);
    // All finish long before LEASE_MS (120 s): released jobs were claimed again at once.
    let jobs = await fleet.jobs(db.name);
    expect(await waitFor(async () => unfinished(accepted, (jobs = await fleet.jobs(db.name))).length === 0, 20_000, 250)).toBe(true);
    expect(performance.now() - lastSigterm).toBeLessThan(30_000);
    for (const id of accepted) expect(jobs.get(id)?.state).toBe(2);
  }, 90_000);
});
