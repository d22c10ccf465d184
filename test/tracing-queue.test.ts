import { afterEach, describe, expect, test } from 'bun:test';
import { Database } from 'bun:sqlite';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/log';
import { createMetrics } from '../src/metrics';
import { JobQueue } from '../src/queue/engine';
import { openMemoryStore } from '../src/queue/stores/memory';
import { jobTracer } from '../src/tracing/queue';
import { tracingOptions } from '../src/tracing/options';
import { openTestApp } from './support/http-app';
import { startPostgres } from './support/postgres';
import { createTracing } from '../src/tracing/provider';

const PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The real app and queue with tracing into memory (or off). `start: false` leaves the workers idle. */
async function traced(env: Record<string, string>, { on = true, start = true } = {}) {
  const exporter = new InMemorySpanExporter();
  const { app, queue, close, metrics } = await openTestApp(
    { OTEL_TRACES_EXPORTER: on ? 'otlp' : 'none', ...env },
    { exporter: on ? exporter : undefined, traceQueue: true, start },
  );
  cleanups.push(close);
  const submit = async (headers: Record<string, string> = {}) => {
    const res = await app.handle(
      new Request('http://localhost/submit_data', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: '{"name":"Zorblax","age":117,"city":"Quuxville"}',
      }),
    );
    expect(res.status).toBe(202);
    return { id: ((await res.json()) as { id: string }).id, traceId: res.headers.get('x-trace-id') };
  };
  const spans = () => exporter.getFinishedSpans();
  const waitFor = async (predicate: (s: ReadableSpan[]) => boolean, ms = 10_000) => {
    const deadline = Date.now() + ms;
    while (!predicate(spans())) {
      if (Date.now() > deadline)
        throw new Error(
          `spans: ${spans()
            .map((s) => s.name)
            .join(', ')}`,
        );
      await Bun.sleep(10);
    }
    return spans();
  };
  return { app, queue, submit, spans, waitFor, close, metrics };
}

const ofKind = (spans: ReadableSpan[], kind: SpanKind) => spans.filter((s) => s.kind === kind);
const consumersOf = (spans: ReadableSpan[], jobId: string) => ofKind(spans, SpanKind.CONSUMER).filter((s) => s.attributes['messaging.message.id'] === jobId);

