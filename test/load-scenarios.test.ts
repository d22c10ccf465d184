import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScenario, type RunResult } from '../artillery/run';
import { removeDataDir, startService, type RunningService } from './support/service';

/**
 * The Artillery scenarios CI runs for real (issue 6): smoke and bad-input against a real service
 * process, and proof that their SLO gates make `artillery run` exit non-zero on a breach.
 */

let reports: string;
beforeAll(() => {
  reports = mkdtempSync(join(tmpdir(), 'pipewatch-artillery-'));
});
afterAll(() => rmSync(reports, { recursive: true, force: true }));

function report(file: string): { counters: Record<string, number> } {
  return (JSON.parse(readFileSync(file, 'utf8')) as { aggregate: { counters: Record<string, number> } }).aggregate;
}

function explain(result: RunResult): string {
  return `artillery exited ${result.exitCode}\n${result.stdout.slice(-4000)}\n${result.stderr.slice(-2000)}`;
}

/** The `ensure` verdict lines Artillery prints ("ok: <expr>" / "fail: <expr>"). */
function checkLines(result: RunResult): string[] {
  return result.stdout.split('\n').filter((line) => /^(ok|fail): /.test(line));
}

describe('against a healthy service (sqlite queue in a temp dir)', () => {
  let service: RunningService;
  beforeAll(async () => {
    service = await startService({ env: { QUEUE_DRIVER: 'sqlite' } });
  });
  afterAll(async () => {
    await service.stop();
    removeDataDir(service.dataDir);
  });

  test('smoke: every route answers as the contract says and every gate passes', async () => {
    const output = join(reports, 'smoke.json');
    const result = await runScenario('smoke', { target: service.url, output, quiet: true });
    expect(result.exitCode, explain(result)).toBe(0);
    const lines = checkLines(result);
    expect(lines.length).toBeGreaterThanOrEqual(5);
    expect(lines.filter((l) => l.startsWith('fail'))).toEqual([]);
    const { counters } = report(output);
    // Every route was exercised, and the submission was followed until processed.
    for (const name of ['healthz', 'readyz', 'submit', 'status', 'status_unknown', 'metrics', 'openapi', 'docs']) {
      expect(counters[`pw.${name}.requests`], name).toBeGreaterThan(0);
    }
    expect(counters['endpoint.submit.codes.202']).toBe(counters['pw.submit.requests']);
    expect(counters['pw.poll.finished']).toBe(counters['pw.submit.requests']);
    expect(counters['plugins.expect.failed']).toBeUndefined();
  }, 60_000);

  test('bad-input: every hostile request gets its 4xx (or 202 when valid), never a 5xx, never an echo', async () => {
    const output = join(reports, 'bad.json');
    const result = await runScenario('bad-input', { target: service.url, output, quiet: true });
    expect(result.exitCode, explain(result)).toBe(0);
    const { counters } = report(output);
    expect(counters['pw.codes.5xx']).toBeUndefined();
    expect(counters['pw.echoed_input']).toBeUndefined();
    expect(counters['pw.codes.4xx']).toBeGreaterThan(100);
    expect(counters['endpoint.bad_oversized.codes.413']).toBeGreaterThan(0);
    expect(counters['endpoint.bad_invalid_utf8.codes.400']).toBeGreaterThan(0);
    expect(counters['endpoint.bad_no_content_type.codes.415']).toBeGreaterThan(0);
    expect(counters['endpoint.hostile_valid.codes.202']).toBeGreaterThan(0);
    // The service survived it all.
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
  }, 60_000);
});

describe('the gates fail the run on a breach', () => {
  test('load against a service refusing with 503 (capacity 1, slow workers): the 5xx gate fails, exit code non-zero', async () => {
    const service = await startService({
      env: {
        QUEUE_DRIVER: 'memory',
        QUEUE_CAPACITY: '1',
        WORKER_CONCURRENCY: '1',
        PROCESSING_DELAY_DISTRIBUTION: 'fixed',
        PROCESSING_DELAY_MIN_MS: '30000',
        PROCESSING_DELAY_MAX_MS: '30000',
        LEASE_MS: '60000', // must exceed the longest attempt, or start-up refuses the config
        FAILURE_RATE: '0',
        SHUTDOWN_GRACE_MS: '1000',
      },
    });
    try {
      const overrides = { phases: [{ name: 'sustained', duration: 3, arrivalRate: 5 }], variables: { maxSubmitAttempts: 1 } };
      const result = await runScenario('load', { target: service.url, quiet: true, overrides });
      expect(result.exitCode, explain(result)).not.toBe(0);
      const lines = checkLines(result);
      expect(lines).toContain('fail: (pw.submit.codes.5xx or 0) <= 0.005 * pw.submit.requests');
      // The 503s were backpressure done right: every one carried Retry-After.
      expect(result.stdout).toMatch(/pw\.backpressure\.503: \.+ \d+/);
      expect(result.stdout).not.toContain('pw.backpressure.missing_retry_after');
    } finally {
      await service.stop('SIGKILL');
      removeDataDir(service.dataDir);
    }
  }, 60_000);

  test('bad-input against a server answering 500: the run fails on the 5xx gate', async () => {
    // A deliberately broken server: the gate, not pipewatch, is under test here.
    const broken = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch: () =>
        new Response(JSON.stringify({ type: 'about:blank', title: 'boom', status: 500, detail: 'boom' }), {
          status: 500,
          headers: { 'content-type': 'application/problem+json' },
        }),
    });
    try {
      const result = await runScenario('bad-input', { target: `http://127.0.0.1:${broken.port}`, quiet: true });
      expect(result.exitCode, explain(result)).not.toBe(0);
      expect(checkLines(result)).toContain('fail: (pw.codes.5xx or 0) == 0');
    } finally {
      await broken.stop(true);
    }
  }, 60_000);
});
