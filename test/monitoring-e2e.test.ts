import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { alertRules } from '../infra/monitoring/alerts';
import { monitoringConfig, type Duration, type MonitoringConfig } from '../infra/monitoring/config';
import { REPO_ROOT } from '../infra/monitoring/generate';
import { MONITORING_FILES } from '../infra/monitoring/paths';
import { alertGroups, CLOUD_ALERTS, recordingGroups } from '../infra/monitoring/outputs';
import { byName } from '../infra/monitoring/promql';
import { recordingRules } from '../infra/monitoring/recording-rules';
import { SEED_QUERIES } from '../dashboards/src/service-dashboard';
import { sampleValue, startPrometheus, type PromSample, type RunningPrometheus } from './support/prometheus';
import { removeDataDir, SEED_RECORD, startService, submit, type RunningService } from './support/service';

/**
 * The real service (sqlite queue) and Debian's real Prometheus (1 s scrape, 1 s rule evaluation):
 * traffic including failures, then every dashboard query and every recording rule through the
 * HTTP API, and a FAILURE_RATE=1 service that must trip the processing-failure alert.
 */

const FAILURE_RATE = 0.15;
const BROKEN_JOB = 'pipewatch-broken';

/** The same rules, with `for` shortened so alerts can fire within a test; expressions unchanged. */
function testConfig(job: string): MonitoringConfig {
  const config = structuredClone(monitoringConfig);
  config.selector.job = job;
  const short: Duration = '2s';
  for (const alert of Object.values(config.alerts)) alert.for = short;
  config.slo.burnRate.fast.for = short;
  config.slo.burnRate.slow.for = short;
  return config;
}

function ruleFile(config: MonitoringConfig): string {
  const recordings = recordingRules(config);
  return Bun.YAML.stringify({ groups: [...recordingGroups(recordings), ...alertGroups(config, alertRules(config, recordings))] }, null, 2);
}

const SERVICE_ENV = {
  MAX_ATTEMPTS: '2',
  RETRY_BASE_MS: '10',
  RETRY_MAX_MS: '50',
  PROCESSING_DELAY_DISTRIBUTION: 'uniform',
  PROCESSING_DELAY_MIN_MS: '2',
  PROCESSING_DELAY_MAX_MS: '20',
};

let normal: RunningService;
let broken: RunningService;
let prom: RunningPrometheus;
let instance: string;

async function traffic(service: RunningService, count: number, withBadInput: boolean) {
  const ids: string[] = [];
  const worker = async (share: number) => {
    for (let i = 0; i < share; i++) {
      const response = await submit(service.url, { ...SEED_RECORD, age: 20 + (i % 50) });
      if (response.status === 202) ids.push(((await response.json()) as { id: string }).id);
      else await response.arrayBuffer();
      if (withBadInput && i % 10 === 0) {
        await (await submit(service.url, '{"name": "x", "age": "old"')).arrayBuffer(); // malformed JSON: 400
        await (await submit(service.url, { name: 'x', age: -3, city: 'y' })).arrayBuffer(); // 422
        await (await fetch(`${service.url}/no/such/path`)).arrayBuffer(); // 404 __unmatched__
        await (await fetch(`${service.url}/submissions/00000000-0000-4000-8000-000000000000`)).arrayBuffer(); // 404
        await (await fetch(`${service.url}/healthz`)).arrayBuffer();
      }
      if (withBadInput && ids.length && i % 3 === 0) await (await fetch(`${service.url}/submissions/${ids.at(-1)}`)).arrayBuffer();
      await Bun.sleep(20); // spread over several scrapes, like real traffic
    }
  };
  await Promise.all([0, 1, 2, 3].map(() => worker(Math.ceil(count / 4))));
  return ids;
}

beforeAll(async () => {
  [normal, broken] = await Promise.all([
    startService({ env: { ...SERVICE_ENV, FAILURE_RATE: String(FAILURE_RATE) } }),
    startService({ env: { ...SERVICE_ENV, FAILURE_RATE: '1' } }),
  ]);
  instance = `127.0.0.1:${new URL(normal.metricsUrl).port}`;
  prom = await startPrometheus({
    targets: [
      { job: monitoringConfig.selector.job, address: normal.metricsUrl },
      { job: BROKEN_JOB, address: broken.metricsUrl },
    ],
    scrapeSelf: true,
    ruleTexts: { 'pipewatch.yml': ruleFile(testConfig(monitoringConfig.selector.job)), 'pipewatch-broken.yml': ruleFile(testConfig(BROKEN_JOB)) },
    scrapeIntervalSeconds: 1,
    evaluationIntervalSeconds: 1,
  });
  await prom.waitForTargetsUp();
  // Every series the traffic touches must exist before the bulk of it: what a counter gains before
  // its first scrape is invisible to rate(), and on a quiet machine 600 requests take under a second.
  await Promise.all([traffic(normal, 8, true), traffic(broken, 4, false)]);
  await Bun.sleep(2500);
  await Promise.all([traffic(normal, 600, true), traffic(broken, 80, false)]);
  // A few more scrapes and evaluations after the last request.
  await prom.waitFor(
    'recorded processing rate of the normal service',
    async () => (await prom.query(`job:app_processing_attempts:rate5m{job="${monitoringConfig.selector.job}"} > 0`)).length > 0,
  );
  await Bun.sleep(3000);
}, 120_000);

