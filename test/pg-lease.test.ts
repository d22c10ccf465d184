import { describe, expect, test } from 'bun:test';
import { pgFleet } from './support/pg-fleet';
import { waitFor } from './support/pg-load';
import { submit } from './support/service';

// A slow but alive worker keeps its job: its instance renews the lease (in steps of 10 s on a
// shared store) while the attempt runs, so the other instance, which reclaims expired leases
// every second, never takes the job over.
const fleet = pgFleet();

describe('lease renewal across instances', () => {
  test('an attempt running longer than the shared lease step is renewed, not reclaimed by another instance', async () => {
    const db = await fleet.database();
    const env = {
      WORKER_CONCURRENCY: '1',
      PROCESSING_DELAY_DISTRIBUTION: 'fixed',
      PROCESSING_DELAY_MIN_MS: '13000',
      PROCESSING_DELAY_MAX_MS: '13000',
      FAILURE_RATE: '0',
      LEASE_MS: '60000',
    };
    const [a, b] = await Promise.all([fleet.start(db.url, env), fleet.start(db.url, env)]);
    const res = await submit(a.url);
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const statusOf = async () => (await (await fetch(`${b.url}/submissions/${id}`)).json()) as { status: string; attempts: number; lastError: string | null };
    expect(await waitFor(async () => (await statusOf()).status === 'succeeded', 40_000, 250)).toBe(true);
    expect(await statusOf()).toMatchObject({ status: 'succeeded', attempts: 1, lastError: null });
  }, 60_000);
});
