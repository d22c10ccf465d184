import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SPAN_KIND, startOtlpReceiver, type OtlpReceiver } from './support/otlp-receiver';
import { REPO_ROOT, startService, type RunningService } from './support/service';

/** A real pipewatch process exporting OTLP/HTTP to a receiver on a loopback port. */
let receiver: OtlpReceiver;
let service: RunningService | undefined;
beforeAll(() => {
  receiver = startOtlpReceiver();
});
afterAll(() => receiver.stop());
afterEach(async () => {
  await service?.stop('SIGKILL');
  service = undefined;
});

/**
 * Searched in every exported byte. The age (117) is checked on the decoded spans instead: as
 * text, any number turns up by chance inside hex ids and nanosecond timestamps.
 */
const PERSONAL = ['Zorblax', 'Quuxville'];

function tracingEnv(protocol: 'http/protobuf' | 'http/json', extra: Record<string, string> = {}) {
  return {
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
    OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=pipewatch-test',
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test',
    OTEL_BSP_SCHEDULE_DELAY: '100',
    PROCESSING_DELAY_MIN_MS: '0',
    PROCESSING_DELAY_MAX_MS: '2',
    ...extra,
  };
}

async function exercise(url: string) {
  const accepted = await fetch(`${url}/submit_data`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Zorblax', age: 117, city: 'Quuxville' }),
  });
  expect(accepted.status).toBe(202);
  const invalid = await fetch(`${url}/submit_data?city=Quuxville`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Zorblax', age: 'Quuxville', city: 'Quuxville' }),
  });
  expect(invalid.status).toBe(422);
  return { traceId: accepted.headers.get('x-trace-id')! };
}

/** The first log line matching `predicate`, waiting for it: log lines are written in batches (at least every 200 ms). */
async function logLine(s: RunningService, predicate: (line: Record<string, unknown>) => boolean) {
  for (let i = 0; i < 200; i++) {
    const line = s.logs().find(predicate);
    if (line) return line;
    await Bun.sleep(50);
  }
  return undefined;
}

function noPersonalData(r: OtlpReceiver) {
  const bytes = Buffer.concat(r.bodies.map((b) => Buffer.from(b))).toString('latin1');
  expect(bytes.length).toBeGreaterThan(0);
  for (const secret of PERSONAL) expect(bytes).not.toContain(secret);
  const values = r.spans.flatMap((span) =>
    [span.attributes, span.resource, ...span.events.map((e) => e.attributes), ...span.links.map((l) => l.attributes)].flatMap((a) => Object.values(a)),
  );
  expect(values.filter((v) => v === 117 || v === '117')).toEqual([]);
}

