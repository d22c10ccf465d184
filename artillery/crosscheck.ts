/**
 * Cross-checks a load run: do the service's own metrics, as scraped by Prometheus, agree with
 * what Artillery measured from the outside? Exits 1 on any disagreement.
 *
 *   bun artillery/crosscheck.ts --report artillery/reports/load.json --prometheus http://127.0.0.1:9090 \
 *     [--selector '{job="pipewatch"}'] [--request submit] [--from MS --to MS]
 *
 * Checks (over the run's window, from the report's first/last metric time unless --from/--to):
 * 1. requests: the increase of `app_requests_total` equals the POST /submit_data requests Artillery
 *    got an answer to (up to the number sent: an unanswered request may or may not have arrived).
 *    The exact increase is the difference of the raw counter samples just before and after the
 *    run; PromQL's increase() extrapolates to the window edges, so it is printed for reference only.
 * 2. accepted: the increase of `http_requests_total{route="/submit_data",status="202"}` equals
 *    Artillery's count of 202 answers.
 * 3. latency: the bucket of `http_request_duration_seconds` (POST /submit_data) holding the
 *    service's p95 is the one holding Artillery's p95, or its neighbour ("within one bucket").
 *    Artillery measures from the client (time to first byte), so it may read one bucket higher.
 *
 * Only this run's traffic may reach the service meanwhile, and the service must not restart.
 */
import { readFileSync } from 'node:fs';

export interface ArtilleryRun {
  /** Unix ms of the first and last metric Artillery recorded. */
  firstMetricAt: number;
  lastMetricAt: number;
  posts: number;
  postResponses: number;
  accepted: number;
  /** Client-side latency of the named POST /submit_data request, in ms. */
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

interface ArtilleryReport {
  aggregate: {
    counters: Record<string, number>;
    summaries: Record<string, Record<string, number>>;
    firstMetricAt: number;
    lastMetricAt: number;
  };
}

/** The numbers the cross-check needs from an `artillery run --output` report. */
export function readArtilleryRun(report: ArtilleryReport, requestName = 'submit'): ArtilleryRun {
  const { counters, summaries, firstMetricAt, lastMetricAt } = report.aggregate;
  const latency = summaries[`endpoint.response_time.${requestName}`];
  if (!latency) throw new Error(`the report has no endpoint.response_time.${requestName}: was the scenario's POST named "${requestName}"?`);
  if (counters['pw.submit_data.posts'] === undefined)
    throw new Error('the report has no pw.submit_data.posts counter: run a pipewatch scenario (artillery/processors/pipewatch.ts)');
  return {
    firstMetricAt,
    lastMetricAt,
    posts: counters['pw.submit_data.posts'] ?? 0,
    postResponses: counters['pw.submit_data.responses'] ?? 0,
    accepted: counters[`endpoint.${requestName}.codes.202`] ?? 0,
    p50Ms: latency.p50 ?? latency.median ?? NaN,
    p95Ms: latency.p95 ?? NaN,
    p99Ms: latency.p99 ?? NaN,
  };
}

/** Cumulative histogram buckets: upper bound (seconds, Infinity for +Inf) => count. */
export type Buckets = Array<{ le: number; count: number }>;

/** Index of the bucket holding quantile q: the first whose cumulative count reaches q of the total. */
export function bucketOfQuantile(buckets: Buckets, q: number): number {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total === 0) return -1;
  return sorted.findIndex((b) => b.count >= q * total);
}

/** Index of the bucket a value (seconds) falls into: the first upper bound >= value. */
export function bucketOfValue(buckets: Buckets, seconds: number): number {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  return sorted.findIndex((b) => seconds <= b.le);
}

function bucketLabel(buckets: Buckets, index: number): string {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  if (index < 0) return 'none';
  const lower = index === 0 ? 0 : sorted[index - 1]!.le;
  const upper = sorted[index]!.le;
  const ms = (s: number) => (s === Infinity ? '+Inf' : `${Math.round(s * 1e4) / 10} ms`);
  return `(${ms(lower)}, ${ms(upper)}]`;
}

