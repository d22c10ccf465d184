import { afterAll, beforeAll, expect, test } from 'bun:test';
import { removeDataDir, startService, submit, type RunningService } from './support/service';

let service: RunningService;
beforeAll(async () => {
  service = await startService();
});
afterAll(async () => {
  await service.stop();
  removeDataDir(service.dataDir);
});

test('a real server process accepts the seed record and exposes the seed metrics', async () => {
  const res = await submit(service.url);
  expect(res.status).toBe(202);
  const body = (await res.json()) as { id: string; status: string };
  expect(res.headers.get('location')).toBe(`/submissions/${body.id}`);
  const metrics = await (await fetch(`${service.metricsUrl}/metrics`)).text();
  expect(metrics).toMatch(/^app_requests_total 1$/m);
  expect(metrics).toContain('app_processing_seconds_count');
  expect(metrics).toContain('app_errors_total');
});

test('SIGTERM stops the process with exit code 0', async () => {
  const extra = await startService();
  expect(await extra.stop('SIGTERM')).toBe(0);
  removeDataDir(extra.dataDir);
});
