import { inhibitions } from './alertmanager';
import { runbookAnchor, type AlertRule } from './alerts';
import type { MonitoringConfig } from './config';
import { byName, type RecordingRule } from './promql';
import { pct } from './format';

/**
 * The README's Monitoring section, rendered from the same source as the rules and the dashboard,
 * so every panel, alert, PromQL expression and runbook it lists is the one actually deployed.
 */

export const README_MARKERS = { start: '<!-- section:monitoring -->', end: '<!-- /section:monitoring -->' } as const;

export interface DashboardJson {
  title: string;
  uid: string;
  panels: Array<{
    type: string;
    title: string;
    description?: string;
    fieldConfig?: { defaults?: { unit?: string } };
    targets?: Array<{ expr: string; legendFormat?: string }>;
  }>;
}

/** Inline code inside a Markdown table cell: pipes escaped so they do not split the cell. */
const cellCode = (text: string) => `\`${text.replace(/\|/g, '\\|')}\``;

export function readmeSection(
  config: MonitoringConfig,
  input: {
    dashboard: DashboardJson;
    alerts: AlertRule[];
    recordings: RecordingRule[];
    pagesAfter: Map<string, string>;
    cloudPagesAfter: Map<string, string>;
    screenshot?: string;
  },
): string {
  const { dashboard, alerts, recordings } = input;
  const slo = config.slo;
  const lines: string[] = [];
  const out = (...l: string[]) => lines.push(...l);

  out(
    '## Monitoring',
    '',
    'Monitoring is code, generated from one source in the way of the monitoring mixins: `infra/monitoring/config.ts` holds the job',
    'selector, SLO targets, alert thresholds and windows; `bun run generate:monitoring` renders everything below from it. The generated',
    'files are committed, and `test/monitoring-generated.test.ts` fails when one is stale. Change the config, regenerate, commit.',
    '',
    '| generated file | used by |',
    '| --- | --- |',
    '| `infra/prometheus/prometheus.yml` | local stack Prometheus: scrapes `pipewatch:8000/metrics` (job `pipewatch`) and itself every ' +
      `${config.scrapeIntervalSeconds} s, loads \`/etc/prometheus/rules/*.yml\` |`,
    "| `infra/prometheus/rules/pipewatch-recording.yml`, `pipewatch-alerts.yml` | recording and alert rules (Prometheus 2.42+ / the stack's v2.53 LTS) |",
    '| `infra/prometheus/tests/pipewatch-alerts.test.yml`, `pipewatch-slo-slow-burn.test.yml` | `promtool test rules` unit tests: every alert fires in one scenario and stays quiet in another (1 m / 5 m steps) |',
    `| \`infra/prometheus/tests/pipewatch-scenarios.test.yml\` | failure and quiet scenarios at the real ${config.evaluationIntervalSeconds} s interval after 6 h of healthy history (\`infra/monitoring/scenarios.ts\`): they prove the "pages after" column below |`,
    '| `infra/monitoring/generated/alertmanager.yml` | local stack Alertmanager: critical → receiver `page`, warning → `ticket`, grouped by `job`, inhibitions below (checked by `amtool check-config`) |',
    '| `infra/monitoring/generated/cloud-alerts.json` | GCP stack: Cloud Monitoring PromQL alert policies, same alerts with the recording rules inlined |',
    `| \`dashboards/${dashboard.uid}.json\` | Grafana 11.6 dashboard (schema from \`@grafana/grafana-foundation-sdk\` 11.6), built in \`dashboards/src/\` |`,
    '| `dashboards/provisioning/` | Grafana provisioning: datasource uid `prometheus` → `http://prometheus:9090`, dashboards from `/var/lib/grafana/dashboards` |',
    '',
    '```sh',
    'bun run generate:monitoring          # dashboards/generate.ts, then infra/monitoring/generate.ts',
    'promtool test rules infra/prometheus/tests/*.test.yml',
    'bun test test/monitoring-*.test.ts   # staleness, promtool (incl. the 15 s scenarios), amtool, dashboard lint, live alerts, end-to-end',
    '```',
    '',
    '### SLOs',
    '',
    `- **Availability**: ${pct(slo.availability.target)} of requests to ${config.sliRoutes.map((r) => `\`${r}\``).join(' and ')} are answered without a 5xx, over ${slo.period}.`,
    `- **Latency**: ${pct(slo.latency.target)} of those requests (non-5xx) are answered within ${slo.latency.thresholdSeconds} s (a bucket bound of \`http_request_duration_seconds\`).`,
    `- Alerting follows the SRE workbook's multi-window, multi-burn-rate scheme: **fast burn** pages (${slo.burnRate.fast.windows.map((w) => `${w.factor}x over ${w.long} and ${w.short}`).join('; ')}),`,
    `  **slow burn** opens a ticket (${slo.burnRate.slow.windows.map((w) => `${w.factor}x over ${w.long} and ${w.short}`).join('; ')}). The short window lets an alert resolve soon after the burning stops.`,
    '',
    '### Open the dashboard (local stack)',
    '',
    "Bring the local stack up (see the deploy section), then open Grafana at `http://localhost:3000` (the stack's `grafanaPort`,",
    '`pulumi stack output grafanaUrl`; admin password: `pulumi stack output grafanaAdminPassword --show-secrets`) and go to',
    `**Dashboards → pipewatch / service**, or straight to \`http://localhost:3000/d/${dashboard.uid}\`. Prometheus itself is at`,
    "`http://localhost:9090` (Alerts tab: rule state; Status → Targets: scrape health). The dashboard's variables pick the data",
    'source and the instance(s); its panels use `$__rate_interval`, which the provisioned datasource bases on the scrape interval.',
    '',
  );
  if (input.screenshot) {
    out(
      `![Prometheus graph of the processing failure ratio during the end-to-end test](${input.screenshot})`,
      '',
      "*Prometheus's graph page at the end of the end-to-end test (real services, real Prometheus, 1 s scrape): the recorded",
      '`job:app_processing_failures:ratio_rate5m` of the healthy service settles near its `FAILURE_RATE=0.15`, the broken',
      'service (`FAILURE_RATE=1`, job `pipewatch-broken`) sits at 1 and fires PipewatchProcessingFailureRatioHigh.*',
      '',
    );
  }

  out(
    '### Dashboard panels',
    '',
    `Dashboard **${dashboard.title}** (uid \`${dashboard.uid}\`). Raw-metric panels select \`{job="${config.selector.job}",instance=~"$instance"}\`.`,
    '',
  );
  for (const panel of dashboard.panels) {
    if (panel.type === 'row') {
      out('', `**${panel.title}**`, '', '| panel | unit | shows | PromQL |', '| --- | --- | --- | --- |');
      continue;
    }
    const queries = (panel.targets ?? []).map((t) => cellCode(t.expr)).join('<br>');
    out(`| ${panel.title} | ${panel.fieldConfig?.defaults?.unit ?? ''} | ${panel.description ?? ''} | ${queries} |`);
  }

  out(
    '',
    '### Recording rules',
    '',
    'Named `level:metric:operations`; `infra/prometheus/rules/pipewatch-recording.yml`.',
    '',
    '| series | meaning | PromQL |',
    '| --- | --- | --- |',
  );
  for (const rule of recordings) {
    const labels = rule.labels
      ? `{${Object.entries(rule.labels)
          .map(([k, v]) => `${k}="${v}"`)
          .join(',')}}`
      : '';
    out(`| \`${rule.record}${labels}\` | ${rule.help} | ${cellCode(rule.build(byName))} |`);
  }

  out(
    '',
    '### Alerts and runbooks',
    '',
    `"Pages after" is each alert's worst-case time-to-fire at the configured ${config.scrapeIntervalSeconds} s scrape and ${config.evaluationIntervalSeconds} s evaluation intervals, stated next to the`,
    'alert in `infra/monitoring/alerts.ts` (one scrape until a sample shows the failure, the time until the condition holds, `for`, one',
    'evaluation). "scenario-tested": `pipewatch-scenarios-{1,2}.test.yml` stage that failure after healthy history (6 h where a burn-rate',
    'window decides, 1 h elsewhere: a shorter history only makes long-window ratios larger, so "quiet" with it is the stricter claim) and check the alert is',
    "firing at that bound less one evaluation interval (promtool evaluates right on the sample) and not at the failure's start.",
    'Goals met by the scenarios: a total outage of submissions pages (PipewatchSubmissionsFailing) in under 2 minutes, a processing',
    'stall (PipewatchProcessingStalled) and a latency collapse (PipewatchHighLatencyP99) alert in under 5, an instance loss',
    '(PipewatchTargetDown) in under 3; and no alert at all (page or ticket) fires in the 15 minutes after a healthy hour, for a service',
    "with 4 requests a minute and one 503 an hour, after a 45 s total outage, or through a rolling restart's 503 `draining`, one failed",
    'scrape and counters starting again from 0. The scenarios also check that the backlog rule',
    "counts a shared queue once (3 instances, leader hand-over overlap) and sums 3 sqlite instances' own queues.",
    '',
    'Live check (`test/monitoring-live-alerts.test.ts`): a real service whose every processing attempt takes 10 minutes and whose',
    'QUEUE_CAPACITY is 3 (so it stalls, then answers every submission 503), scraped by a real Prometheus. The intervals, and the',
    'windows and `for` of the two fast pages, are 15x shorter there (1 s); PipewatchSubmissionsFailing and PipewatchProcessingStalled',
    "must fire within the same formula's bound (7 s and 14 s, i.e. 105 s and 3.5 min at 15 s) plus a few seconds of slack for a loaded",
    'machine. The figures above are the 15 s ones.',
    '',
    'Shared queue, live (`test/monitoring-shared-queue.test.ts`): three service processes on one real PostgreSQL queue (2 workers',
    'each, 4 s per job, so a backlog of 60-80 jobs builds under a steady trickle of submissions), scraped every 1 s by a real Prometheus',
    'running the shipped recording rules. `job:pipewatch_queue_backlog_jobs:sum` and the "Backlog by state" panel\'s expression equal',
    'a `SELECT count(*)` of queued + processing rows taken in the 8 s before (1x, not 3x: with every instance exporting and the',
    '`max by (queue, ...)` dedupe removed the rule read 225 against 61-80 rows), and exactly one instance reports',
    '`pipewatch_queue_leader` 1 and exports the queue gauges. SIGKILL of that leader: another instance took the lease (TTL 5 s) and',
    'reported leader 1 on its own /metrics 4.0-6.0 s later, in Prometheus 4.2-6.8 s later (16 runs, load 1-11 on 2 cores; the',
    "test's bound is 15 s). Until then the backlog series has a gap of up to 7 s (no leader exports), never a wrong value. With",
    'PostgreSQL stopped, PipewatchQueueDatabaseUnreachable (`for` shortened to 2 s there, expression as shipped) fired 2.3-3.7 s',
    'after the stop and every submission was answered 503 with Retry-After, none 500. While the database is unreachable no',
    'instance reports leader 1 (an instance whose figures cannot be refreshed stops exporting them), so the backlog panel shows',
    'a gap rather than a frozen value.',
    '',
    '**On GCP** (Cloud Monitoring PromQL policies from `cloud-alerts.json`) the same expressions run with the recording rules inlined,',
    "`duration` = the rule's `for` (the condition must be true at every evaluation for that long, as in Prometheus), but the policy is",
    'evaluated every 60 s (`evaluationInterval` in infra/gcp/alerting.ts) over data the Cloud Run collector scrapes every 30 s (stack',
    'config `scrapeInterval`); Managed Prometheus\'s ingestion delay comes on top and is not included. The "on GCP" column is the same',
    'bound at those intervals. Cloud Monitoring has no inhibition rules: every policy opens its own incidents and notifies on its own,',
    'with its severity (critical → CRITICAL, warning → WARNING) for routing by channel. With a 30 s scrape the 1 m windows of the fast symptom alerts hold only two or three samples; set `scrapeInterval: 15s`',
    'on a stack that pages from them.',
    '',
    '| alert | severity | for | pages after | on GCP | PromQL |',
    '| --- | --- | --- | --- | --- | --- |',
  );
  for (const alert of alerts)
    out(
      `| [${alert.alert}](#${runbookAnchor(alert.alert)}) | ${alert.severity} | ${alert.for} | ${input.pagesAfter.get(alert.alert) ?? ''} | ${input.cloudPagesAfter.get(alert.alert) ?? ''} | ${cellCode(alert.build(byName))} |`,
    );
  out(
    '',
    '**Alertmanager** (local stack, `infra/monitoring/generated/alertmanager.yml`): critical alerts go to receiver `page`, warnings to',
    "`ticket`, grouped by `job`; the stack's webhook (secret `alertmanagerWebhookUrl`) is added to both. Inhibitions (same `job`), so one",
    'cause pages once:',
    '',
    ...inhibitions(alerts).map((rule) => `- **${rule.source}** holds back ${rule.targets.join(', ')}: ${rule.why}.`),
  );
  out('');
  for (const alert of alerts) {
    out(
      `<a id="${runbookAnchor(alert.alert)}"></a>`,
      `#### ${alert.alert} (${alert.severity})`,
      '',
      `**${alert.summary}** ${alert.description}`,
      '',
      `- *Meaning*: ${alert.runbook.meaning}`,
      `- *Impact*: ${alert.runbook.impact}`,
      '- *Diagnose*:',
      ...alert.runbook.diagnose.map((step, i) => `  ${i + 1}. ${step}`),
      '- *Mitigate*:',
      ...alert.runbook.mitigate.map((step) => `  - ${step}`),
      '',
    );
  }
  return lines.join('\n').replace(/\n+$/, '\n');
}

/** The README with the monitoring section replaced; the rest of the file is left byte for byte. */
export function withReadmeSection(readme: string, section: string): string {
  const start = readme.indexOf(README_MARKERS.start);
  const end = readme.indexOf(README_MARKERS.end);
  if (start < 0 || end < start) throw new Error(`README.md lacks the ${README_MARKERS.start} … ${README_MARKERS.end} markers`);
  return `${readme.slice(0, start + README_MARKERS.start.length)}\n${section}${readme.slice(end)}`;
}

/** The current monitoring section of a README (between the markers). */
export function readmeSectionOf(readme: string): string {
  const start = readme.indexOf(README_MARKERS.start);
  const end = readme.indexOf(README_MARKERS.end);
  if (start < 0 || end < start) return '';
  return readme.slice(start + README_MARKERS.start.length + 1, end);
}
