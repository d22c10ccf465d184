import { afterAll, describe, expect, test } from 'bun:test';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import v8 from 'node:v8';
import { DROPPED_DEFAULT_METRICS, HTTP_DURATION_BUCKETS, UNMATCHED_ROUTE } from '../src/metrics';
import { buildTestApp, postJson, sampleValue, type TestApp } from './support/http-app';

const t = buildTestApp();
afterAll(() => t.close());

/** Waits until onAfterResponse (which runs after the response is handed back) recorded every request. */
async function settle(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    await Bun.sleep(1);
    if ((await sampleValue(t.metrics, 'http_requests_in_flight')) === 0) return;
  }
  throw new Error('requests still in flight');
}

async function scrape(app: TestApp = t): Promise<string> {
  return (await app.request('/metrics')).text();
}

/** Sample lines (no comments) of one metric family, e.g. every `http_requests_total{...}` line. */
function series(text: string, family: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(family) && /^[a-z_]+(\{|\s)/.test(l) && !l.startsWith('#'));
}

describe('metric names', () => {
  test('the seed series, RED, queue, build info and scrape cost are exposed with their types', async () => {
    const text = await scrape();
    for (const [name, type] of [
      ['app_requests_total', 'counter'],
      ['app_errors_total', 'counter'],
      ['app_processing_seconds', 'histogram'],
      ['http_requests_total', 'counter'],
      ['http_request_duration_seconds', 'histogram'],
      ['http_requests_in_flight', 'gauge'],
      ['pipewatch_build_info', 'gauge'],
      ['pipewatch_metrics_scrape_duration_seconds', 'histogram'],
      ['pipewatch_metrics_exposition_bytes', 'gauge'],
      ['pipewatch_queue_jobs', 'gauge'],
      ['pipewatch_jobs_enqueued_total', 'counter'],
    ]) {
      expect(text).toContain(`# TYPE ${name} ${type}\n`);
    }
    // The seed's PromQL needs these exact sample names.
    expect(text).toMatch(/^app_processing_seconds_sum /m);
    expect(text).toMatch(/^app_processing_seconds_count /m);
    expect(text).toContain(`pipewatch_build_info{version="test",commit="test",bun_version="${Bun.version}"} 1`);
    expect(HTTP_DURATION_BUCKETS[0]).toBeLessThan(0.001);
    expect(HTTP_DURATION_BUCKETS.at(-1)).toBeGreaterThanOrEqual(5);
  });

  test('promtool accepts the exposition (names, units, help)', async () => {
    await postJson(t, { name: 'Ravi', age: 32, city: 'Delhi' });
    await settle();
    const proc = Bun.spawn(['promtool', 'check', 'metrics'], { stdin: new TextEncoder().encode(await scrape()), stdout: 'pipe', stderr: 'pipe' });
    const out = (await new Response(proc.stdout).text()) + (await new Response(proc.stderr).text());
    // promtool flags counters without _total and non-base units; the only accepted finding is none.
    expect({ code: await proc.exited, out }).toEqual({ code: 0, out: '' });
  });

  test('no default metric that is empty or synthetic on Bun is exported', async () => {
    const text = await scrape();
    for (const name of Object.keys(DROPPED_DEFAULT_METRICS)) expect(text).not.toContain(`# TYPE ${name} `);
    expect(text).toContain('# TYPE process_resident_memory_bytes gauge');
    expect(text).toContain('# TYPE nodejs_eventloop_lag_p99_seconds gauge');
  });
});

describe('label bounds', () => {
  test('thousands of random paths and methods leave the series count unchanged', async () => {
    const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'BREW', 'M-SEARCH', 'X'.repeat(20)];
    const randomRequests = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const path = i % 3 === 0 ? `/submissions/${crypto.randomUUID()}` : `/${crypto.randomUUID()}/${Math.random().toString(36).slice(2)}?q=${i}`;
        const res = await t.request(path, { method: methods[i % methods.length] });
        expect(res.status).toBeLessThan(500);
      }
      await settle();
      const text = await scrape();
      return { text, requests: series(text, 'http_requests_total').length, duration: series(text, 'http_request_duration_seconds').length };
    };
    const first = await randomRequests(500);
    const after = await randomRequests(3000);
    expect({ requests: after.requests, duration: after.duration }).toEqual({ requests: first.requests, duration: first.duration });
    expect(after.requests).toBeLessThan(40);
    const routes = new Set(series(after.text, 'http_requests_total').map((l) => /route="([^"]*)"/.exec(l)?.[1]));
    expect([...routes].every((r) => r === UNMATCHED_ROUTE || r?.startsWith('/'))).toBe(true);
    expect([...routes].some((r) => r?.includes('-') && r !== UNMATCHED_ROUTE)).toBe(false); // no uuid leaked into a route label
    expect(after.text).not.toContain('BREW');
    expect(after.text).toContain(`route="/submissions/:id",status="404"`);
  });
});

