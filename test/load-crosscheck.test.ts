import { afterAll, beforeAll, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bucketOfQuantile, bucketOfValue, crossCheck, formatChecks } from '../artillery/crosscheck';
import { runScenario } from '../artillery/run';
import { startPrometheus, type RunningPrometheus } from './support/prometheus';
import { removeDataDir, startService, submit, type RunningService } from './support/service';

/**
 * The load test checks the instrumentation (issue 6): a short real load run against a service
 * scraped by a real Prometheus, then artillery/crosscheck.ts compares the two views.
 */

let service: RunningService;
let prometheus: RunningPrometheus;
let reports: string;

beforeAll(async () => {
  reports = mkdtempSync(join(tmpdir(), 'pipewatch-crosscheck-'));
  service = await startService({ env: { QUEUE_DRIVER: 'sqlite' } });
  prometheus = await startPrometheus({ targets: [{ job: 'pipewatch', address: service.metricsUrl }], scrapeIntervalSeconds: 1 });
  await prometheus.waitForTargetsUp();
  // A first sample before the run, so the "before" value is a real scrape, not a missing series.
  await prometheus.waitFor('a first scrape of app_requests_total', async () => (await prometheus.query('app_requests_total')).length > 0);
}, 60_000);

afterAll(async () => {
  await prometheus?.stop();
  await service?.stop();
  if (service) removeDataDir(service.dataDir);
  rmSync(reports, { recursive: true, force: true });
});

test('Artillery and the service agree on request count and p95 bucket; extra traffic is caught', async () => {
  const output = join(reports, 'load.json');
  const from = Date.now();
  const overrides = { phases: [{ name: 'sustained', duration: 8, arrivalRate: 15 }] };
  const result = await runScenario('load', { target: service.url, output, quiet: true, overrides });
  expect(result.exitCode, result.stdout.slice(-3000)).toBe(0);
  const to = Date.now();
  const report = JSON.parse(readFileSync(output, 'utf8'));

  const agreed = await crossCheck({ report, prometheusUrl: prometheus.url, fromMs: from, toMs: to });
  console.log(formatChecks(agreed.checks));
  // Counts must agree exactly, whatever the machine is doing.
  expect(agreed.checks.filter((c) => !c.ok && c.name !== 'p95 latency')).toEqual([]);
  expect(agreed.run.posts).toBeGreaterThan(100);
  expect(agreed.service.requests).toBe(agreed.run.posts);
  // Latency: the client measures the server's time plus its own and the scheduler's, so on these
  // shared 2 cores Artillery's p95 may sit several buckets above the service's (the CLI then
  // reports a disagreement, rightly: the load generator was starved). What must hold everywhere:
  // both sides measured something, and the client never saw POSTs faster than the service
  // handled them (a unit or label mistake in the instrumentation would break this).
  const serviceBucket = bucketOfQuantile(agreed.service.buckets, 0.95);
  const clientBucket = bucketOfValue(agreed.service.buckets, agreed.run.p95Ms / 1000);
  expect(serviceBucket).toBeGreaterThanOrEqual(0);
  expect(clientBucket).toBeGreaterThanOrEqual(serviceBucket - 1);
  if (clientBucket - serviceBucket > 1) console.warn(`p95 buckets ${clientBucket - serviceBucket} apart: the machine was busy during the run`);

  // Three POSTs Artillery never sent: the request check must now disagree.
  for (let i = 0; i < 3; i++) expect((await submit(service.url)).status).toBe(202);
  const after = Date.now();
  const disagreed = await crossCheck({ report, prometheusUrl: prometheus.url, fromMs: from, toMs: after });
  expect(disagreed.ok).toBe(false);
  expect(disagreed.checks.find((c) => c.name === 'requests')?.ok).toBe(false);
  expect(disagreed.service.requests).toBe(agreed.run.posts + 3);
}, 90_000);

test('bucket arithmetic: p95 bucket from cumulative counts, values on a bucket edge belong to it', () => {
  const buckets = [
    { le: 0.001, count: 50 },
    { le: 0.0025, count: 90 },
    { le: 0.005, count: 96 },
    { le: Infinity, count: 100 },
  ];
  expect(bucketOfQuantile(buckets, 0.95)).toBe(2);
  expect(bucketOfQuantile(buckets, 0.5)).toBe(0);
  expect(bucketOfValue(buckets, 0.0025)).toBe(1);
  expect(bucketOfValue(buckets, 0.0026)).toBe(2);
  expect(bucketOfValue(buckets, 7)).toBe(3);
  expect(bucketOfQuantile([{ le: Infinity, count: 0 }], 0.95)).toBe(-1);
});
