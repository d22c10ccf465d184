import { Gauge, Histogram, type Registry } from 'prom-client';

/** The cost of being observed: how long /metrics takes to render and how big it is. */
export function scrapeMetrics(registry: Registry) {
  return {
    scrapeDuration: new Histogram({
      name: 'pipewatch_metrics_scrape_duration_seconds',
      help: 'Time spent rendering /metrics. Rendering blocks the event loop, so this is latency every other request may pay.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
      registers: [registry],
    }),
    scrapeBytes: new Gauge({
      name: 'pipewatch_metrics_exposition_bytes',
      help: 'Size of the previous /metrics response body. A jump means a new series explosion.',
      registers: [registry],
    }),
  };
}

type Scraped = { registry: Registry } & ReturnType<typeof scrapeMetrics>;

/** Renders the exposition (live values are pulled by each metric's collect()) and records what rendering cost. */
export async function renderMetrics(metrics: Scraped): Promise<string> {
  const stop = metrics.scrapeDuration.startTimer();
  const body = await metrics.registry.metrics();
  stop();
  metrics.scrapeBytes.set(Buffer.byteLength(body));
  return body;
}