describe('exactly-once counting with the final status', () => {
  const J = { 'content-type': 'application/json' };
  const cases: Array<{ name: string; path: string; init?: RequestInit; method: string; route: string; status: string; submission: boolean }> = [
    {
      name: '202 accepted',
      path: '/submit_data',
      init: { method: 'POST', headers: J, body: '{"name":"Ravi","age":32,"city":"Delhi"}' },
      method: 'POST',
      route: '/submit_data',
      status: '202',
      submission: true,
    },
    {
      name: '400 malformed',
      path: '/submit_data',
      init: { method: 'POST', headers: J, body: '{' },
      method: 'POST',
      route: '/submit_data',
      status: '400',
      submission: true,
    },
    {
      name: '413 too large',
      path: '/submit_data',
      init: { method: 'POST', headers: J, body: 'x'.repeat(20000) },
      method: 'POST',
      route: '/submit_data',
      status: '413',
      submission: true,
    },
    {
      name: '415 wrong type',
      path: '/submit_data',
      init: { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' },
      method: 'POST',
      route: '/submit_data',
      status: '415',
      submission: true,
    },
    {
      name: '422 invalid',
      path: '/submit_data',
      init: { method: 'POST', headers: J, body: '{"name":"Ravi"}' },
      method: 'POST',
      route: '/submit_data',
      status: '422',
      submission: true,
    },
    { name: '404 unknown path', path: '/nowhere', method: 'GET', route: UNMATCHED_ROUTE, status: '404', submission: false },
    { name: '404 unknown id', path: '/submissions/nope', method: 'GET', route: '/submissions/:id', status: '404', submission: false },
    { name: '405 wrong method', path: '/healthz', init: { method: 'DELETE' }, method: 'DELETE', route: UNMATCHED_ROUTE, status: '405', submission: false },
    { name: '200 health', path: '/healthz', method: 'GET', route: '/healthz', status: '200', submission: false },
    { name: '503 not ready', path: '/readyz', method: 'GET', route: '/readyz', status: '503', submission: false },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      await settle(); // an earlier test's last request (a scrape) may still be recording
      t.state.ready = c.status !== '503';
      const labels = { method: c.method, route: c.route, status: c.status };
      const total = async () =>
        ((await t.metrics.registry.getSingleMetric('http_requests_total')!.get()).values as Array<{ value: number }>).reduce((a, v) => a + v.value, 0);
      const before = {
        series: await sampleValue(t.metrics, 'http_requests_total', labels),
        histogram: await sampleValue(t.metrics, 'http_request_duration_seconds_count', labels),
        all: await total(),
        submissions: await sampleValue(t.metrics, 'app_requests_total'),
      };
      const res = await t.request(c.path, c.init);
      expect(String(res.status)).toBe(c.status);
      await res.arrayBuffer();
      await settle();
      t.state.ready = true;
      expect({
        series: (await sampleValue(t.metrics, 'http_requests_total', labels)) - before.series,
        histogram: (await sampleValue(t.metrics, 'http_request_duration_seconds_count', labels)) - before.histogram,
        all: (await total()) - before.all,
        submissions: (await sampleValue(t.metrics, 'app_requests_total')) - before.submissions,
        inFlight: await sampleValue(t.metrics, 'http_requests_in_flight'),
      }).toEqual({ series: 1, histogram: 1, all: 1, submissions: c.submission ? 1 : 0, inFlight: 0 });
    });
  }

  test('the scrape itself is counted once and its cost is recorded', async () => {
    const first = await scrape();
    await settle();
    const second = await scrape();
    expect(second).toMatch(/^http_requests_total\{method="GET",route="\/metrics",status="200"\} \d+$/m);
    expect(Number(/^pipewatch_metrics_exposition_bytes (\d+)$/m.exec(second)?.[1])).toBe(Buffer.byteLength(first));
    expect(Number(/^pipewatch_metrics_scrape_duration_seconds_count (\d+)$/m.exec(second)?.[1])).toBeGreaterThanOrEqual(1);
  });
});

