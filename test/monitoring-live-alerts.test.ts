import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { loadavg } from 'node:os';
import { alertRules, firesWithinSeconds } from '../infra/monitoring/alerts';
import { monitoringConfig, type MonitoringConfig } from '../infra/monitoring/config';
import { alertGroups, recordingGroups } from '../infra/monitoring/outputs';
import { recordingRules } from '../infra/monitoring/recording-rules';
import { startPrometheus, type RunningPrometheus } from './support/prometheus';
import { removeDataDir, startService, submit, type RunningService } from './support/service';

/**
 * The fast symptom pages against a real service and a real Prometheus. Intervals are 15x shorter
 * than in production (1 s scrape and evaluation instead of 15 s) and so are the windows and `for`
 * of the alerts under test, so the same time-to-fire formula applies: the README's figures are the
 * 15 s ones. The service is made to stall (every processing attempt takes 10 minutes) and, with
 * QUEUE_CAPACITY=3, to fail: once three jobs are stuck, every submission is answered 503. The stall
 * starts with the first accepted job (no attempt ever finishes); the scenario tests stage a stall
 * after hours of healthy processing.
 */

const SCALE = 15;
const config: MonitoringConfig = structuredClone(monitoringConfig);
config.scrapeIntervalSeconds = 1;
config.evaluationIntervalSeconds = 1;
config.alerts.submissionsFailing = { ...config.alerts.submissionsFailing, window: `${60 / SCALE}s`, for: `${30 / SCALE}s` };
config.alerts.processingStalled = { ...config.alerts.processingStalled, window: `${120 / SCALE}s`, for: `${60 / SCALE}s` };
const alerts = alertRules(config, recordingRules(config));
const claim = (name: string) => firesWithinSeconds(config, alerts.find((a) => a.alert === name)!);
/** The machine is shared and loaded: allow a few seconds beyond the claim for late scrapes. */
const SLACK_SECONDS = 6;

let service: RunningService;
let prom: RunningPrometheus;
let stop = false;
let traffic: Promise<void>;
const firstAnswer = new Map<number, number>();

beforeAll(async () => {
  service = await startService({
    env: {
      PROCESSING_DELAY_DISTRIBUTION: 'fixed',
      PROCESSING_DELAY_MIN_MS: '600000',
      PROCESSING_DELAY_MAX_MS: '600000',
      LEASE_MS: '3600000',
      QUEUE_CAPACITY: '3',
      WORKER_CONCURRENCY: '2',
    },
  });
  const recordings = recordingRules(config);
  prom = await startPrometheus({
    targets: [{ job: config.selector.job, address: service.metricsUrl }],
    ruleTexts: { 'pipewatch.yml': Bun.YAML.stringify({ groups: [...recordingGroups(recordings), ...alertGroups(config, alerts)] }, null, 2) },
    scrapeIntervalSeconds: 1,
    evaluationIntervalSeconds: 1,
  });
  await prom.waitForTargetsUp();
  // ~10 submissions a second, as a real client population would keep sending.
  traffic = (async () => {
    while (!stop) {
      const response = await submit(service.url);
      await response.arrayBuffer();
      if (!firstAnswer.has(response.status)) firstAnswer.set(response.status, Date.now());
      await Bun.sleep(100);
    }
  })();
}, 60_000);

afterAll(async () => {
  stop = true;
  await traffic;
  await prom?.stop();
  if (service) {
    await service.stop('SIGKILL');
    removeDataDir(service.dataDir);
  }
});

async function firingAt(name: string, timeoutSeconds: number): Promise<number> {
  return prom.waitFor(
    `${name} firing`,
    async () => ((await prom.alerts()).some((a) => a.labels.alertname === name && a.state === 'firing') ? Date.now() : undefined),
    timeoutSeconds * 1000,
    200,
  );
}

describe('fast symptom alerts, live (real service, real Prometheus at 1 s)', () => {
  test('a stalled, then refusing service: PipewatchSubmissionsFailing and PipewatchProcessingStalled fire within their claims', async () => {
    const [failing, stalled] = await Promise.all([
      firingAt('PipewatchSubmissionsFailing', claim('PipewatchSubmissionsFailing') * 4 + 20),
      firingAt('PipewatchProcessingStalled', claim('PipewatchProcessingStalled') * 4 + 20),
    ]);
    const first202 = firstAnswer.get(202)!;
    const first503 = firstAnswer.get(503)!;
    expect(first202).toBeLessThan(first503);
    const failingAfter = (failing - first503) / 1000;
    const stalledAfter = (stalled - first202) / 1000;
    console.log(
      `live (1 s intervals, load ${loadavg()[0]!.toFixed(1)}): SubmissionsFailing ${failingAfter.toFixed(1)} s after the first 503 (claim ${claim('PipewatchSubmissionsFailing')} s), ProcessingStalled ${stalledAfter.toFixed(1)} s after the first accepted job (claim ${claim('PipewatchProcessingStalled')} s)`,
    );
    expect(failingAfter).toBeLessThanOrEqual(claim('PipewatchSubmissionsFailing') + SLACK_SECONDS);
    expect(stalledAfter).toBeLessThanOrEqual(claim('PipewatchProcessingStalled') + SLACK_SECONDS);
    // The same alerts at production intervals: the scenario-tested figures the README shows.
    expect(
      firesWithinSeconds(
        monitoringConfig,
        alertRules(monitoringConfig, recordingRules(monitoringConfig)).find((a) => a.alert === 'PipewatchSubmissionsFailing')!,
      ),
    ).toBe(claim('PipewatchSubmissionsFailing') * SCALE);
  }, 90_000);
});
