import { afterAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alertRules } from '../infra/monitoring/alerts';
import { monitoringConfig } from '../infra/monitoring/config';
import { REPO_ROOT } from '../infra/monitoring/generate';
import { PROMETHEUS_CONFIG, PROMTOOL_TEST_FILES, PROMTOOL_TESTS, RULE_FILES } from '../infra/monitoring/outputs';
import { recordingRules } from '../infra/monitoring/recording-rules';
import { coverage, type PromtoolTestCase } from '../infra/monitoring/rule-tests';
import { promtool } from './support/prometheus';

const repo = (path: string) => join(REPO_ROOT, path);
const tmp = mkdtempSync(join(tmpdir(), 'pipewatch-promtool-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const explain = (r: { stdout: string; stderr: string }) => `${r.stdout}\n${r.stderr}`;

describe('promtool', () => {
  test('check config: the local stack prometheus.yml, and the same config with the repo rule files in place of the mount', async () => {
    const plain = await promtool(['check', 'config', repo(PROMETHEUS_CONFIG)]);
    expect(plain.exitCode, explain(plain)).toBe(0);
    const config = Bun.YAML.parse(await Bun.file(repo(PROMETHEUS_CONFIG)).text()) as Record<string, unknown>;
    config.rule_files = [repo(RULE_FILES.recording), repo(RULE_FILES.alerts)];
    const withRules = join(tmp, 'prometheus.yml');
    writeFileSync(withRules, JSON.stringify(config));
    const checked = await promtool(['check', 'config', withRules]);
    expect(checked.exitCode, explain(checked)).toBe(0);
    expect(checked.stdout).toMatch(/SUCCESS: \d+ rules found/);
  }, 30_000);

  test('check rules: recording and alert rule files are valid and lint-clean', async () => {
    const result = await promtool(['check', 'rules', repo(RULE_FILES.recording), repo(RULE_FILES.alerts)]);
    expect(result.exitCode, explain(result)).toBe(0);
    const rules = recordingRules(monitoringConfig).groups.flatMap((g) => g.rules).length;
    const alerts = alertRules(monitoringConfig, recordingRules(monitoringConfig)).length;
    expect(result.stdout).toContain(`SUCCESS: ${rules} rules found`);
    expect(result.stdout).toContain(`SUCCESS: ${alerts} rules found`);
  }, 30_000);

  test('test rules: every alert fires in its scenario and stays quiet in the other', async () => {
    // Both per-alert files at once: the day-long slow-burn scenarios dominate (~10 s). The 15 s
    // scenario files run in test/monitoring-scenarios.test.ts; coverage counts all of them.
    const results = await Promise.all(Object.values(PROMTOOL_TESTS).map((file) => promtool(['test', 'rules', repo(file)])));
    for (const result of results) expect(result.exitCode, explain(result)).toBe(0);

    const cases: PromtoolTestCase[] = [];
    for (const file of PROMTOOL_TEST_FILES) cases.push(...(Bun.YAML.parse(await Bun.file(repo(file)).text()) as { tests: PromtoolTestCase[] }).tests);
    const { fires, quiet } = coverage(cases);
    const names = alertRules(monitoringConfig, recordingRules(monitoringConfig))
      .map((a) => a.alert)
      .sort();
    expect([...fires].sort()).toEqual(names);
    expect([...quiet].sort()).toEqual(names);
  }, 90_000);

  test('test rules can fail: a broken threshold is caught by the committed unit tests', async () => {
    const rules = (await Bun.file(repo(RULE_FILES.alerts)).text()).replace(
      'job:app_processing_failures:ratio_rate5m > 0.25',
      'job:app_processing_failures:ratio_rate5m > 0.95',
    );
    expect(rules).toContain('> 0.95');
    const dir = join(tmp, 'mutant');
    const rulesDir = join(dir, 'rules');
    const testsDir = join(dir, 'tests');
    for (const d of [rulesDir, testsDir]) mkdirSync(d, { recursive: true });
    writeFileSync(join(rulesDir, 'pipewatch-alerts.yml'), rules);
    writeFileSync(join(rulesDir, 'pipewatch-recording.yml'), await Bun.file(repo(RULE_FILES.recording)).text());
    writeFileSync(join(testsDir, 'pipewatch-alerts.test.yml'), await Bun.file(repo(PROMTOOL_TESTS.minutes)).text());
    const result = await promtool(['test', 'rules', join(testsDir, 'pipewatch-alerts.test.yml')]);
    expect(result.exitCode).not.toBe(0);
    expect(explain(result)).toContain('PipewatchProcessingFailureRatioHigh fires');
  }, 60_000);
});
