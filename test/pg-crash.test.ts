import { describe, expect, test } from 'bun:test';
import { pgFleet, unfinished } from './support/pg-fleet';
import { runLoad, tally, waitFor } from './support/pg-load';
import type { RunningService } from './support/service';

// Three real pipewatch processes on one real PostgreSQL; one is SIGKILLed mid-stream.
const fleet = pgFleet();

const ENV = {
  WORKER_CONCURRENCY: '8',
  PROCESSING_DELAY_MIN_MS: '20',
  PROCESSING_DELAY_MAX_MS: '80',
  FAILURE_RATE: '0.1',
  MAX_ATTEMPTS: '5',
  RETRY_BASE_MS: '20',
  RETRY_MAX_MS: '200',
  // Short, so the survivors take the dead instance's leases over within the test.
  LEASE_MS: '1500',
  LOG_LEVEL: 'debug',
};

/** `job attempt finished` debug lines with outcome succeeded, per job id, from one instance's log. */
function successesById(service: RunningService, into: Map<string, number>): void {
  for (const line of service.logs()) {
    if (line.msg === 'job attempt finished' && line.outcome === 'succeeded' && typeof line.job_id === 'string') {
      into.set(line.job_id, (into.get(line.job_id) ?? 0) + 1);
    }
  }
}

describe('multi-instance crash', () => {
  test('one of three instances SIGKILLed mid-stream: every 202 reaches a final state once, the same from every instance', async () => {
    const db = await fleet.database();
    const services = await Promise.all([0, 1, 2].map(() => fleet.start(db.url, ENV)));
    const targets: Array<string | undefined> = services.map((s) => s.url);
    let killed: Promise<unknown> | undefined;
    const answers = await runLoad({
      targets: () => targets,
      concurrency: 12,
      total: 900,
      timeoutMs: 10_000,
      onAnswer: (_, sent) => {
        if (sent === 300 && !killed) {
          targets[0] = undefined;
          killed = services[0]!.stop('SIGKILL');
        }
      },
    });
    await killed;
    const accepted = answers.filter((a) => a.status === 202).map((a) => a.id!);
    // Only 202s, and connection errors from the killed process: never a 5xx, never a hang.
    expect(Object.keys(tally(answers)).filter((s) => s !== '202' && s !== '0')).toEqual([]);
    expect(accepted.length).toBeGreaterThan(800);

    let jobs = await fleet.jobs(db.name);
    expect(await waitFor(async () => unfinished(accepted, (jobs = await fleet.jobs(db.name))).length === 0, 30_000, 250)).toBe(true);
    for (const id of accepted) expect(jobs.has(id)).toBe(true); // none lost
    // The dead instance's running attempts were taken over by the survivors, counted as failed attempts.
    expect([...jobs.values()].some((j) => j.last_error === 'lease_expired')).toBe(true);

    // Never two successes of one job without a recorded retry in between.
    const successes = new Map<string, number>();
    for (const service of services) successesById(service, successes);
    for (const [id, n] of successes) {
      if (n > 1) {
        const job = jobs.get(id)!;
        expect(job.attempts).toBeGreaterThanOrEqual(n);
        expect(job.last_error).not.toBeNull();
      }
    }
    expect(successes.size).toBeGreaterThan(0);

    // Exactly one survivor exports the shared queue's global gauges (the dead one may have led:
    // its lease runs out within its 5 s TTL), both report the database up.
    const leaderOf = async (s: RunningService) => {
      const text = await (await fetch(`${s.url}/metrics`)).text();
      expect(text).toMatch(/^pipewatch_db_up 1$/m);
      return Number(/^pipewatch_queue_leader\{[^}]*\} (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
    };
    expect(await waitFor(async () => (await leaderOf(services[1]!)) + (await leaderOf(services[2]!)) === 1, 15_000, 250)).toBe(true);

    // GET /submissions/{id} answers the same from both survivors.
    for (const id of accepted.filter((_, i) => i % 9 === 0)) {
      const [a, b] = await Promise.all(
        [services[1]!, services[2]!].map(async (s) => {
          const res = await fetch(`${s.url}/submissions/${id}`);
          return { status: res.status, body: await res.json() };
        }),
      );
      expect(a!.status).toBe(200);
      expect(b).toEqual(a!);
    }
  }, 90_000);
});
