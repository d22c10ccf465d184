import type { Registry, RegistryContentType } from 'prom-client';

/** Exemplar labels for one observation (e.g. `{ trace_id }`); the last one per bucket is kept, as prom-client does. */
export type ExemplarLabels = Record<string, string>;

type Labels = Readonly<Record<'method' | 'route' | 'status', string>>;
interface Exemplar {
  labelSet: ExemplarLabels;
  value: number;
  timestamp: number;
}
interface Sample {
  value: number;
  labels: Record<string, string | number>;
  sharedLabels?: Labels;
  metricName?: string;
  exemplar?: Exemplar | null;
}

/** One (method, route, status): everything an answered request updates, resolved once. */
export class RequestSeries {
  count = 0;
  sum = 0;
  /** Per-bucket (not cumulative) counts; the last slot is above the highest bound (+Inf only). */
  readonly buckets: Float64Array;
  exemplars: Array<Exemplar | null> | undefined;

  constructor(
    readonly labels: Labels,
    private readonly bounds: readonly number[],
  ) {
    this.buckets = new Float64Array(bounds.length + 1);
  }

  /** One answered request: counts it in the counter and observes its duration in the histogram. */
  record(seconds: number, exemplar?: ExemplarLabels): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]!) i++;
    this.buckets[i]!++;
    this.count++;
    this.sum += seconds;
    if (exemplar) (this.exemplars ??= new Array(bounds.length + 1).fill(null))[i] = { labelSet: exemplar, value: seconds, timestamp: Date.now() / 1000 };
  }
}

/**
 * RED metrics for HTTP without prom-client's per-call work (label validation, hashing, a label
 * object per call): the observability hook looks up its (method, route, status) series in three
 * small maps and adds numbers. Exposed as two metrics registered in the ordinary prom-client
 * registry, rendered by it: the exposition is the one prom-client's own Counter and Histogram
 * give for the same observations (test/http-red-metrics.test.ts compares them byte for byte).
 */
export class RedMetrics {
  private readonly index = new Map<string, Map<string, Map<number, RequestSeries>>>();
  private readonly all: RequestSeries[] = [];

  constructor(
    registry: Registry<RegistryContentType>,
    private readonly names: { counter: string; counterHelp: string; histogram: string; histogramHelp: string },
    private readonly bounds: readonly number[],
  ) {
    const reset = () => this.reset();
    // The registry takes any object with a metric's shape; the casts are the price of prom-client typing only its own classes.
    registry.registerMetric(new Exposition(names.counter, names.counterHelp, 'counter', () => this.counterSamples(), reset) as never);
    registry.registerMetric(new Exposition(names.histogram, names.histogramHelp, 'histogram', () => this.histogramSamples(), reset) as never);
  }

  /** The series of one (method, route, status), created on first use. */
  series(method: string, route: string, status: number): RequestSeries {
    let byRoute = this.index.get(method);
    if (!byRoute) this.index.set(method, (byRoute = new Map()));
    let byStatus = byRoute.get(route);
    if (!byStatus) byRoute.set(route, (byStatus = new Map()));
    let series = byStatus.get(status);
    if (!series) {
      series = new RequestSeries(Object.freeze({ method, route, status: String(status) }), this.bounds);
      byStatus.set(status, series);
      this.all.push(series);
    }
    return series;
  }

  private reset(): void {
    this.index.clear();
    this.all.length = 0;
  }

  private counterSamples(): Sample[] {
    return this.all.map((s) => ({ value: s.count, labels: s.labels }));
  }

  /** The samples prom-client's Histogram gives: cumulative buckets, +Inf, _sum, _count per series. */
  private histogramSamples(): Sample[] {
    const out: Sample[] = [];
    const bucket = `${this.names.histogram}_bucket`;
    const sum = `${this.names.histogram}_sum`;
    const count = `${this.names.histogram}_count`;
    const n = this.bounds.length;
    for (const s of this.all) {
      let cumulative = 0;
      for (let i = 0; i < n; i++) {
        cumulative += s.buckets[i]!;
        out.push({ labels: { le: this.bounds[i]! }, sharedLabels: s.labels, value: cumulative, metricName: bucket, exemplar: s.exemplars?.[i] ?? null });
      }
      out.push({ labels: { le: '+Inf' }, sharedLabels: s.labels, value: s.count, metricName: bucket, exemplar: s.exemplars?.[n] ?? null });
      out.push({ labels: {}, sharedLabels: s.labels, value: s.sum, metricName: sum });
      out.push({ labels: {}, sharedLabels: s.labels, value: s.count, metricName: count });
    }
    return out;
  }
}

/** What prom-client's Registry asks of a metric: name, help, type, samples, reset. */
class Exposition {
  readonly aggregator = 'sum';
  readonly labelNames = ['method', 'route', 'status'];

  constructor(
    public name: string,
    readonly help: string,
    readonly type: 'counter' | 'histogram',
    private readonly samples: () => Sample[],
    readonly reset: () => void,
  ) {}

  /** Used by the text rendering; `this.name`, because the registry renames counters for OpenMetrics. */
  async getForPromString() {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.samples() };
  }

  /** The same samples with the series labels merged in, as prom-client's get() gives them. */
  async get() {
    const values = this.samples().map(({ sharedLabels, labels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } }));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
