import type { MonitoringConfig } from './config';

/**
 * Small PromQL building blocks. A recording rule is written once as a function of `ref`, so the
 * same definition renders two ways: referencing other recorded series by name (Prometheus rule
 * files) or with every referenced rule expanded in place (Cloud Monitoring, which evaluates no
 * recording rules).
 */

export interface RecordingRule {
  record: string;
  /** Extra labels the rule attaches (e.g. `quantile`), so one name can hold several rules. */
  labels?: Record<string, string>;
  /** The expression, given how to refer to other recording rules. */
  build: (ref: Ref) => string;
  /** What the series means, for the README. */
  help: string;
}

/** Renders a reference to a recording rule inside another expression. */
export type Ref = (rule: RecordingRule) => string;

/** Prometheus rule files: by recorded name (plus the rule's own labels, to pick one of several). */
export const byName: Ref = (rule) => `${rule.record}${matchers(rule.labels ?? {})}`;

/** Cloud Monitoring: the rule's expression, recursively inlined. */
export const inline: Ref = (rule) => `(${rule.build(inline)})`;

export function matchers(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  return entries.length ? `{${entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}` : '';
}

/** `a|b|c` matching exactly these values (regex metacharacters escaped, PromQL-string safe). */
export function alternation(values: readonly string[]): string {
  return values.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
}

/** PromQL string literal of a regex (backslashes doubled). */
export function regexLiteral(values: readonly string[]): string {
  return JSON.stringify(alternation(values));
}

/** Selector helpers bound to one config. */
export function selectors(config: MonitoringConfig) {
  const job = `job=${JSON.stringify(config.selector.job)}`;
  const sli = `${job},route=~${regexLiteral(config.sliRoutes)}`;
  return {
    /** `job="pipewatch"` */
    job,
    /** `job="pipewatch",route=~"/submit_data|/submissions/:id"` */
    sli,
    /** `{job="pipewatch",<extra>}` */
    of: (extra?: string) => `{${extra ? `${job},${extra}` : job}}`,
  };
}

/**
 * Ratio of two counters' rates that is 0 (not "no data") when the numerator has no series yet:
 * a fresh instance that never answered a 5xx has no `status=~"5.."` series at all, and an alert
 * or panel must still read 0 rather than nothing.
 */
export function rateRatioOrZero(by: string, numerator: string, denominator: string, window: string): string {
  const den = `sum by (${by}) (rate(${denominator}[${window}]))`;
  return `(sum by (${by}) (rate(${numerator}[${window}])) or 0 * ${den}) / ${den}`;
}

/** Prometheus label value of a histogram bound, as prom-client renders it (`0.25`, `1`, `+Inf`). */
export function leValue(bound: number): string {
  return Number.isFinite(bound) ? String(bound) : '+Inf';
}
