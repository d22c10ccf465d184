import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { removeDataDir, startService, submit, type RunningService } from './support/service';

/** Personal data markers: none may appear in the process's stdout or stderr. */
const NAME = 'Xq9Priya Raman';
const CITY = 'Xq9Madurai';
const AGE = 117;

describe('a real process with a separate metrics port', () => {
  let service: RunningService;
  beforeAll(async () => {
    service = await startService({ env: { METRICS_PORT: '0', QUEUE_DRIVER: 'sqlite', PROCESSING_DELAY_MIN_MS: '0', PROCESSING_DELAY_MAX_MS: '2' } });
  });
  afterAll(async () => {
    await service.stop();
    removeDataDir(service.dataDir);
  });

  test('/metrics is served only on METRICS_PORT, which serves nothing else', async () => {
    expect(service.metricsUrl).not.toBe(service.url);
    expect((await fetch(`${service.url}/metrics`)).status).toBe(404);
    const metrics = await fetch(`${service.metricsUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('# TYPE http_requests_total counter');
    expect((await fetch(`${service.metricsUrl}/submit_data`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${service.metricsUrl}/docs`)).status).toBe(404);
  });

  test('logs one JSON line per request (route, status, duration, request id) and never personal data', async () => {
    // Every request of this test carries a request id with this prefix, so its log lines can be counted exactly.
    let n = 0;
    const rid = () => ({ 'x-request-id': `pii-${n++}` });
    const valid = await submit(service.url, { name: NAME, age: AGE, city: CITY }, { 'x-request-id': 'trace-valid-1' });
    expect(valid.status).toBe(202);
    const { id } = (await valid.json()) as { id: string };
    const bad = [
      { name: NAME, age: `${AGE}`, city: CITY },
      { name: ` ${NAME}`, age: AGE, city: CITY, [CITY]: NAME },
      `{"name":"${NAME}","age":${AGE},"city":"${CITY}"`,
      `{"name":"${NAME}","age":NaN}`,
    ];
    n++;
    for (const body of bad) expect((await submit(service.url, body, rid())).status).toBeLessThan(500);
    expect((await submit(service.url, { name: NAME.repeat(2000), age: AGE, city: CITY }, rid())).status).toBe(413);
    expect((await fetch(`${service.url}/${encodeURIComponent(NAME)}?city=${encodeURIComponent(CITY)}`, { headers: rid() })).status).toBe(404);
    for (let i = 0; i < 50; i++) {
      const status = (await (await fetch(`${service.url}/submissions/${id}`, { headers: rid() })).json()) as { status: string };
      if (status.status === 'succeeded' || status.status === 'failed') break;
      await Bun.sleep(20);
    }
    // Log lines are flushed in batches, at least every 200 ms.
    const ours = () => service.logs().filter((l) => l.msg === 'request' && (l.request_id === 'trace-valid-1' || String(l.request_id).startsWith('pii-')));
    for (let i = 0; i < 60 && ours().length < n; i++) await Bun.sleep(50);

    const output = service.output();
    for (const marker of [NAME, CITY, 'Xq9', String(AGE)]) expect(output).not.toContain(marker);
    const requests = service.logs().filter((l) => l.msg === 'request');
    expect(ours().length).toBe(n); // one line per request, no more, no less
    for (const line of requests) {
      expect(Object.keys(line).sort()).toEqual(['duration_ms', 'level', 'method', 'msg', 'request_id', 'route', 'service', 'status', 'time']);
      expect(line.level).toBe('info');
      expect(typeof line.duration_ms).toBe('number');
    }
    expect(requests.find((l) => l.request_id === 'trace-valid-1')).toMatchObject({ method: 'POST', route: '/submit_data', status: 202 });
    expect(requests.some((l) => l.route === '__unmatched__' && l.status === 404)).toBe(true);
    // Every line is JSON.
    expect(service.logs().filter((l) => 'raw' in l)).toEqual([]);
  });
});
