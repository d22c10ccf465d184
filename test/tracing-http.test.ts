import { afterEach, describe, expect, test } from 'bun:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { buildTestApp, postJson } from './support/http-app';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** The real app and queue (memory driver, queue not traced), with tracing exporting into memory when `traced`. */
function tracedApp(traced: boolean, env: Record<string, string> = {}) {
  const exporter = new InMemorySpanExporter();
  const t = buildTestApp({}, { OTEL_TRACES_EXPORTER: traced ? 'otlp' : 'none', ...env }, traced ? { exporter } : {});
  closers.push(t.close);
  const post = (body: unknown, headers: Record<string, string> = {}) => postJson(t, body, headers);
  return { tracing: t.tracing, request: t.request, post, spans: () => exporter.getFinishedSpans(), logs: t.logs };
}

const server = (spans: ReadableSpan[]) => spans.filter((s) => s.kind === SpanKind.SERVER);

describe('SERVER span per request', () => {
  test('is named by the route template, carries stable http.* attributes, and its trace id is answered in x-trace-id', async () => {
    const t = await tracedApp(true);
    const res = await t.post({ name: 'Ravi', age: 32, city: 'Delhi' });
    expect(res.status).toBe(202);
    const [span] = server(t.spans());
    expect(span).toBeDefined();
    expect(span!.name).toBe('POST /submit_data');
    expect(span!.attributes).toEqual({
      'http.request.method': 'POST',
      'http.route': '/submit_data',
      'http.response.status_code': 202,
      'url.scheme': 'http',
      'network.protocol.version': '1.1',
    });
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    expect(res.headers.get('x-trace-id')).toBe(span!.spanContext().traceId);
    expect(res.headers.get('traceparent')).toBeNull();
    expect(span!.parentSpanContext).toBeUndefined();
  });

  test('continues an incoming W3C traceparent and keeps its tracestate', async () => {
    const t = await tracedApp(true);
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await t.request('/healthz', { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, tracestate: 'vendor=opaque' } });
    expect(res.status).toBe(200);
    const [span] = server(t.spans());
    expect(span!.spanContext().traceId).toBe(traceId);
    expect(span!.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(span!.parentSpanContext?.isRemote).toBe(true);
    expect(span!.spanContext().traceState?.serialize()).toBe('vendor=opaque');
    expect(res.headers.get('x-trace-id')).toBe(traceId);
  });

  test('an unparseable traceparent starts a new trace instead of failing the request', async () => {
    const t = await tracedApp(true);
    const res = await t.request('/healthz', { headers: { traceparent: 'garbage' } });
    expect(res.status).toBe(200);
    expect(server(t.spans())[0]!.parentSpanContext).toBeUndefined();
  });

  test('client errors are not span errors; unmatched paths are named by method only, without the path', async () => {
    const t = await tracedApp(true);
    expect((await t.post({ name: 'Ravi', age: 'x', city: 'Delhi' })).status).toBe(422);
    expect((await t.request('/no/such/Ravi?city=Delhi')).status).toBe(404);
    const [invalid, unmatched] = server(t.spans());
    expect(invalid!.attributes['http.response.status_code']).toBe(422);
    expect(invalid!.status.code).toBe(SpanStatusCode.UNSET);
    expect(unmatched!.name).toBe('GET');
    expect(unmatched!.attributes['http.route']).toBeUndefined();
    expect(unmatched!.attributes['http.response.status_code']).toBe(404);
  });

  test('a 503 from the queue is an error span with error.type', async () => {
    const t = await tracedApp(true, {
      QUEUE_CAPACITY: '1',
      WORKER_CONCURRENCY: '1',
      PROCESSING_DELAY_MIN_MS: '2000',
      PROCESSING_DELAY_MAX_MS: '2000',
      PROCESSING_DELAY_DISTRIBUTION: 'fixed',
    });
    expect((await t.post({ name: 'A', age: 1, city: 'B' })).status).toBe(202);
    expect((await t.post({ name: 'A', age: 1, city: 'B' })).status).toBe(503);
    const refused = server(t.spans()).find((s) => s.attributes['http.response.status_code'] === 503)!;
    expect(refused.status.code).toBe(SpanStatusCode.ERROR);
    expect(refused.attributes['error.type']).toBe('503');
  });

  test('no personal data, raw path or query string in any span', async () => {
    const t = await tracedApp(true);
    await t.post({ name: 'Zorblax', age: 117, city: 'Quuxville' }, { 'user-agent': 'Zorblax-agent' });
    await t.post({ name: 'Zorblax', age: 'Quuxville', city: 'Quuxville' });
    await t.request('/submit_data?name=Zorblax', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"Zorblax"' });
    await t.request('/Zorblax/Quuxville?token=Zorblax');
    const dump = JSON.stringify(
      t.spans().map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, links: s.links, status: s.status, resource: s.resource.attributes })),
    );
    expect(t.spans().length).toBeGreaterThanOrEqual(4);
    for (const secret of ['Zorblax', 'Quuxville', 'token']) expect(dump).not.toContain(secret);
    // The age as a value (as text it can turn up inside the hex of a job id by chance).
    const values = t.spans().flatMap((s) => [s.attributes, ...s.events.map((e) => e.attributes ?? {})].flatMap((a) => Object.values(a)));
    expect(values.filter((v) => v === 117 || v === '117')).toEqual([]);
  });
});

describe('logs during a traced request', () => {
  test('the access line carries trace_id and span_id of the request span', async () => {
    const t = await tracedApp(true);
    const res = await t.request('/healthz');
    const span = server(t.spans())[0]!;
    await Bun.sleep(10);
    const line = t.logs.find((l) => l.msg === 'request' && l.route === '/healthz')!;
    expect(line).toMatchObject({ trace_id: span.spanContext().traceId, span_id: span.spanContext().spanId });
    expect(res.headers.get('x-trace-id')).toBe(line.trace_id as string);
  });
});

describe('tracing off (the default)', () => {
  test('no tracer, no span, no x-trace-id header, no trace ids in logs', async () => {
    const t = await tracedApp(false);
    expect(t.tracing).toBeUndefined();
    const res = await t.post({ name: 'Ravi', age: 32, city: 'Delhi' }, { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
    expect(res.status).toBe(202);
    expect(res.headers.get('x-trace-id')).toBeNull();
    await Bun.sleep(10);
    expect(t.logs.length).toBeGreaterThan(0);
    for (const line of t.logs) expect(line.trace_id).toBeUndefined();
  });
});
