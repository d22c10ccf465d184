import { describe, expect, test } from 'bun:test';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alertmanagerConfig } from '../infra/local/alertmanager';
import { REPO_ROOT } from '../infra/monitoring/generate';
import { MONITORING_FILES } from '../infra/monitoring/paths';

/** The generated Alertmanager routing, checked by Alertmanager's own amtool (Debian's prometheus-alertmanager). */

const file = join(REPO_ROOT, MONITORING_FILES.alertmanagerConfig);
const amtool = (args: string[]) => {
  const proc = Bun.spawnSync(['amtool', ...args], { stdout: 'pipe', stderr: 'pipe' });
  return { exitCode: proc.exitCode, stdout: proc.stdout.toString(), out: `${proc.stdout.toString()}\n${proc.stderr.toString()}` };
};
const route = (labels: string) => amtool(['config', 'routes', 'test', `--config.file=${file}`, ...labels.split(' ')]).stdout.trim();

describe('alertmanager config', () => {
  test('amtool check-config accepts the generated file (4 inhibit rules, 2 receivers)', () => {
    const result = amtool(['check-config', file]);
    expect(result.exitCode, result.out).toBe(0);
    expect(result.out).toContain('SUCCESS');
    expect(result.out).toMatch(/4 inhibit rules/);
    expect(result.out).toMatch(/2 receivers/);
  });

  test('critical alerts route to page, warnings to ticket', () => {
    expect(route('alertname=PipewatchSubmissionsFailing severity=critical job=pipewatch')).toBe('page');
    expect(route('alertname=PipewatchHighErrorRatio severity=warning job=pipewatch')).toBe('ticket');
  });

  test('amtool rejects a broken file (the check can fail)', () => {
    const broken = join(tmpdir(), `pipewatch-am-${process.pid}.yml`);
    writeFileSync(broken, readFileSync(file, 'utf8').replace('receiver: page', 'receiver: pager-that-does-not-exist'));
    const result = amtool(['check-config', broken]);
    rmSync(broken);
    expect(result.exitCode).not.toBe(0);
  });

  test('the local stack uploads the generated routing, adding its webhook to both receivers', async () => {
    const plain = await new Promise<string>((resolve) => alertmanagerConfig(undefined, REPO_ROOT).apply(resolve));
    expect(plain).toBe(readFileSync(file, 'utf8'));
    const withHook = Bun.YAML.parse(await new Promise<string>((resolve) => alertmanagerConfig('http://127.0.0.1:9/hook', REPO_ROOT).apply(resolve))) as {
      receivers: Array<{ name: string; webhook_configs: Array<{ url: string }> }>;
    };
    expect(withHook.receivers.map((r) => [r.name, r.webhook_configs[0]!.url])).toEqual([
      ['page', 'http://127.0.0.1:9/hook'],
      ['ticket', 'http://127.0.0.1:9/hook'],
    ]);
  });
});
