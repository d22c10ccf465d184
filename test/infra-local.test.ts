import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStackConfig } from '../infra/config';
import program from '../infra/index';
import { localStack } from '../infra/local';
import { ALERTMANAGER_CONFIG } from '../infra/local/alertmanager';
import { DASHBOARDS_DIR, PROVISIONING_DIR } from '../infra/local/grafana';
import { CONFIG_FILE, RULES_DIR } from '../infra/local/prometheus';
import { MONITORING_PATHS, readLocalMonitoringFiles, REPO_ROOT, type LocalMonitoringFiles } from '../infra/monitoring-files';
import { installPulumiMocks, isSecret, one, ofType, plain, secretInput, type Registered } from './support/pulumi-mocks';

// The outputs of Docker/random the program consumes: built image id, pulled image ids, a password.
const mocks = installPulumiMocks({
  outputs: (r) => {
    if (r.type === 'docker:index/image:Image') return { repoDigest: 'sha256:built-from-the-repo' };
    if (r.type === 'docker:index/remoteImage:RemoteImage') return { imageId: `sha256:${r.name}`, repoDigest: `${r.inputs.name}@sha256:0` };
    if (r.type === 'random:index/randomPassword:RandomPassword') return { result: 'generated-Password-123' };
    return {};
  },
});

/** The repo's own monitoring files, as `pulumi up` reads them. */
const files: LocalMonitoringFiles = readLocalMonitoringFiles();

/** The program (infra/index.ts) as `pulumi up` runs it for a local stack, with these config values. */
function up(config: Record<string, string> = {}) {
  return mocks.run(program, { target: 'local', ...config });
}

const container = (resources: Registered[], name: string) => plain(one(resources, 'docker:index/container:Container', name).inputs);
const uploadAt = (c: Record<string, any>, file: string): string => {
  const found = (c.uploads as Array<{ file: string; content: string }>).find((u) => u.file === file);
  if (!found) throw new Error(`no upload at ${file}: ${c.uploads.map((u: { file: string }) => u.file).join(', ')}`);
  return found.content;
};