describe('a real process exporting OTLP over HTTP', () => {
  for (const protocol of ['http/protobuf', 'http/json'] as const) {
    test(`${protocol}: SERVER spans arrive with the resource, the export headers, and no personal data in any byte`, async () => {
      const before = receiver.bodies.length;
      service = await startService({ env: tracingEnv(protocol) });
      const { traceId } = await exercise(service.url);
      const spans = await receiver.waitFor((s) => s.some((x) => x.traceId === traceId && x.kind === SPAN_KIND.server));
      const span = spans.find((x) => x.traceId === traceId && x.kind === SPAN_KIND.server)!;
      expect(span.name).toBe('POST /submit_data');
      expect(span.attributes['http.response.status_code']).toBe(202);
      expect(span.resource).toMatchObject({ 'service.name': 'pipewatch', 'deployment.environment.name': 'test' });
      expect(receiver.contentTypes.at(-1)).toStartWith(protocol === 'http/json' ? 'application/json' : 'application/x-protobuf');
      expect(receiver.headers.at(-1)!.get('x-tenant')).toBe('pipewatch-test');
      expect(await logLine(service, (l) => l.msg === 'request' && l.trace_id === traceId)).toMatchObject({ route: '/submit_data', status: 202 });
      noPersonalData({ ...receiver, bodies: receiver.bodies.slice(before) });
    }, 30_000);
  }

  test('a job that fails: its retry and its dead-letter arrive as CONSUMER spans of the request trace', async () => {
    service = await startService({ env: tracingEnv('http/protobuf', { FAILURE_RATE: '1', MAX_ATTEMPTS: '2', RETRY_BASE_MS: '10', RETRY_MAX_MS: '20' }) });
    const res = await fetch(`${service.url}/submit_data`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Zorblax', age: 117, city: 'Quuxville' }),
    });
    const { id } = (await res.json()) as { id: string };
    const traceId = res.headers.get('x-trace-id')!;
    const attemptsOf = (s: typeof receiver.spans) => s.filter((x) => x.kind === SPAN_KIND.consumer && x.attributes['messaging.message.id'] === id);
    const spans = await receiver.waitFor((s) => attemptsOf(s).length === 2);
    const producer = spans.find((x) => x.kind === SPAN_KIND.producer && x.traceId === traceId)!;
    const attempts = attemptsOf(spans).sort((a, b) => Number(a.attributes['pipewatch.job.attempt']) - Number(b.attributes['pipewatch.job.attempt']));
    expect(attempts.map((a) => [a.traceId, a.parentSpanId, a.status.code, a.status.message, a.events.map((e) => e.name)])).toEqual([
      [traceId, producer.spanId, 2, 'processing_failed', ['retry scheduled']],
      [traceId, producer.spanId, 2, 'processing_failed', ['dead-lettered']],
    ]);
    // The dead-letter log line leads to the same trace.
    expect(await logLine(service, (l) => l.msg === 'job dead-lettered' && l.job_id === id)).toMatchObject({ trace_id: traceId, span_id: attempts[1]!.spanId });
    noPersonalData(receiver);
  }, 30_000);

  test('an export the receiver refuses with 503 is retried by the exporter', async () => {
    service = await startService({ env: tracingEnv('http/protobuf') });
    const attempts = receiver.bodies.length;
    receiver.failNext(1);
    const { traceId } = await exercise(service.url);
    await receiver.waitFor((s) => s.some((x) => x.traceId === traceId));
    expect(receiver.bodies.length - attempts).toBeGreaterThanOrEqual(2);
  }, 30_000);

  test('an unreachable collector is one warn line naming the error, not a crash and not a line per span', async () => {
    const closed = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response() });
    const deadUrl = `http://127.0.0.1:${closed.port}`;
    closed.stop(true);
    service = await startService({ env: tracingEnv('http/protobuf', { OTEL_EXPORTER_OTLP_ENDPOINT: deadUrl, OTEL_EXPORTER_OTLP_TIMEOUT: '1000' }) });
    for (let i = 0; i < 5; i++) await exercise(service.url);
    const line = await logLine(service, (l) => String(l.msg).startsWith('trace export failed'));
    expect(line).toMatchObject({ level: 'warn' });
    expect(JSON.stringify(line)).not.toContain(deadUrl);
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
    expect(service.logs().filter((l) => String(l.msg).startsWith('trace export failed')).length).toBe(1);
  }, 30_000);

  test('spans still in the batch are exported on SIGTERM', async () => {
    service = await startService({ env: tracingEnv('http/protobuf', { OTEL_BSP_SCHEDULE_DELAY: '600000', SHUTDOWN_DRAIN_MS: '0' }) });
    const { traceId } = await exercise(service.url);
    await Bun.sleep(200);
    expect(receiver.spans.some((x) => x.traceId === traceId)).toBe(false);
    expect(await service.stop('SIGTERM')).toBe(0);
    service = undefined;
    expect(receiver.spans.some((x) => x.traceId === traceId)).toBe(true);
  }, 30_000);
});

describe('the compiled binary', () => {
  let dir: string;
  beforeAll(async () => {
    const build = Bun.spawn([process.execPath, 'run', 'build'], { cwd: REPO_ROOT, stdout: 'pipe', stderr: 'pipe' });
    const [out, err, code] = await Promise.all([new Response(build.stdout).text(), new Response(build.stderr).text(), build.exited]);
    if (code !== 0) throw new Error(`bun run build failed (${code}):\n${out}\n${err}`);
    dir = mkdtempSync(join(tmpdir(), 'pipewatch-trace-binary-'));
    copyFileSync(join(REPO_ROOT, 'dist/pipewatch'), join(dir, 'pipewatch'));
    Bun.spawnSync(['chmod', '+x', join(dir, 'pipewatch')]);
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const protocol of ['http/protobuf', 'http/json'] as const) {
    test(`exports ${protocol} from a directory holding nothing but the binary`, async () => {
      service = await startService({
        command: [join(dir, 'pipewatch')],
        cwd: dir,
        dataDir: join(dir, `data-${protocol.replace('/', '-')}`),
        env: tracingEnv(protocol),
      });
      const { traceId } = await exercise(service.url);
      const spans = await receiver.waitFor((s) => s.some((x) => x.traceId === traceId && x.kind === SPAN_KIND.server));
      expect(spans.find((x) => x.traceId === traceId && x.kind === SPAN_KIND.server)!.name).toBe('POST /submit_data');
    }, 30_000);
  }
});
