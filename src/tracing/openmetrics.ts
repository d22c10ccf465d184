import { Registry } from 'prom-client';
import type { Metrics } from '../metrics';

export const OPENMETRICS_CONTENT_TYPE = Registry.OPENMETRICS_CONTENT_TYPE;

/**
 * True when a scraper's Accept header prefers OpenMetrics (the only format that carries
 * exemplars) at least as much as the Prometheus text format: Prometheus sends e.g.
 * `application/openmetrics-text;version=1.0.0,...,text/plain;version=0.0.4;q=0.5`. No Accept,
 * `*\/*` or text only: the text format, exactly as without tracing.
 */
export function prefersOpenMetrics(accept: string | null): boolean {
  if (!accept) return false;
  let openMetrics = 0;
  let text = 0;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    const q = Number(params.find((p) => p.startsWith('q='))?.slice(2) ?? 1);
    if (!Number.isFinite(q)) continue;
    if (type === 'application/openmetrics-text') openMetrics = Math.max(openMetrics, q);
    else if (type === 'text/plain') text = Math.max(text, q);
  }
  return openMetrics > 0 && openMetrics >= text;
}

type Scraped = Pick<Metrics, 'registry' | 'scrapeDuration' | 'scrapeBytes'>;

/**
 * The registry rendered as OpenMetrics 1.0.0, exemplars included, without touching it.
 * prom-client renders OpenMetrics by renaming each counter object itself (`app_requests_total`
 * becomes `app_requests`) and never renames it back, so a registry that once served
 * OpenMetrics would change the text format of every later scrape. Here each metric is seen
 * through a view with a name of its own, registered in a throw-away OpenMetrics registry.
 */
export async function renderOpenMetrics(metrics: Scraped): Promise<string> {
  const stop = metrics.scrapeDuration.startTimer();
  // prom-client types its constructor without the content type it takes.
  const view = new (Registry as unknown as new (contentType: string) => Registry)(Registry.OPENMETRICS_CONTENT_TYPE);
  for (const metric of metrics.registry.getMetricsAsArray()) view.registerMetric(new MetricView(metric as unknown as ViewedMetric) as never);
  const body = await view.metrics();
  stop();
  metrics.scrapeBytes.set(Buffer.byteLength(body));
  return body;
}

interface ViewedMetric {
  name: string;
  help: string;
  type: string;
  aggregator: string;
  get(): Promise<{ name: string; values: unknown[] } & Record<string, unknown>>;
}

class MetricView {
  name: string;
  readonly help: string;
  readonly type: string;
  readonly aggregator: string;

  constructor(private readonly metric: ViewedMetric) {
    // OpenMetrics names the counter family without `_total`; its samples get it back.
    this.name = metric.type === 'counter' ? metric.name.replace(/_total$/, '') : metric.name;
    this.help = metric.help;
    this.type = metric.type;
    this.aggregator = metric.aggregator;
  }

  async get() {
    return { ...(await this.metric.get()), name: this.name };
  }
}
