import { expect, test } from 'bun:test';
import { FAST_QUEUE_ENV, STATE, jobStatus, readJobs, waitFor, waitUntilFinal } from './support/queue';
import { serviceFleet, submit } from './support/service';

/** Explicit per-test budget: these tests start real processes and wait for real work. */
const TIMEOUT_MS = 30_000;

/** Graceful shutdown: SIGTERM lets running attempts finish within the grace period, the rest stays queued. */
const start = serviceFleet();

async function submitMany(url: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await submit(url);
    expect(res.status).toBe(202);
    ids.push(((await res.json()) as { id: string }).id);
  }
  return ids;
}

async function processingIds(url: string, ids: string[], expected: number): Promise<string[]> {
  return waitFor(`${expected} jobs processing`, async () => {
    const running: string[] = [];
    for (const id of ids) if ((await jobStatus(url, id))?.status === 'processing') running.push(id);
    return running.length === expected ? running : undefined;
  });
}

const slow = (ms: number) => ({ PROCESSING_DELAY_MIN_MS: String(ms), PROCESSING_DELAY_MAX_MS: String(ms) });

test(
  'SIGTERM lets in-flight jobs finish, leaves queued ones queued, and the next start resumes them',
  async () => {
    const env = { ...FAST_QUEUE_ENV, WORKER_CONCURRENCY: '2', SHUTDOWN_GRACE_MS: '10000' };
    const first = await start({ env: { ...env, ...slow(1500) } });
    const ids = await submitMany(first.url, 6);
    const running = await processingIds(first.url, ids, 2);

    expect(await first.stop('SIGTERM')).toBe(0);
    const rows = readJobs(first.dataDir);
    for (const id of ids) {
      const row = rows.get(id)!;
      if (running.includes(id)) expect({ state: row.state, attempts: row.attempts }).toEqual({ state: STATE.succeeded, attempts: 1 });
      else expect({ state: row.state, attempts: row.attempts }).toEqual({ state: STATE.queued, attempts: 0 });
    }
    expect(first.logs().find((line) => line.msg === 'queue stopped')).toMatchObject({ cut_off: 0, queued: 4 });

    const second = await start({ env, dataDir: first.dataDir });
    const final = await waitUntilFinal(second.url, ids);
    for (const id of ids) expect(final.get(id)).toMatchObject({ status: 'succeeded', attempts: 1, lastError: null });
    // Nothing was interrupted, so the restart had nothing to recover.
    expect(second.logs().some((line) => line.msg === 'recovered jobs interrupted by an unclean stop')).toBe(false);
  },
  TIMEOUT_MS,
);

test(
  'attempts still running when the grace period ends are queued again without using up an attempt',
  async () => {
    const env = { ...FAST_QUEUE_ENV, WORKER_CONCURRENCY: '2', SHUTDOWN_GRACE_MS: '1000' };
    const first = await start({ env: { ...env, ...slow(20_000) } });
    const ids = await submitMany(first.url, 3);
    await processingIds(first.url, ids, 2);

    expect(await first.stop('SIGTERM')).toBe(0);
    for (const row of readJobs(first.dataDir).values()) expect({ state: row.state, attempts: row.attempts }).toEqual({ state: STATE.queued, attempts: 0 });
    expect(first.logs().find((line) => line.msg?.toString().startsWith('queue stopped'))).toMatchObject({ cut_off: 2, queued: 3 });

    const second = await start({ env, dataDir: first.dataDir });
    const final = await waitUntilFinal(second.url, ids);
    for (const id of ids) expect(final.get(id)).toMatchObject({ status: 'succeeded', attempts: 1 });
  },
  TIMEOUT_MS,
);
