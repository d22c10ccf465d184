import { expect, setSystemTime, test } from 'bun:test';
import { Counter, Histogram, Registry, type RegistryContentType } from 'prom-client';
import { HTTP_DURATION_BUCKETS } from '../src/metrics';
import { RedMetrics } from '../src/metrics/red';

const NAMES = { counter: 'http_requests_total', counterHelp: 'Requests.', histogram: 'http_request_duration_seconds', histogramHelp: 'Durations.' };

function registry(contentType: RegistryContentType): Registry<RegistryContentType> {
  const r = new Registry<RegistryContentType>();
  r.setContentType(contentType);
  return r;
}

/** Both implementations side by side, fed the same observations. */
function pair(contentType: RegistryContentType = Registry.PROMETHEUS_CONTENT_TYPE, exemplars = false) {
  const lean = registry(contentType);
  const red = new RedMetrics(lean, NAMES, HTTP_DURATION_BUCKETS);
  const reference = registry(contentType);
  const labelNames = ['method', 'route', 'status'] as const;
  const counter = new Counter({ name: NAMES.counter, help: NAMES.counterHelp, labelNames, registers: [reference], enableExemplars: exemplars });
  const histogram = new Histogram({
    name: NAMES.histogram,
    help: NAMES.histogramHelp,
    labelNames,
    buckets: HTTP_DURATION_BUCKETS,
    registers: [reference],
    enableExemplars: exemplars,
  });
  const observe = (method: string, route: string, status: number, seconds: number, exemplar?: Record<string, string>) => {
    red.series(method, route, status).record(seconds, exemplar);
    const labels = { method, route, status: String(status) };
    if (exemplars) {
      counter.inc({ labels, value: 1 });
      histogram.observe({ labels, value: seconds, exemplarLabels: exemplar ?? {} });
    } else {
      counter.inc(labels);
      histogram.observe(labels, seconds);
    }
  };
  return { lean, reference, observe };
}

/** Every bucket bound exactly, just above and below, 0, above the largest, and odd route text. */
function feed(observe: ReturnType<typeof pair>['observe'], exemplar?: (i: number) => Record<string, string>) {
  const values = [0, ...HTTP_DURATION_BUCKETS.flatMap((b) => [b, b * 0.999, b * 1.001]), 7, 1e-9, 123.456];
  let i = 0;
  for (const v of values) {
    observe('POST', '/submit_data', 202, v, exemplar?.(i++));
    observe('GET', '/submissions/:id', 404, v / 3, exemplar?.(i++));
  }
  observe('OTHER', '__unmatched__', 405, 0.0001);
  observe('GET', '/odd "quoted" \\ path\nline', 200, 0.002);
  observe('POST', '/submit_data', 503, 0.3);
}

test('the lean RED metrics render byte for byte what prom-client renders for the same observations', async () => {
  const { lean, reference, observe } = pair();
  expect(await lean.metrics()).toBe(await reference.metrics()); // nothing observed yet
  feed(observe);
  const text = await lean.metrics();
  expect(text).toContain('http_request_duration_seconds_bucket{le="0.0005",method="POST",route="/submit_data",status="202"}');
  expect(text).toBe(await reference.metrics());
  expect(await lean.getMetricsAsJSON()).toEqual(await reference.getMetricsAsJSON());
});

test('with exemplars, in OpenMetrics, the exposition is the same too', async () => {
  setSystemTime(new Date('2026-12-01T12:00:00.123Z'));
  try {
    const { lean, reference, observe } = pair(Registry.OPENMETRICS_CONTENT_TYPE, true);
    feed(observe, (i) => ({ trace_id: `${i}`.padStart(32, '0') }));
    const text = await lean.metrics();
    expect(text).toContain(' # {trace_id="');
    expect(text).toBe(await reference.metrics());
  } finally {
    setSystemTime();
  }
});

test('reset empties every series', async () => {
  const { lean, reference, observe } = pair();
  feed(observe);
  lean.resetMetrics();
  reference.resetMetrics();
  expect(await lean.metrics()).toBe(await reference.metrics());
});
