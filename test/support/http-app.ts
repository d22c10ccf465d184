import { Writable } from 'node:stream';
import { createApp, type AppDeps } from '../../src/app';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { createMetrics, type Metrics } from '../../src/metrics';
import { createQueue, type Queue } from '../../src/queue';

export interface TestApp {
  app: ReturnType<typeof createApp>;
  metrics: Metrics;
  /** Every log line the app wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  /** Sends a request through app.handle (no network). */
  request: (path: string, init?: RequestInit) => Promise<Response>;
  /** Lets the queue finish and releases it. */
  close: () => Promise<void>;
  state: { ready: boolean; draining: boolean };
}

/**
 * The real app with the real queue (QUEUE_DRIVER=memory unless env says otherwise: these tests
 * are about HTTP, not disks), a real metrics registry, and a logger writing into `logs`.
 */
export function buildTestApp(overrides: Partial<AppDeps> = {}, env: Record<string, string> = {}): TestApp {
  const config = loadConfig({ QUEUE_DRIVER: 'memory', PROCESSING_DELAY_MIN_MS: '0', PROCESSING_DELAY_MAX_MS: '1', FAILURE_RATE: '0', ...env });
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const log = createLogger('info', sink);
  const metrics = createMetrics({ version: 'test', commit: 'test' });
  const queue = openedLater(createQueue(config, { metrics, log }));
  queue.start();
  const state = { ready: true, draining: false };
  const app = createApp({
    queue,
    metrics,
    log,
    readiness: { ready: () => state.ready, draining: () => state.draining },
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    version: 'test',
    serveMetrics: true,
    ...overrides,
  });
  return {
    app,
    metrics,
    logs,
    state,
    request: (path, init) => app.handle(new Request(`http://localhost${path}`, init)),
    close: async () => {
      await queue.stop(1000);
      await queue.close();
    },
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