describe('request -> enqueue -> attempt, one trace', () => {
  test('PRODUCER is a child of the SERVER span and spans the group-commit wait; the CONSUMER attempt is a child of the PRODUCER', async () => {
    const t = await traced({});
    const { id, traceId } = await t.submit();
    const spans = await t.waitFor((s) => consumersOf(s, id).length === 1);
    const [serverSpan] = ofKind(spans, SpanKind.SERVER);
    const [producer] = ofKind(spans, SpanKind.PRODUCER);
    const [consumer] = consumersOf(spans, id);
    for (const s of [serverSpan, producer, consumer]) expect(s!.spanContext().traceId).toBe(traceId!);
    expect(producer!.name).toBe('send submissions');
    expect(producer!.parentSpanContext?.spanId).toBe(serverSpan!.spanContext().spanId);
    expect(producer!.attributes).toMatchObject({
      'messaging.system': 'pipewatch',
      'messaging.operation.type': 'send',
      'messaging.destination.name': 'submissions',
      'messaging.message.id': id,
    });
    expect(producer!.events.map((e) => [e.name, e.attributes])).toEqual([['committed', { 'pipewatch.commit.batch_size': 1 }]]);
    expect(consumer!.name).toBe('process submissions');
    expect(consumer!.parentSpanContext?.spanId).toBe(producer!.spanContext().spanId);
    expect(consumer!.attributes).toMatchObject({ 'messaging.operation.type': 'process', 'pipewatch.job.attempt': 1 });
    expect(consumer!.status.code).toBe(SpanStatusCode.UNSET);
  });

  test('requests in one group commit each get their own PRODUCER span, all ending at the same commit', async () => {
    const t = await traced({});
    const jobs = await Promise.all([t.submit(), t.submit(), t.submit()]);
    const producers = ofKind(await t.waitFor((s) => ofKind(s, SpanKind.PRODUCER).length === 3), SpanKind.PRODUCER);
    expect(new Set(producers.map((p) => p.spanContext().traceId))).toEqual(new Set(jobs.map((j) => j.traceId!)));
    expect(producers.map((p) => p.events[0]!.attributes!['pipewatch.commit.batch_size'])).toEqual([3, 3, 3]);
  });

  test('a retry and a dead-letter: one CONSUMER span per attempt, ERROR with the reason code, under the same PRODUCER', async () => {
    const t = await traced({ FAILURE_RATE: '1', MAX_ATTEMPTS: '2', RETRY_BASE_MS: '1', RETRY_MAX_MS: '5' });
    const { id } = await t.submit();
    const spans = await t.waitFor((s) => consumersOf(s, id).length === 2);
    const [producer] = ofKind(spans, SpanKind.PRODUCER);
    const [first, second] = consumersOf(spans, id);
    for (const attempt of [first!, second!]) {
      expect(attempt.parentSpanContext?.spanId).toBe(producer!.spanContext().spanId);
      expect(attempt.status).toEqual({ code: SpanStatusCode.ERROR, message: 'processing_failed' });
      expect(attempt.attributes['error.type']).toBe('processing_failed');
    }
    expect(first!.attributes['pipewatch.job.attempt']).toBe(1);
    expect(first!.events.map((e) => e.name)).toEqual(['retry scheduled']);
    expect(second!.attributes['pipewatch.job.attempt']).toBe(2);
    expect(second!.events.map((e) => e.name)).toEqual(['dead-lettered']);
  });

  test('an attempt past LEASE_MS (a processor that never answers) ends its span as lease_expired', async () => {
    // Config refuses LEASE_MS below the simulated pipeline's longest delay, so this drives the engine with a stuck processor.
    const exporter = new InMemorySpanExporter();
    const tracing = createTracing(tracingOptions(loadConfig({ OTEL_TRACES_EXPORTER: 'otlp' })), { exporter })!;
    const queue = await JobQueue.open(
      await openMemoryStore(),
      {
        concurrency: 1,
        maxAttempts: 1,
        retryBaseMs: 1,
        retryMaxMs: 5,
        capacity: 10,
        leaseMs: 100,
        retentionMaxAgeMs: 60_000,
        retentionMaxFinished: 100,
        process: () => new Promise(() => {}),
        tracer: jobTracer(tracing),
      },
      { metrics: createMetrics(), log: createLogger('silent') },
    );
    cleanups.push(async () => {
      await queue.close();
      await tracing.shutdown();
    });
    queue.start();
    const id = await queue.enqueue({ name: 'A', age: 1, city: 'B' });
    const deadline = Date.now() + 10_000;
    while (consumersOf(exporter.getFinishedSpans(), id).length === 0 && Date.now() < deadline) await Bun.sleep(20);
    const [attempt] = consumersOf(exporter.getFinishedSpans(), id);
    expect(attempt!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'lease_expired' });
    expect(attempt!.events.map((e) => e.name)).toEqual(['dead-lettered']);
  });

  test('an attempt cut off by a graceful stop ends as released (not an error)', async () => {
    const t = await traced({ PROCESSING_DELAY_DISTRIBUTION: 'fixed', PROCESSING_DELAY_MIN_MS: '5000', PROCESSING_DELAY_MAX_MS: '5000' });
    const { id } = await t.submit();
    await Bun.sleep(50);
    await t.queue.stop(100);
    const [attempt] = consumersOf(t.spans(), id);
    expect(attempt!.status.code).toBe(SpanStatusCode.UNSET);
    expect(attempt!.events.map((e) => e.name)).toEqual(['released']);
  });

  test('an incoming traceparent carries through to the attempts; no personal data in any span', async () => {
    const t = await traced({});
    const { id, traceId } = await t.submit({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'vendor=opaque,other=x' });
    expect(traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    const spans = await t.waitFor((s) => consumersOf(s, id).length === 1);
    expect(consumersOf(spans, id)[0]!.spanContext().traceId).toBe(traceId!);
    // tracestate travels through the stored context too.
    expect(consumersOf(spans, id)[0]!.spanContext().traceState?.serialize()).toBe('vendor=opaque,other=x');
    const dump = JSON.stringify(spans.map((s) => ({ n: s.name, a: s.attributes, e: s.events, l: s.links, st: s.status })));
    for (const secret of ['Zorblax', 'Quuxville']) expect(dump).not.toContain(secret);
    // The age as a value (as text it can turn up inside the hex of a job id by chance).
    const values = t.spans().flatMap((s) => [s.attributes, ...s.events.map((e) => e.attributes ?? {})].flatMap((a) => Object.values(a)));
    expect(values.filter((v) => v === 117 || v === '117')).toEqual([]);
  });

  test('an unsampled request: no span at all, and the job stores its unsampled context so the attempts stay unsampled', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pipewatch-trace-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const t = await traced({ QUEUE_DRIVER: 'sqlite', DATA_DIR: dataDir, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' });
    const { id, traceId } = await t.submit();
    for (let i = 0; i < 100 && (await t.queue.status(id))?.status !== 'succeeded'; i++) await Bun.sleep(20);
    expect((await t.queue.status(id))?.status).toBe('succeeded');
    expect(t.spans()).toEqual([]);
    await t.close();
    const db = new Database(join(dataDir, 'queue.sqlite'), { readonly: true });
    const row = db.query('SELECT trace FROM jobs WHERE id = ?').get(id) as { trace: string };
    db.close();
    expect(row.trace).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`));
  });

  test('app_processing_seconds carries the attempt trace id as an exemplar on OpenMetrics scrapes', async () => {
    const t = await traced({});
    const { id } = await t.submit();
    const [attempt] = consumersOf(await t.waitFor((s) => consumersOf(s, id).length === 1), id);
    const om = await (await t.app.handle(new Request('http://localhost/metrics', { headers: { accept: PROMETHEUS_ACCEPT } }))).text();
    const line = om.split('\n').find((l) => l.startsWith('app_processing_seconds_bucket') && l.includes(' # {'));
    expect(line).toContain(`trace_id="${attempt!.spanContext().traceId}",span_id="${attempt!.spanContext().spanId}"`);
    const text = await (await t.app.handle(new Request('http://localhost/metrics'))).text();
    expect(text).not.toContain(' # {');
  });
});

describe('the trace column, through real storage (SQLite, PostgreSQL) and a restart', () => {
  for (const thread of ['event-loop', 'worker'] as const)
    test(`SQLITE_THREAD=${thread}: the PRODUCER context is committed beside the job (not in the record) and parents the attempt after a restart`, async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'pipewatch-trace-'));
      cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
      const env = { QUEUE_DRIVER: 'sqlite', DATA_DIR: dataDir, SQLITE_THREAD: thread };
      const before = await traced(env, { start: false });
      const { id, traceId } = await before.submit();
      const [producer] = ofKind(await before.waitFor((s) => ofKind(s, SpanKind.PRODUCER).length === 1), SpanKind.PRODUCER);
      await before.close();

      const db = new Database(join(dataDir, 'queue.sqlite'), { readonly: true });
      const row = db.query('SELECT trace, payload FROM jobs WHERE id = ?').get(id) as { trace: string; payload: string };
      db.close();
      expect(row.trace).toBe(`00-${traceId}-${producer!.spanContext().spanId}-01`);
      expect(row.payload).not.toContain(traceId!);

      // A new process: a new tracer, nothing in memory but the queue file.
      const after = await traced(env);
      const [attempt] = consumersOf(await after.waitFor((s) => consumersOf(s, id).length === 1), id);
      expect(attempt!.spanContext().traceId).toBe(traceId!);
      expect(attempt!.parentSpanContext).toMatchObject({ spanId: producer!.spanContext().spanId, isRemote: true });
    });

  test('PostgreSQL: the stored context parents the attempt run by a new queue on the same database', async () => {
    const pg = await startPostgres();
    cleanups.push(() => pg.destroy());
    const database = await pg.createDatabase('trace');
    const env = { QUEUE_DRIVER: 'postgres', DATABASE_URL: pg.url(database) };
    const before = await traced(env, { start: false });
    const { id, traceId } = await before.submit();
    const [producer] = ofKind(await before.waitFor((s) => ofKind(s, SpanKind.PRODUCER).length === 1), SpanKind.PRODUCER);
    await before.close();
    const [row] = await pg.query<{ trace: string }>(`SELECT trace FROM pipewatch_jobs WHERE id = '${id}'`, database);
    expect(row!.trace).toBe(`00-${traceId}-${producer!.spanContext().spanId}-01`);
    const after = await traced(env);
    const [attempt] = consumersOf(await after.waitFor((s) => consumersOf(s, id).length === 1, 30_000), id);
    expect(attempt!.parentSpanContext).toMatchObject({ traceId, spanId: producer!.spanContext().spanId, isRemote: true });
  }, 60_000);

  test('tracing off: no span and no trace written (the column stays NULL)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pipewatch-trace-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const t = await traced({ QUEUE_DRIVER: 'sqlite', DATA_DIR: dataDir }, { on: false });
    const { id, traceId } = await t.submit({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    expect(traceId).toBeNull();
    await t.close();
    const db = new Database(join(dataDir, 'queue.sqlite'), { readonly: true });
    expect(db.query('SELECT COUNT(*) AS n FROM jobs WHERE trace IS NOT NULL').get()).toEqual({ n: 0 });
    expect(db.query('SELECT COUNT(*) AS n FROM jobs WHERE id = ?').get(id)).toEqual({ n: 1 });
    db.close();
  });
});
