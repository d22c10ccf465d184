/**
 * Prints one Markdown table row per Artillery report, for the README's load-testing table:
 *   bun artillery/summarize.ts artillery/reports/*.json
 * Columns: scenario, new clients/s (achieved, over the arrival phases), requests/s achieved,
 * POST /submit_data p50/p95/p99 (ms, client side), 5xx (of which 503), failed virtual users.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface Report {
  aggregate: {
    counters: Record<string, number>;
    rates: Record<string, number>;
    summaries: Record<string, Record<string, number>>;
    firstMetricAt: number;
    lastMetricAt: number;
  };
}

export function summarize(name: string, report: Report): string {
  const { counters, summaries, firstMetricAt, lastMetricAt } = report.aggregate;
  const seconds = Math.max(1, (lastMetricAt - firstMetricAt) / 1000);
  const submit = summaries['endpoint.response_time.submit'] ?? summaries['http.response_time'] ?? {};
  const requests = counters['http.requests'] ?? 0;
  const fiveXx = counters['pw.codes.5xx'] ?? 0;
  const backpressure = counters['pw.backpressure.503'] ?? 0;
  const cells = [
    name,
    (counters['vusers.created'] ?? 0).toString(),
    (requests / seconds).toFixed(1),
    requests.toString(),
    `${submit.p50 ?? '-'} / ${submit.p95 ?? '-'} / ${submit.p99 ?? '-'}`,
    `${fiveXx} (${backpressure} × 503)`,
    (counters['vusers.failed'] ?? 0).toString(),
  ];
  return `| ${cells.join(' | ')} |`;
}

if (import.meta.main) {
  console.log('| run | clients | req/s achieved | requests | submit p50 / p95 / p99 (ms) | 5xx | failed VUs |');
  console.log('|---|---|---|---|---|---|---|');
  for (const file of process.argv.slice(2)) {
    console.log(summarize(basename(file, '.json'), JSON.parse(readFileSync(file, 'utf8')) as Report));
  }
}