afterAll(async () => {
  await prom?.stop();
  for (const service of [normal, broken]) {
    if (!service) continue;
    await service.stop('SIGKILL');
    removeDataDir(service.dataDir);
  }
});

const finite = (samples: PromSample[]) => samples.map(sampleValue).filter(Number.isFinite);

describe('monitoring end to end (real service, real Prometheus)', () => {
  test('every scrape target is up and every rule is loaded and healthy', async () => {
    const targets = await prom.targets();
    expect(targets.map((t) => `${t.labels.job}:${t.health}`).sort()).toEqual([`${BROKEN_JOB}:up`, 'pipewatch:up', 'prometheus:up']);
    const groups = await prom.rules();
    const rules = groups.flatMap((g) => g.rules);
    const perJob =
      recordingRules(monitoringConfig).groups.flatMap((g) => g.rules).length + alertRules(monitoringConfig, recordingRules(monitoringConfig)).length;
    expect(rules.length).toBe(2 * perJob);
    const unhealthy = rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`);
    expect(unhealthy).toEqual([]);
  });

  test('every recording rule returns data with plausible values', async () => {
    const job = monitoringConfig.selector.job;
    const problems: string[] = [];
    for (const rule of recordingRules(monitoringConfig).groups.flatMap((g) => g.rules)) {
      const selector = `${rule.record}{job="${job}"${Object.entries(rule.labels ?? {})
        .map(([k, v]) => `,${k}="${v}"`)
        .join('')}}`;
      const values = finite(await prom.query(selector));
      if (values.length === 0) {
        problems.push(`${selector}: no finite sample`);
        continue;
      }
      const plausible = rule.record.includes(':ratio')
        ? values.every((v) => v >= 0 && v <= 1)
        : rule.record.endsWith(':remaining')
          ? values.every((v) => v <= 1)
          : rule.record.includes('_seconds:')
            ? values.every((v) => v >= 0 && v < 10)
            : values.every((v) => v >= 0);
      if (!plausible) problems.push(`${selector}: implausible ${values.join(', ')}`);
    }
    expect(problems).toEqual([]);

    const one = async (q: string) => sampleValue((await prom.query(q))[0]!);
    const observed = await one(`job:app_processing_failures:ratio_rate5m{job="${job}"}`);
    console.log(
      `observed processing failure ratio ${observed.toFixed(3)} (FAILURE_RATE ${FAILURE_RATE}), ${(await one(`job:http_requests:rate5m{job="${job}"}`)).toFixed(1)} req/s over 5m, p99 /submit_data ${(await one(`job_route_quantile:http_request_duration_seconds:histogram_quantile{job="${job}",route="/submit_data",quantile="0.99"}`)).toFixed(4)} s`,
    );
    expect(Math.abs(observed - FAILURE_RATE)).toBeLessThan(0.08);
    expect(await one(`job:http_requests:rate5m{job="${job}"}`)).toBeGreaterThan(1);
    expect(await one(`job:http_requests_errors:ratio_rate5m{job="${job}"}`)).toBeLessThan(0.05); // no 5xx: bad input is 4xx
    expect(await one(`job:slo_availability_error_budget:remaining{job="${job}"}`)).toBeGreaterThan(0);
    expect(await one(`job_outcome:pipewatch_job_outcomes:rate5m{job="${job}",outcome="retried"}`)).toBeGreaterThan(0);
    expect(await one(`job_quantile:app_processing_seconds:histogram_quantile{job="${job}",quantile="0.5"}`)).toBeGreaterThan(0.001);
  });

  test('every dashboard panel query, with the variables substituted, returns data; the seed queries and the error ratio read plausibly', async () => {
    const dashboard = JSON.parse(readFileSync(join(REPO_ROOT, MONITORING_FILES.serviceDashboard), 'utf8')) as {
      panels: Array<{ type: string; title: string; targets?: Array<{ expr: string }> }>;
    };
    const substitute = (expr: string, rateInterval = '20s') =>
      expr.replaceAll('$__rate_interval', rateInterval).replaceAll('$__range', '5m').replaceAll('$instance', instance);
    const end = Date.now() / 1000;
    const problems: string[] = [];
    const results = new Map<string, number[]>();
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      for (const target of panel.targets ?? []) {
        // The database row reads the PostgreSQL driver's metrics (and the shared-queue leader
        // gauge): this service runs the sqlite queue, so they have no series here.
        if (/pipewatch_db_|pipewatch_queue_leader/.test(target.expr)) continue;
        const expr = substitute(target.expr);
        expect(expr, panel.title).not.toContain('$');
        const values =
          panel.type === 'timeseries'
            ? (await prom.queryRange(expr, end - 30, end, 1)).flatMap((s) => s.values.map(([, v]) => Number(v))).filter(Number.isFinite)
            : finite(await prom.query(expr));
        if (values.length === 0) problems.push(`${panel.title}: ${expr} returned no finite value`);
        results.set(target.expr, values);
      }
    }
    expect(problems).toEqual([]);

    for (const seed of Object.values(SEED_QUERIES)) expect(results.get(seed)!.length).toBeGreaterThan(0);
    const latest = async (q: string) => sampleValue((await prom.query(substitute(q))).find((s) => s.metric.instance === instance)!);
    expect(await latest(SEED_QUERIES.requests)).toBeGreaterThan(0);
    const avg = await latest(SEED_QUERIES.processingTime);
    expect(avg).toBeGreaterThan(0.001);
    expect(avg).toBeLessThan(1);
    const ratioPanel = dashboard.panels.find((p) => p.title === 'Processing failure ratio')!;
    // Over a window covering the whole run, as the recorded 5m ratio does.
    const ratio = finite(await prom.query(substitute(ratioPanel.targets![0]!.expr, '2m')));
    expect(Math.abs(ratio[0]! - FAILURE_RATE)).toBeLessThan(0.08);
  });

  test('the Cloud Monitoring expressions (recording rules inlined) evaluate, and agree with the recorded series', async () => {
    const cloud = JSON.parse(readFileSync(join(REPO_ROOT, CLOUD_ALERTS), 'utf8')) as Array<{ name: string; promql: string }>;
    for (const alert of cloud) await prom.query(alert.promql); // throws on a parse or evaluation error
    const deadLettered = cloud.find((a) => a.name === 'PipewatchJobsDeadLettered')!;
    expect((await prom.query(deadLettered.promql)).length).toBe(1); // the normal service dead-letters ~2% of jobs
    const r = recordingRules(monitoringConfig);
    const inlined = sampleValue((await prom.query(r.processingFailureRatio.build((rule) => `(${rule.build(byName)})`)))[0]!);
    const recorded = sampleValue((await prom.query(`job:app_processing_failures:ratio_rate5m{job="pipewatch"}`))[0]!);
    expect(Math.abs(inlined - recorded)).toBeLessThan(0.05);
  });

  test('a FAILURE_RATE=1 service makes the processing-failure alert go pending/firing; the healthy one stays quiet', async () => {
    const alerts = await prom.waitFor(
      'PipewatchProcessingFailureRatioHigh for the broken service',
      async () => {
        const active = await prom.alerts();
        return active.some((a) => a.labels.alertname === 'PipewatchProcessingFailureRatioHigh' && a.labels.job === BROKEN_JOB && a.state === 'firing')
          ? active
          : undefined;
      },
      30_000,
    );
    const of = (job: string) => alerts.filter((a) => a.labels.job === job).map((a) => a.labels.alertname);
    expect(of(BROKEN_JOB)).toContain('PipewatchJobsDeadLettered');
    expect(of(monitoringConfig.selector.job)).not.toContain('PipewatchProcessingFailureRatioHigh');
    expect(of(monitoringConfig.selector.job)).not.toContain('PipewatchTargetDown');
    // The dashboard's alert views read the same state from ALERTS.
    const firing = await prom.query(`ALERTS{job="${BROKEN_JOB}",alertname="PipewatchProcessingFailureRatioHigh",alertstate="firing"}`);
    expect(firing.length).toBe(1);
  }, 40_000);

  // Optional picture for the README, from this run's real data: MONITORING_SCREENSHOT=1 bun test test/monitoring-e2e.test.ts
  test.if(process.env.MONITORING_SCREENSHOT === '1')(
    'screenshot of Prometheus graphing the recorded failure ratio',
    async () => {
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      });
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        const expr = encodeURIComponent('job:app_processing_failures:ratio_rate5m');
        await page.goto(`${prom.url}/graph?g0.expr=${expr}&g0.tab=0&g0.range_input=20s&g0.stacked=0`);
        // Debian ships the classic UI: Rickshaw draws an SVG once the range query has answered.
        await page.waitForSelector('.graph svg path', { timeout: 15_000 });
        await Bun.sleep(1500);
        await page.screenshot({ path: join(REPO_ROOT, MONITORING_FILES.screenshot) });
      } finally {
        await browser.close();
      }
    },
    40_000,
  );
});