export interface ServiceNumbers {
  /** Exact increase of sum(app_requests_total) over the window. */
  requests: number;
  /** PromQL increase() over the same window, extrapolated: reference only. */
  requestsIncrease: number;
  accepted: number;
  /** Increase of each cumulative bucket of POST /submit_data's duration histogram. */
  buckets: Buckets;
  /** histogram_quantile(0.95) over those increases, seconds (interpolated inside the bucket). */
  p95Seconds: number;
  restarts: number;
}

export interface Check {
  name: string;
  ok: boolean;
  artillery: string;
  service: string;
  note: string;
}

export function compare(run: ArtilleryRun, service: ServiceNumbers): Check[] {
  const checks: Check[] = [];
  checks.push({
    name: 'no restart',
    ok: service.restarts === 0,
    artillery: '-',
    service: `${service.restarts} counter reset(s)`,
    note: 'a restart resets the counters and voids the comparison',
  });
  checks.push({
    name: 'requests',
    ok: service.requests >= run.postResponses && service.requests <= run.posts,
    artillery: run.posts === run.postResponses ? `${run.posts} POST /submit_data` : `${run.postResponses}..${run.posts} POST /submit_data (answered..sent)`,
    service: `${service.requests} app_requests_total (increase() says ${Math.round(service.requestsIncrease * 10) / 10})`,
    note: 'exact sample difference; increase() extrapolates to the window edges',
  });
  checks.push({
    name: 'accepted',
    ok: service.accepted === run.accepted,
    artillery: `${run.accepted} x 202`,
    service: `${service.accepted} http_requests_total{status="202"}`,
    note: 'route /submit_data',
  });
  const serviceBucket = bucketOfQuantile(service.buckets, 0.95);
  const artilleryBucket = bucketOfValue(service.buckets, run.p95Ms / 1000);
  checks.push({
    name: 'p95 latency',
    ok: serviceBucket >= 0 && artilleryBucket >= 0 && Math.abs(serviceBucket - artilleryBucket) <= 1,
    artillery: `${run.p95Ms} ms in ${bucketLabel(service.buckets, artilleryBucket)}`,
    service: `${Math.round(service.p95Seconds * 1e5) / 100} ms in ${bucketLabel(service.buckets, serviceBucket)}`,
    note: 'same or neighbouring bucket of http_request_duration_seconds',
  });
  return checks;
}

export type PrometheusQuery = (promql: string, timeSeconds: number) => Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;