describe('default metrics on Bun (why each dropped one is dropped; fails when Bun changes)', () => {
  test('the dropped series are empty or synthetic on this Bun', async () => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('ok') });
    const timer = setInterval(() => {}, 1000);
    try {
      let junk: number[][] = [];
      for (let i = 0; i < 200; i++) {
        junk.push(new Array(50_000).fill(i));
        if (junk.length > 10) junk = [];
      }
      Bun.gc(true);
      for (let i = 0; i < 5; i++) await fetch(`http://127.0.0.1:${server.port}/`);
      await Bun.sleep(50);
      const json = await registry.getMetricsAsJSON();
      const values = (name: string) => json.find((m) => m.name === name)?.values ?? [];
      // A forced GC and a live server, timer and sockets, yet:
      expect(
        values('nodejs_gc_duration_seconds')
          .filter((v) => (v as { metricName?: string }).metricName?.endsWith('_count'))
          .every((v) => v.value === 0),
      ).toBe(true);
      for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
        expect(values(name)[0]?.value).toBe(0);
      // V8 heap spaces: JSC fills one "space" and zeroes the rest.
      expect(v8.getHeapSpaceStatistics().filter((s) => s.space_size > 0).length).toBeLessThanOrEqual(1);
      // "heap" from VmData is reserved address space: many times the resident size.
      expect(values('process_heap_bytes')[0]!.value).toBeGreaterThan(10 * values('process_resident_memory_bytes')[0]!.value);
      // nodejs_version_info reports an emulated Node version, not Bun's.
      expect(String(values('nodejs_version_info')[0]?.labels.version)).not.toContain(Bun.version);
    } finally {
      clearInterval(timer);
      server.stop(true);
    }
  });
});

describe('README metrics table', () => {
  test('names every metric the registry exposes, with its type and labels, and the dropped defaults', async () => {
    const readme = readFileSync(join(import.meta.dir, '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('<!-- section:metrics -->'), readme.indexOf('<!-- /section:metrics -->'));
    const rows = new Map<string, string>();
    const meanings = new Map<string, string>();
    for (const line of section.split('\n')) {
      const m = /^\| `([a-z0-9_]+)` \| (\w+) \| ([^|]*) \| (.*) \|$/.exec(line);
      if (m) {
        rows.set(m[1]!, `${m[2]} ${m[3]!.trim()}`);
        meanings.set(m[1]!, m[4]!.trim());
      }
    }
    const exposed = await t.metrics.registry.getMetricsAsJSON();
    const missing = exposed.filter((m) => !rows.has(m.name)).map((m) => m.name);
    expect(missing).toEqual([]);
    for (const m of exposed) {
      const [type, labels] = [rows.get(m.name)!.split(' ')[0], rows.get(m.name)!.slice(rows.get(m.name)!.indexOf(' ') + 1)];
      expect({ name: m.name, type }).toEqual({ name: m.name, type: String(m.type) });
      const names = ((t.metrics.registry.getSingleMetric(m.name) as unknown as { labelNames?: string[] }).labelNames ?? []).join(', ');
      expect({ name: m.name, labels: labels === '—' ? '' : labels.replaceAll('`', '') }).toEqual({ name: m.name, labels: names });
    }
    // pipewatch's own metrics: the README says what their help text says (defaults get notes on Bun instead).
    for (const m of exposed.filter((m) => /^(app|http|pipewatch)_/.test(m.name))) {
      expect({ name: m.name, meaning: meanings.get(m.name) }).toEqual({ name: m.name, meaning: m.help });
    }
    for (const name of Object.keys(DROPPED_DEFAULT_METRICS)) expect(section).toContain(`\`${name}\``);
  });
});