const temp = mkdtempSync(join(tmpdir(), 'pipewatch-infra-local-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

describe('local Docker stack', () => {
  test('one user-defined network joins pipewatch, prometheus and grafana under the names the repo config uses', async () => {
    const { resources } = await up();
    const network = one(resources, 'docker:index/network:Network').inputs;
    expect(network.driver).toBe('bridge');
    const containers = ofType(resources, 'docker:index/container:Container');
    expect(containers.map((c) => c.inputs.name).sort()).toEqual(['grafana', 'pipewatch', 'prometheus']);
    for (const c of containers) {
      expect(c.inputs.networksAdvanced).toEqual([{ name: network.name, aliases: [c.inputs.name] }]);
      expect(c.inputs.restart).toBe('unless-stopped');
      expect(c.inputs.healthcheck.tests[0]).toBe('CMD');
    }
  });

  test('the service runs the image built from the repo by id, its queue on a named volume, health-checked by its own binary', async () => {
    const { resources } = await up({ sqliteSynchronous: 'FULL' });
    const image = one(resources, 'docker:index/image:Image').inputs;
    expect(image.build.context).toBe(REPO_ROOT);
    expect(image.build.dockerfile).toBe(join(REPO_ROOT, 'infra/container/Dockerfile'));
    expect(image.buildOnPreview).toBe(false);
    expect(image.skipPush).toBe(true);
    // The context has no .git, so the commit for pipewatch_build_info travels as a build argument.
    const head = Bun.spawnSync(['git', 'rev-parse', 'HEAD'], { cwd: REPO_ROOT }).stdout.toString().trim();
    expect(image.build.args.PIPEWATCH_COMMIT).toStartWith(head);
    const app = container(resources, 'pipewatch');
    expect(app.image).toBe('sha256:built-from-the-repo');
    const volume = one(resources, 'docker:index/volume:Volume', 'pipewatch-data').inputs;
    expect(app.volumes).toEqual([{ volumeName: volume.name, containerPath: '/data' }]);
    expect(app.envs).toEqual(expect.arrayContaining(['PORT=8000', 'DATA_DIR=/data', 'QUEUE_DRIVER=sqlite', 'SQLITE_SYNCHRONOUS=FULL']));
    expect(app.healthcheck.tests).toEqual(['CMD', '/app/pipewatch', 'healthcheck']);
    // Docker waits the configured drain (8 s default) plus margin before SIGKILL.
    expect(app.stopTimeout).toBeGreaterThanOrEqual(8);
  });

  test('Prometheus gets the repo prometheus.yml and every rule file, and scrapes the service container it names', async () => {
    const { resources } = await up();
    const prometheus = container(resources, 'prometheus');
    const uploaded = uploadAt(prometheus, CONFIG_FILE);
    expect(uploaded).toBe(await Bun.file(join(REPO_ROOT, MONITORING_PATHS.prometheusConfig)).text());
    expect(files.rules.length).toBeGreaterThan(0);
    for (const rule of files.rules) expect(uploadAt(prometheus, `${RULES_DIR}/${rule.name}`)).toBe(rule.content);

    const parsed = Bun.YAML.parse(uploaded) as { rule_files: string[]; scrape_configs: Array<{ job_name: string; metrics_path?: string; static_configs: Array<{ targets: string[] }> }> };
    expect(parsed.rule_files).toContain(`${RULES_DIR}/*.yml`);
    const job = parsed.scrape_configs.find((s) => s.job_name === 'pipewatch')!;
    const app = container(resources, 'pipewatch');
    expect(job.static_configs[0]!.targets).toContain(`${app.name}:${app.ports[0].internal}`);
    expect(job.metrics_path ?? '/metrics').toBe('/metrics');

    expect(prometheus.command).toEqual(expect.arrayContaining([`--config.file=${CONFIG_FILE}`, '--storage.tsdb.path=/prometheus', '--storage.tsdb.retention.time=15d']));
    const tsdb = one(resources, 'docker:index/volume:Volume', 'prometheus-data').inputs;
    expect(prometheus.volumes).toEqual([{ volumeName: tsdb.name, containerPath: '/prometheus' }]);
    expect(one(resources, 'docker:index/remoteImage:RemoteImage', 'prometheus-image').inputs.name).toMatch(/^prom\/prometheus:v2\.53\.\d+$/);
    expect(prometheus.image).toBe('sha256:prometheus-image'); // by image id (docker v5 has no RemoteImage.latest)
  });

  test('the uploaded Prometheus config and rules pass promtool', async () => {
    const { resources } = await up({ alertmanager: 'true' });
    const prometheus = container(resources, 'prometheus');
    const dir = mkdtempSync(join(temp, 'promtool-'));
    writeFileSync(join(dir, 'prometheus.yml'), uploadAt(prometheus, CONFIG_FILE));
    const ruleFiles = files.rules.map((rule) => {
      writeFileSync(join(dir, rule.name), uploadAt(prometheus, `${RULES_DIR}/${rule.name}`));
      return join(dir, rule.name);
    });
    for (const args of [['check', 'config', '--syntax-only', join(dir, 'prometheus.yml')], ['check', 'rules', ...ruleFiles]]) {
      const run = Bun.spawnSync(['promtool', ...args], { stdout: 'pipe', stderr: 'pipe' });
      expect(`${run.exitCode} ${run.stderr.toString()}`).toStartWith('0 ');
    }
  });

  test('with Alertmanager on, Prometheus is pointed at it; off by default', async () => {
    expect(ofType((await up()).resources, 'docker:index/container:Container').map((c) => c.inputs.name)).not.toContain('alertmanager');
    const { resources, outputs } = await up({ alertmanager: 'true' });
    const alertmanager = container(resources, 'alertmanager');
    const config = Bun.YAML.parse(uploadAt(container(resources, 'prometheus'), CONFIG_FILE)) as { alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> } };
    expect(config.alerting.alertmanagers[0]!.static_configs[0]!.targets).toEqual([`${alertmanager.name}:9093`]);
    expect(Bun.YAML.parse(uploadAt(alertmanager, ALERTMANAGER_CONFIG))).toMatchObject({ route: { receiver: 'ticket', group_by: ['job'] } });
    expect(outputs.alertmanagerUrl).toBe('http://127.0.0.1:9093');
  });

  test('Grafana gets the repo datasource, dashboard provider and every dashboard where the provider looks', async () => {
    const { resources } = await up();
    const grafana = container(resources, 'grafana');
    expect(uploadAt(grafana, `${PROVISIONING_DIR}/datasources/prometheus.yml`)).toBe(files.grafanaDatasources);
    expect(uploadAt(grafana, `${PROVISIONING_DIR}/dashboards/pipewatch.yml`)).toBe(files.grafanaDashboardProvider);
    const provider = Bun.YAML.parse(files.grafanaDashboardProvider) as { providers: Array<{ options: { path: string } }> };
    expect(provider.providers.map((p) => p.options.path)).toContain(DASHBOARDS_DIR);
    expect(files.dashboards.map((d) => d.name)).toContain('pipewatch-service.json');
    for (const dashboard of files.dashboards) expect(uploadAt(grafana, `${DASHBOARDS_DIR}/${dashboard.name}`)).toBe(dashboard.content);
    expect(files.grafanaDatasources).toBe(await Bun.file(join(REPO_ROOT, MONITORING_PATHS.grafanaDatasources)).text());
    // The datasource reaches the Prometheus container by its name and port on the network.
    const datasources = Bun.YAML.parse(files.grafanaDatasources) as { datasources: Array<{ uid: string; url: string }> };
    const prometheus = container(resources, 'prometheus');
    expect(datasources.datasources.find((d) => d.uid === 'prometheus')!.url).toBe(`http://${prometheus.name}:${prometheus.ports[0].internal}`);
    expect(one(resources, 'docker:index/remoteImage:RemoteImage', 'grafana-image').inputs.name).toMatch(/^grafana\/grafana:11\.6\.\d+$/);
  });

  test('ports are published on 127.0.0.1 by default, and where config says', async () => {
    for (const c of ofType((await up()).resources, 'docker:index/container:Container')) {
      for (const port of c.inputs.ports) expect(port.ip).toBe('127.0.0.1');
    }
    const { resources, outputs } = await up({ bindAddress: '0.0.0.0', apiPort: '18000', grafanaPort: '13000' });
    expect(container(resources, 'pipewatch').ports).toEqual([{ internal: 8000, external: 18000, ip: '0.0.0.0', protocol: 'tcp' }]);
    expect(container(resources, 'grafana').ports[0]).toMatchObject({ internal: 3000, external: 13000 });
    expect(outputs).toMatchObject({ apiUrl: 'http://127.0.0.1:18000', swaggerUiUrl: 'http://127.0.0.1:18000/docs', grafanaUrl: 'http://127.0.0.1:13000', prometheusUrl: 'http://127.0.0.1:9090' });
  });

  test('the Grafana admin password is generated when unset, reaches Grafana only as a secret, and anonymous viewing is opt-in', async () => {
    const { resources } = await up();
    expect(one(resources, 'random:index/randomPassword:RandomPassword').inputs.length).toBeGreaterThanOrEqual(20);
    const envs = secretInput<string[]>(one(resources, 'docker:index/container:Container', 'grafana').inputs.envs);
    expect(envs.secret).toBe(true);
    expect(envs.value).toContain('GF_SECURITY_ADMIN_PASSWORD=generated-Password-123');
    expect(envs.value).toContain('GF_AUTH_ANONYMOUS_ENABLED=false');
    const withAnonymous = await up({ grafanaAnonymous: 'true' });
    expect(container(withAnonymous.resources, 'grafana').envs).toEqual(expect.arrayContaining(['GF_AUTH_ANONYMOUS_ENABLED=true', 'GF_AUTH_ANONYMOUS_ORG_ROLE=Viewer']));
  });

  test.each([
    ['generated', {}, 'generated-Password-123'],
    ['from `pulumi config set --secret`', { grafanaAdminPassword: 'from-secret-config-42' }, 'from-secret-config-42'],
  ])('a %s password is a secret output and appears in no plain output', async (_, config: Record<string, string>, password) => {
    let outputs: Record<string, unknown> = {};
    const run = await mocks.run(() => {
      const { config: stackConfig, secrets } = readStackConfig();
      outputs = localStack(stackConfig, secrets, files).outputs;
      return outputs;
    }, { target: 'local', ...config }, Object.keys(config));
    expect(ofType(run.resources, 'random:index/randomPassword:RandomPassword')).toHaveLength(password.startsWith('generated') ? 1 : 0);
    expect(await isSecret(outputs.grafanaAdminPassword)).toBe(true);
    expect(run.outputs.grafanaAdminPassword).toBe(password);
    for (const [key, value] of Object.entries(outputs)) {
      if (key === 'grafanaAdminPassword') continue;
      expect(await isSecret(value)).toBe(false);
      expect(JSON.stringify(run.outputs[key] ?? null)).not.toContain(password);
    }
    const envs = secretInput<string[]>(one(run.resources, 'docker:index/container:Container', 'grafana').inputs.envs);
    expect(envs).toEqual({ secret: true, value: expect.arrayContaining([`GF_SECURITY_ADMIN_PASSWORD=${password}`]) });
  });
});

describe('bad stack config fails before any resource is registered', () => {
  test.each([
    [{ apiPort: '0' }, 'invalid pipewatch:apiPort="0": must be an integer from 1 to 65535'],
    [{ grafanaPrt: '3001' }, 'unknown config key pipewatch:grafanaPrt'],
  ])('%j', async (config, message) => {
    await expect(up(config)).rejects.toThrow(message);
    expect(mocks.registered).toEqual([]);
  });
});