/** An instant-query function over Prometheus's HTTP API. */
export function prometheusApi(baseUrl: string): PrometheusQuery {
  return async (promql, timeSeconds) => {
    const response = await fetch(`${baseUrl.replace(/\/$/, '')}/api/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ query: promql, time: String(timeSeconds) }),
    });
    const body = (await response.json()) as { status: string; error?: string; data: { resultType: string; result: unknown } };
    if (body.status !== 'success') throw new Error(`prometheus: ${body.error} (query: ${promql})`);
    if (body.data.resultType === 'scalar') return [{ metric: {}, value: body.data.result as [number, string] }];
    return body.data.result as Array<{ metric: Record<string, string>; value: [number, string] }>;
  };
}

function single(samples: Array<{ value: [number, string] }>): number {
  return samples.length === 0 ? 0 : Number(samples[0]!.value[1]);
}

/** Adds label matchers to a `{job="x"}`-style selector. */
function withLabels(selector: string, extra: string): string {
  const inner = selector
    .trim()
    .replace(/^\{|\}$/g, '')
    .trim();
  return `{${[inner, extra].filter(Boolean).join(',')}}`;
}

/**
 * Waits until Prometheus holds a sample of app_requests_total scraped after `afterSeconds`,
 * so the "after" value includes the run's last request.
 */
export async function waitForScrapeAfter(query: PrometheusQuery, selector: string, afterSeconds: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = Date.now() / 1000;
    const stamp = single(await query(`max(timestamp(app_requests_total${selector}))`, now));
    if (stamp > afterSeconds) return;
    if (Date.now() > deadline)
      throw new Error(`no scrape of app_requests_total${selector} after the run within ${timeoutMs} ms: is Prometheus scraping the service?`);
    await Bun.sleep(500);
  }
}

/** The service's numbers between two instants (unix seconds), from raw samples and increase(). */
export async function serviceNumbers(query: PrometheusQuery, selector: string, fromSeconds: number, toSeconds: number): Promise<ServiceNumbers> {
  const window = `${Math.max(1, Math.ceil(toSeconds - fromSeconds))}s`;
  const at = async (promql: string, t: number) => single(await query(promql, t));
  const delta = async (promql: string) => (await at(promql, toSeconds)) - (await at(promql, fromSeconds));

  const requests = await delta(`sum(app_requests_total${selector})`);
  const requestsIncrease = await at(`sum(increase(app_requests_total${selector}[${window}]))`, toSeconds);
  const restarts = await at(`sum(resets(app_requests_total${selector}[${window}]))`, toSeconds);
  const route = withLabels(selector, 'route="/submit_data",method="POST"');
  const accepted = await delta(`sum(http_requests_total${withLabels(selector, 'route="/submit_data",status="202"')})`);

  const bucketQuery = `sum by (le) (http_request_duration_seconds_bucket${route})`;
  const [after, before] = await Promise.all([query(bucketQuery, toSeconds), query(bucketQuery, fromSeconds)]);
  const beforeByLe = new Map(before.map((s) => [s.metric.le, Number(s.value[1])]));
  const buckets: Buckets = after.map((s) => ({
    le: s.metric.le === '+Inf' ? Infinity : Number(s.metric.le),
    count: Number(s.value[1]) - (beforeByLe.get(s.metric.le) ?? 0),
  }));
  const p95Seconds = await at(`histogram_quantile(0.95, sum by (le) (increase(http_request_duration_seconds_bucket${route}[${window}])))`, toSeconds);
  return { requests, requestsIncrease, accepted, buckets, p95Seconds, restarts };
}

export interface CrossCheckOptions {
  report: ArtilleryReport;
  prometheusUrl: string;
  selector?: string;
  requestName?: string;
  /** Unix ms; default: the report's first metric minus 5 s / last metric plus 1 s. */
  fromMs?: number;
  toMs?: number;
}

export async function crossCheck(options: CrossCheckOptions): Promise<{ ok: boolean; checks: Check[]; run: ArtilleryRun; service: ServiceNumbers }> {
  const run = readArtilleryRun(options.report, options.requestName);
  const selector = options.selector ?? '{job="pipewatch"}';
  const query = prometheusApi(options.prometheusUrl);
  const from = (options.fromMs ?? run.firstMetricAt - 5_000) / 1000;
  const to = (options.toMs ?? run.lastMetricAt + 1_000) / 1000;
  await waitForScrapeAfter(query, selector, to);
  const service = await serviceNumbers(query, selector, from, Math.max(to, Date.now() / 1000));
  const checks = compare(run, service);
  return { ok: checks.every((c) => c.ok), checks, run, service };
}

export function formatChecks(checks: Check[]): string {
  const rows = checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.name.padEnd(12)} artillery: ${c.artillery.padEnd(44)} service: ${c.service}  (${c.note})`);
  return rows.join('\n');
}

function parseArgs(argv: string[]): CrossCheckOptions {
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const reportPath = get('--report');
  const prometheusUrl = get('--prometheus') ?? process.env.PROMETHEUS_URL;
  if (!reportPath || !prometheusUrl) {
    throw new Error(
      'usage: bun artillery/crosscheck.ts --report REPORT.json --prometheus URL [--selector \'{job="pipewatch"}\'] [--request submit] [--from MS --to MS]',
    );
  }
  const from = get('--from');
  const to = get('--to');
  return {
    report: JSON.parse(readFileSync(reportPath, 'utf8')) as ArtilleryReport,
    prometheusUrl,
    selector: get('--selector'),
    requestName: get('--request'),
    fromMs: from === undefined ? undefined : Number(from),
    toMs: to === undefined ? undefined : Number(to),
  };
}

if (import.meta.main) {
  try {
    const result = await crossCheck(parseArgs(process.argv.slice(2)));
    console.log(formatChecks(result.checks));
    console.log(result.ok ? 'cross-check: the service and Artillery agree' : 'cross-check: DISAGREEMENT between the service and Artillery');
    process.exit(result.ok ? 0 : 1);
  } catch (error) {
    console.error(`artillery/crosscheck.ts: ${(error as Error).message}`);
    process.exit(2);
  }
}
