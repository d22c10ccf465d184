import { afterAll, expect, test } from 'bun:test';
import { SPAN_KIND, startOtlpReceiver } from './support/otlp-receiver';
import { startPrometheus, type RunningPrometheus } from './support/prometheus';
import { startService, type RunningService } from './support/service';

let service: RunningService | undefined;
let prometheus: RunningPrometheus | undefined;
const receiver = startOtlpReceiver();
afterAll(async () => {
  await prometheus?.stop();
  await service?.stop('SIGKILL');
  receiver.stop();
});

interface ExemplarResult {
  seriesLabels: Record<string, string>;
  exemplars: Array<{ labels: Record<string, string>; value: string; timestamp: number }>;
}

test('a real Prometheus with exemplar storage returns exemplars whose trace ids are spans the receiver got', async () => {
  service = await startService({
    env: {
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      PROCESSING_DELAY_MIN_MS: '0',
      PROCESSING_DELAY_MAX_MS: '5',
    },
  });
  prometheus = await startPrometheus({ targets: [{ job: 'pipewatch', address: service.url }], extraArgs: ['--enable-feature=exemplar-storage'] });
  await prometheus.waitForTargetsUp(30_000);

  const exemplarsOf = async (metric: string) => {
    const now = Date.now() / 1000;
    const res = await fetch(`${prometheus!.url}/api/v1/query_exemplars?query=${encodeURIComponent(metric)}&start=${now - 600}&end=${now + 60}`);
    const body = (await res.json()) as { status: string; data: ExemplarResult[] };
    expect(body.status).toBe('success');
    return body.data.flatMap((d) => d.exemplars.map((e) => e.labels));
  };
  // Keep submitting (a few per second, bounded) until both histograms' exemplars were scraped.
  let found: { http: string[]; processing: string[] } | undefined;
  for (let round = 0; round < 60 && !found; round++) {
    for (let i = 0; i < 3; i++)
      await fetch(`${service.url}/submit_data`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"name":"Ravi","age":32,"city":"Delhi"}',
      });
    await Bun.sleep(500);
    const http = (await exemplarsOf('http_request_duration_seconds_bucket{route="/submit_data"}')).map((e) => e.trace_id!);
    const processing = (await exemplarsOf('app_processing_seconds_bucket')).map((e) => e.trace_id!);
    if (http.length > 0 && processing.length > 0) found = { http, processing };
  }
  expect(found).toBeDefined();
  await receiver.waitFor((spans) => [...found!.http, ...found!.processing].every((id) => spans.some((s) => s.traceId === id)));
  for (const id of found!.http)
    expect(receiver.spans.some((s) => s.traceId === id && s.kind === SPAN_KIND.server && s.name === 'POST /submit_data')).toBe(true);
  for (const id of found!.processing) expect(receiver.spans.some((s) => s.traceId === id && s.kind === SPAN_KIND.consumer)).toBe(true);

  // The counters Prometheus stored from OpenMetrics keep their text-format names.
  const samples = await prometheus.query('app_requests_total');
  expect(samples.length).toBe(1);
  // And a plain scrape is still the text format.
  const plain = await fetch(`${service.url}/metrics`);
  expect(plain.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  expect(await plain.text()).toContain('# TYPE app_requests_total counter');
}, 60_000);
