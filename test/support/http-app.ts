import { Writable } from 'node:stream';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import { createApp, type AppDeps } from '../../src/app';
import { loadConfig, type Config } from '../../src/config';
import { createLogger, type Logger } from '../../src/log';
import { createMetrics, type Metrics } from '../../src/metrics';
import { createQueue, type Queue } from '../../src/queue';
import { traceLogMixin } from '../../src/tracing/log';
import { tracingOptions } from '../../src/tracing/options';
import { createTracing, type Tracing } from '../../src/tracing/provider';

export interface TestApp {
  app: ReturnType<typeof createApp>;
  metrics: Metrics;
  queue: Queue;
  /** Present while tracing is on (OTEL_TRACES_EXPORTER in env, or an exporter given). */
  tracing: Tracing | undefined;
  /** Every log line the app wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  /** Sends a request through app.handle (no network). */
  request: (path: string, init?: RequestInit) => Promise<Response>;
  /** Lets the queue finish, releases it and flushes the spans; a second call does nothing. */
  close: () => Promise<void>;
  state: { ready: boolean; draining: boolean };
}

export interface TestAppOptions {
  /** Where spans go (tests: an InMemorySpanExporter); tracing is on with it whatever OTEL_TRACES_EXPORTER says. */
  exporter?: SpanExporter;
  /** Trace the queue too (PRODUCER and CONSUMER spans), not only the app's requests. */
  traceQueue?: boolean;
  /** Start the queue's workers (the default); false leaves queued jobs alone. */
  start?: boolean;
}

interface Parts {
  config: Config;
  log: Logger;
  logs: Array<Record<string, unknown>>;
  metrics: Metrics;
  tracing: Tracing | undefined;
  opening: Promise<Queue>;
}

/**
 * The real app with the real queue (QUEUE_DRIVER=memory unless env says otherwise: these tests
 * are about HTTP, not disks), a real metrics registry, and a logger writing into `logs` (with
 * the trace ids of the active span while tracing is on).
 */
export function buildTestApp(overrides: Partial<AppDeps> = {}, env: Record<string, string> = {}, options: TestAppOptions = {}): TestApp {
  const parts = openParts(env, options);
  return assemble(parts, openedLater(parts.opening), overrides, options);
}

/** The same, once the queue is open: for drivers that open real storage (sqlite, postgres), whose failures should fail the test here. */
export async function openTestApp(env: Record<string, string> = {}, options: TestAppOptions = {}): Promise<TestApp> {
  const parts = openParts(env, options);
  return assemble(parts, await parts.opening, {}, options);
}

function openParts(env: Record<string, string>, { exporter, traceQueue = false }: TestAppOptions): Parts {
  const config = loadConfig({ QUEUE_DRIVER: 'memory', PROCESSING_DELAY_MIN_MS: '0', PROCESSING_DELAY_MAX_MS: '1', FAILURE_RATE: '0', ...env });
  const tracing = createTracing(tracingOptions(config), exporter ? { exporter } : {});
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const log = createLogger('info', sink, tracing && traceLogMixin(tracing.contexts));
  const metrics = createMetrics({ version: 'test', commit: 'test' });
  const opening = createQueue(config, { metrics, log, tracing: traceQueue ? tracing : undefined });
  return { config, log, logs, metrics, tracing, opening };
}

function assemble(parts: Parts, queue: Queue, overrides: Partial<AppDeps>, { start = true }: TestAppOptions): TestApp {
  const { config, log, logs, metrics, tracing } = parts;
  if (start) queue.start();
  const state = { ready: true, draining: false };
  const app = createApp({
    queue,
    metrics,
    log,
    readiness: { ready: () => state.ready, draining: () => state.draining },
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    version: 'test',
    serveMetrics: true,
    tracing,
    ...overrides,
  });
  let closing: Promise<void> | undefined;
  return {
    app,
    metrics,
    queue,
    tracing,
    logs,
    state,
    request: (path, init) => app.handle(new Request(`http://localhost${path}`, init)),
    close: () =>
      (closing ??= (async () => {
        await queue.stop(1000);
        await queue.close();
        await tracing?.shutdown();
      })()),
  };
}

/**
 * The real queue, usable at once although it opens asynchronously: every call waits for it to be
 * open (a memory store opens within a tick), so buildTestApp stays synchronous for its callers.
 */
function openedLater(opening: Promise<Queue>): Queue {
  let opened: Queue | undefined;
  void opening.then((queue) => (opened = queue));
  return {
    enqueue: async (record, options) => (await opening).enqueue(record, options),
    status: async (id) => (await opening).status(id),
    stats: () =>
      opened?.stats() ?? {
        depth: { queued: 0, processing: 0, succeeded: 0, failed: 0 },
        oldestUnfinishedAgeSeconds: 0,
        capacity: 0,
        queueId: '',
        leader: true,
      },
    start: () => void opening.then((queue) => queue.start()),
    stop: async (graceMs) => (await opening).stop(graceMs),
    close: async () => (await opening).close(),
  };
}

export function postJson(t: TestApp, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return t.request('/submit_data', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** One sample's value from the registry, or 0 when the series does not exist (yet). */
export async function sampleValue(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metricName = name.replace(/_(count|sum)$/, '');
  const metric = metrics.registry.getSingleMetric(metricName) ?? metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  const hit = values.find(
    (v) => ((v as { metricName?: string }).metricName ?? metricName) === name && Object.entries(labels).every(([k, val]) => String(v.labels[k]) === val),
  );
  return hit?.value ?? 0;
}
