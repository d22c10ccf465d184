import { describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { parseStackConfig, StackConfigError } from '../infra/config';
import { REPO_ROOT } from '../infra/monitoring-files';

/** The error a stack config produces, or undefined when it is valid. */
function errorOf(raw: Record<string, string>): string | undefined {
  try {
    parseStackConfig(raw);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(StackConfigError);
    return (error as Error).message;
  }
}

describe('stack config', () => {
  test('defaults are a local stack on 127.0.0.1 with the service, Prometheus and Grafana ports', () => {
    const config = parseStackConfig({});
    expect(config.target).toBe('local');
    expect(config.bindAddress).toBe('127.0.0.1');
    expect([config.apiPort, config.prometheusPort, config.grafanaPort]).toEqual([8000, 9090, 3000]);
    expect(config.alertmanager).toBe(false);
    expect(config.public).toBe(false);
    expect(config.prometheusImage).toMatch(/^prom\/prometheus:v2\.53\.\d+$/);
    expect(config.grafanaImage).toMatch(/^grafana\/grafana:11\.6\.\d+$/);
  });

  test('strings from `pulumi config set` become typed values', () => {
    const config = parseStackConfig({ apiPort: '18000', grafanaAnonymous: 'true', notificationChannels: '["projects/p/notificationChannels/1"]' });
    expect(config.apiPort).toBe(18000);
    expect(config.grafanaAnonymous).toBe(true);
    expect(config.notificationChannels).toEqual(['projects/p/notificationChannels/1']);
  });

  test.each([
    [{ target: 'aws' }, 'invalid pipewatch:target="aws": must be one of local, gcp'],
    [{ apiPort: 'eighty' }, 'invalid pipewatch:apiPort="eighty": must be an integer from 1 to 65535'],
    [{ apiPort: '70000' }, 'invalid pipewatch:apiPort="70000": must be an integer from 1 to 65535'],
    [{ apiPort: '80.5' }, 'invalid pipewatch:apiPort="80.5": must be an integer from 1 to 65535'],
    [{ grafanaAnonymous: 'yes please' }, 'invalid pipewatch:grafanaAnonymous="yes please": must be true or false'],
    [{ prometheusRetention: '15 days' }, 'invalid pipewatch:prometheusRetention="15 days": must match'],
    [{ bindAddress: 'localhost' }, 'invalid pipewatch:bindAddress="localhost": must match'],
    [{ bindAddress: '300.1.1.1' }, 'invalid pipewatch:bindAddress="300.1.1.1": must be an IPv4 address'],
    [{ memory: '1GB' }, 'invalid pipewatch:memory="1GB": must match'],
    [{ alertEmail: 'not-an-address' }, 'invalid pipewatch:alertEmail="not-an-address"'],
    [{ notificationChannels: 'projects/p/notificationChannels/1' }, 'invalid pipewatch:notificationChannels: must be a JSON list'],
    [{ notificationChannels: '["my-channel"]' }, 'invalid pipewatch:notificationChannels="[\\"my-channel\\"]": must be a JSON list of strings matching'],
    [{ minInstances: '3', maxInstances: '2' }, 'invalid pipewatch:minInstances=3: must not exceed pipewatch:maxInstances=2'],
    [{ grafanaPort: '8000' }, 'invalid pipewatch:grafanaPort=8000: pipewatch:apiPort already publishes that port'],
    [{ target: 'gcp', shutdownGraceMs: '15000' }, 'invalid pipewatch:shutdownGraceMs=15000: must be at most 9000 on Cloud Run'],
    [{ apiPrt: '8000' }, 'unknown config key pipewatch:apiPrt'],
  ])('%j fails with a message naming the key and the rule', (raw, message) => {
    expect(errorOf(raw as Record<string, string>)).toStartWith(message);
  });

  test('the queue driver defaults to postgres on gcp and sqlite locally; replicas follow it', () => {
    expect(parseStackConfig({ target: 'gcp' })).toMatchObject({ queueDriver: 'postgres', minInstances: 1, maxInstances: 3, pgPoolMax: 5 });
    expect(parseStackConfig({})).toMatchObject({ queueDriver: 'sqlite', replicas: 1 });
    expect(parseStackConfig({ queueDriver: 'postgres' })).toMatchObject({ queueDriver: 'postgres', replicas: 2 });
    expect(parseStackConfig({ target: 'gcp', queueDriver: 'sqlite', maxInstances: '1' }).queueDriver).toBe('sqlite');
  });

  test.each([
    ['1', '512Mi'],
    ['1', '4Gi'],
    ['2', '8Gi'],
    ['4', '2Gi'],
    ['6', '4Gi'],
    ['8', '32Gi'],
  ])('Cloud Run accepts %s CPU with %s', (cpu, memory) => {
    expect(errorOf({ target: 'gcp', cpu, memory })).toBeUndefined();
  });

  test('Cloud Run limits are not applied to a local stack', () => {
    expect(errorOf({ target: 'local', cpu: '8', memory: '256Mi', metricsPort: '8000' })).toBeUndefined();
  });

  test('a long drain is fine locally (only Cloud Run kills after 10 s)', () => {
    expect(errorOf({ target: 'local', shutdownGraceMs: '15000' })).toBeUndefined();
  });

  test.each(['Pulumi.local.example.yaml', 'Pulumi.gcp.example.yaml'])('the example stack file %s is valid config', (file) => {
    const stack = Bun.YAML.parse(require('node:fs').readFileSync(join(REPO_ROOT, 'infra', file), 'utf8')) as { config: Record<string, string> };
    const own: Record<string, string> = {};
    for (const [key, value] of Object.entries(stack.config)) if (key.startsWith('pipewatch:')) own[key.slice('pipewatch:'.length)] = String(value);
    expect(errorOf(own)).toBeUndefined();
    expect(parseStackConfig(own).target).toBe(file.includes('gcp') ? 'gcp' : 'local');
  });
});
