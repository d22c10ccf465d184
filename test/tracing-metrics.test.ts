import { afterEach, describe, expect, test } from 'bun:test';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { prefersOpenMetrics } from '../src/tracing/openmetrics';
import { buildTestApp } from './support/http-app';

const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

function app(traced: boolean, env: Record<string, string> = {}) {
  const t = buildTestApp({}, { OTEL_TRACES_EXPORTER: traced ? 'otlp' : 'none', ...env }, traced ? { exporter: new InMemorySpanExporter() } : {});
  closers.push(t.close);
  const { request } = t;
  const scrape = async (accept?: string) => {
    const res = await request('/metrics', accept ? { headers: { accept } } : {});
    return { type: res.headers.get('content-type'), body: await res.text() };
  };
  return { request, scrape };
}

/**
 * The exposition's shape: every HELP/TYPE line and every sample name with its labels (values and
 * exemplars dropped; runtime series, the random queue id and the scrapes' own series set aside).
 */
const shape = (body: string) =>
  body
    .split('\n')
    .map((l) => (l.startsWith('#') ? l : l.replace(/ .*$/, '')).replace(/queue="[^"]+"/, 'queue="id"'))
    .filter((l) => l && !/^(nodejs_|process_)/.test(l.replace(/^# (HELP|TYPE) /, '')) && !l.includes('route="/metrics"'))
    .join('\n');

describe('exemplars on OpenMetrics scrapes', () => {
  test('Accept negotiation: OpenMetrics only when preferred over text', () => {
    expect(prefersOpenMetrics(PROMETHEUS_ACCEPT)).toBe(true);
    expect(prefersOpenMetrics('application/openmetrics-text; version=1.0.0; charset=utf-8')).toBe(true);
    expect(prefersOpenMetrics('text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5')).toBe(false);
    expect(prefersOpenMetrics('*/*')).toBe(false);
    expect(prefersOpenMetrics(null)).toBe(false);
    expect(prefersOpenMetrics('application/openmetrics-text;q=0')).toBe(false);
  });

  test('http_request_duration_seconds carries the trace id of a sampled request; the text format stays exactly the same before and after', async () => {
    const t = await app(true);
    const plain = await app(false);
    for (const a of [t, plain]) expect((await a.request('/healthz')).status).toBe(200);
    const before = await t.scrape();
    const traceId = (
      await t.request('/submit_data', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"A","age":1,"city":"B"}' })
    ).headers.get('x-trace-id')!;
    await plain.request('/submit_data', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"A","age":1,"city":"B"}' });

    const om = await t.scrape(PROMETHEUS_ACCEPT);
    expect(om.type).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(om.body.endsWith('# EOF\n')).toBe(true);
    const exemplar = om.body
      .split('\n')
      .find((l) => l.startsWith('http_request_duration_seconds_bucket{') && l.includes('route="/submit_data"') && l.includes(' # {'));
    expect(exemplar).toMatch(new RegExp(`# \\{trace_id="${traceId}",span_id="[0-9a-f]{16}"\\} [0-9.e-]+ [0-9.]+$`));
    // OpenMetrics families: counters without _total in TYPE, samples with it.
    expect(om.body).toContain('# TYPE app_requests counter\napp_requests_total 1');

    const after = await t.scrape();
    const untraced = await plain.scrape(PROMETHEUS_ACCEPT);
    expect(after.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(untraced.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(after.body).not.toContain(' # {');
    expect(after.body).toContain('# TYPE app_requests_total counter\napp_requests_total 1');
    // Same names, labels and order as before the OpenMetrics scrape and as an app without tracing.
    expect(shape(after.body)).toBe(shape(untraced.body));
    expect(
      shape(before.body)
        .split('\n')
        .filter((l) => l.startsWith('#')),
    ).toEqual(
      shape(after.body)
        .split('\n')
        .filter((l) => l.startsWith('#')),
    );
  });

  test('an unsampled request leaves no exemplar', async () => {
    const t = await app(true, { OTEL_TRACES_SAMPLER: 'always_off' });
    const res = await t.request('/healthz');
    expect(res.headers.get('x-trace-id')).toMatch(/^[0-9a-f]{32}$/);
    expect((await t.scrape(PROMETHEUS_ACCEPT)).body).not.toContain(' # {');
  });
});
