import { expect, test } from 'bun:test';
import { FAST_QUEUE_ENV, STATE, readJobs, sample, scrape, waitUntilFinal } from './support/queue';
import { serviceFleet, submit } from './support/service';

/** Explicit per-test budget: these tests start real processes and wait for real work. */
const TIMEOUT_MS = 60_000;

/**
 * The durability promise end to end: a real server process is SIGKILLed while clients stream
 * submissions at it, then restarted on the same data dir.
 */
const ENV = {
  ...FAST_QUEUE_ENV,
  FAILURE_RATE: '0.2',
  MAX_ATTEMPTS: '4',
  PROCESSING_DELAY_DISTRIBUTION: 'uniform',
  PROCESSING_DELAY_MIN_MS: '5',
  PROCESSING_DELAY_MAX_MS: '40',
  WORKER_CONCURRENCY: '8',
  // Attempt outcomes are logged (job ids only) at debug level: the evidence of what ran.
  LOG_LEVEL: 'debug',
};

const start = serviceFleet();

interface AttemptLine {
  msg?: string;
  job_id?: string;
  attempt?: number;
  outcome?: string;
}

test(
  'after SIGKILL mid-stream and a restart, every 202 reaches a final state and no success repeats without a recorded retry',
  async () => {
    const first = await start({ env: ENV });

    const accepted = new Set<string>();
    let killed = false;
    const client = async () => {
      while (!killed) {
        try {
          const res = await submit(first.url);
          if (res.status === 202) accepted.add(((await res.json()) as { id: string }).id);
          else await res.body?.cancel();
        } catch {
          return; // the server died under this request: it was never answered 202
        }
      }
    };
    const clients = Array.from({ length: 16 }, client);
    while (accepted.size < 600) await Bun.sleep(5);
    first.process.kill('SIGKILL');
    killed = true;
    expect(await first.exited).not.toBe(0);
    await Promise.all(clients);
    const acceptedBeforeKill = accepted.size;

    const second = await start({ env: ENV, dataDir: first.dataDir });
    const recovery = second.logs().find((line) => line.msg === 'recovered jobs interrupted by an unclean stop') as
      | { requeued: number; dead_lettered: number }
      | undefined;
    // Workers were busy with a growing backlog when the kill came, so some attempts were cut off.
    expect(recovery).toBeDefined();
    expect(recovery!.requeued + recovery!.dead_lettered).toBeGreaterThan(0);

    const final = await waitUntilFinal(second.url, accepted, 45_000);
    expect(final.size).toBe(acceptedBeforeKill);
    for (const status of final.values()) expect(['succeeded', 'failed']).toContain(status.status);

    const retried = sample(await scrape(second.metricsUrl), 'pipewatch_job_outcomes_total{outcome="retried"}') ?? 0;
    // Stopped before reading its logs: log lines are written in batches, all of them by exit.
    expect(await second.stop('SIGTERM')).toBe(0);

    // Every attempt either process logged, per job: each one is counted in `attempts`, and a
    // second success can only be a later, counted attempt.
    const successes = new Map<string, number[]>();
    const ran = new Map<string, number>();
    for (const line of [...first.logs(), ...second.logs()] as AttemptLine[]) {
      if (!line.job_id || (line.msg !== 'job attempt finished' && line.msg !== 'job dead-lettered')) continue;
      ran.set(line.job_id, (ran.get(line.job_id) ?? 0) + 1);
      if (line.outcome !== 'succeeded') continue;
      successes.set(line.job_id, [...(successes.get(line.job_id) ?? []), line.attempt ?? 0]);
    }
    for (const [id, count] of ran) {
      const status = final.get(id);
      if (status) expect(count).toBeLessThanOrEqual(status.attempts);
    }
    let repeated = 0;
    for (const [id, attempts] of successes) {
      expect(new Set(attempts).size).toBe(attempts.length);
      const status = final.get(id);
      if (status) expect(status.attempts).toBeGreaterThanOrEqual(Math.max(...attempts));
      if (attempts.length > 1) repeated++;
    }
    expect(retried).toBeGreaterThanOrEqual(repeated);

    // On disk too: nothing accepted is missing, nothing is left unfinished.
    const rows = readJobs(first.dataDir);
    for (const id of accepted) expect([STATE.succeeded, STATE.failed]).toContain(rows.get(id)!.state as 2 | 3);
    for (const row of rows.values()) expect(row.state === STATE.succeeded || row.state === STATE.failed).toBe(true);
  },
  TIMEOUT_MS,
);
