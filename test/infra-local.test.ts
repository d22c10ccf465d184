import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStackConfig } from '../infra/config';
import program from '../infra/index';
import { binaryCommit } from '../infra/container/image';
import { localStack } from '../infra/local';
import { stackName, stackPrefix } from '../infra/local/common';
import { POSTGRES_INIT_SQL } from '../infra/local/postgres';
import { ALERTMANAGER_CONFIG } from '../infra/local/alertmanager';
import { DASHBOARDS_DIR, PROVISIONING_DIR } from '../infra/local/grafana';
import { CONFIG_FILE, RULES_DIR } from '../infra/local/prometheus';
import { MONITORING_PATHS, readLocalMonitoringFiles, REPO_ROOT, type LocalMonitoringFiles } from '../infra/monitoring-files';
import { TEMPO_CONFIG_FILE, TEMPO_DATASOURCE_UID, TEMPO_IMAGE } from '../infra/local/tempo';
import { loadConfig } from '../src/config';
import { tracingOptions } from '../src/tracing/options';
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
/** The mocks run stack `test`: every Docker name starts with this. */
const PREFIX = 'pipewatch-test';
const uploadAt = (c: Record<string, any>, file: string): string => {
  const found = (c.uploads as Array<{ file: string; content: string }>).find((u) => u.file === file);
  if (!found) throw new Error(`no upload at ${file}: ${c.uploads.map((u: { file: string }) => u.file).join(', ')}`);
  return found.content;
};

const temp = mkdtempSync(join(tmpdir(), 'pipewatch-infra-local-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

describe('local Docker stack', () => {
  test('one user-defined network joins pipewatch, prometheus, grafana and tempo under the aliases the repo config uses; names are per stack', async () => {
    const { resources } = await up();
    const network = one(resources, 'docker:index/network:Network').inputs;
    expect(network.driver).toBe('bridge');
    expect(network.name).toBe(PREFIX);
    const containers = ofType(resources, 'docker:index/container:Container');
    // Not `prometheus` or `grafana`: those may already exist on the host, or belong to another stack.
    expect(containers.map((c) => c.inputs.name).sort()).toEqual([`${PREFIX}-grafana`, `${PREFIX}-pipewatch`, `${PREFIX}-prometheus`, `${PREFIX}-tempo`]);
    for (const v of ofType(resources, 'docker:index/volume:Volume')) expect(v.inputs.name).toStartWith(`${PREFIX}-`);
    for (const c of containers) {
      expect(c.inputs.networksAdvanced).toEqual([{ name: network.name, aliases: [c.name] }]);
      expect(c.inputs.restart).toBe('unless-stopped');
      // Tempo has none (see infra/local/tempo.ts): nothing waits on it.
      if (c.name !== 'tempo') expect(c.inputs.healthcheck.tests[0]).toBe('CMD');
    }
  });

  test('the service runs the image built from the repo by id, its queue on a named volume, health-checked by its own binary', async () => {
    const { resources } = await up({ sqliteSynchronous: 'FULL' });
    const image = one(resources, 'docker:index/image:Image').inputs;
    expect(image.build.context).toBe(REPO_ROOT);
    expect(image.build.dockerfile).toBe(join(REPO_ROOT, 'infra/container/Dockerfile'));
    expect(image.buildOnPreview).toBe(false);
    expect(image.skipPush).toBe(true);
    // The context has no .git, so the commit for pipewatch_build_info travels as a build argument:
    // the last commit that changed the binary's inputs (see infra-container.test.ts).
    expect(image.build.args.PIPEWATCH_COMMIT).toBe(binaryCommit());
    expect(image.imageName).toBe(`${PREFIX}:local`);
    const app = container(resources, 'pipewatch');
    expect(app.image).toBe('sha256:built-from-the-repo');
    const volume = one(resources, 'docker:index/volume:Volume', 'pipewatch-data').inputs;
    expect(volume.name).toBe(`${PREFIX}-data`);
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

    const parsed = Bun.YAML.parse(uploaded) as {
      rule_files: string[];
      scrape_configs: Array<{ job_name: string; metrics_path?: string; static_configs: Array<{ targets: string[] }> }>;
    };
    expect(parsed.rule_files).toContain(`${RULES_DIR}/*.yml`);
    const job = parsed.scrape_configs.find((s) => s.job_name === 'pipewatch')!;
    const app = container(resources, 'pipewatch');
    expect(job.static_configs[0]!.targets).toContain(`${app.networksAdvanced[0].aliases[0]}:${app.ports[0].internal}`);
    expect(job.metrics_path ?? '/metrics').toBe('/metrics');

    expect(prometheus.command).toEqual([
      `--config.file=${CONFIG_FILE}`,
      '--storage.tsdb.path=/prometheus',
      '--storage.tsdb.retention.time=15d',
      '--enable-feature=exemplar-storage',
    ]);
    // Whoever reaches the port could shut Prometheus down through the lifecycle API.
    expect(prometheus.command.join(' ')).not.toContain('--web.enable-lifecycle');
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
    for (const args of [
      ['check', 'config', '--syntax-only', join(dir, 'prometheus.yml')],
      ['check', 'rules', ...ruleFiles],
    ]) {
      const run = Bun.spawnSync(['promtool', ...args], { stdout: 'pipe', stderr: 'pipe' });
      expect(`${run.exitCode} ${run.stderr.toString()}`).toStartWith('0 ');
    }
  });

  test('with Alertmanager on, Prometheus is pointed at it; off by default', async () => {
    expect(ofType((await up()).resources, 'docker:index/container:Container').map((c) => c.inputs.name)).not.toContain('alertmanager');
    const { resources, outputs } = await up({ alertmanager: 'true' });
    const alertmanager = container(resources, 'alertmanager');
    const config = Bun.YAML.parse(uploadAt(container(resources, 'prometheus'), CONFIG_FILE)) as {
      alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> };
    };
    expect(config.alerting.alertmanagers[0]!.static_configs[0]!.targets).toEqual([`${alertmanager.networksAdvanced[0].aliases[0]}:9093`]);
    expect(alertmanager.name).toBe(`${PREFIX}-alertmanager`);
    expect(Bun.YAML.parse(uploadAt(alertmanager, ALERTMANAGER_CONFIG))).toMatchObject({ route: { receiver: 'ticket', group_by: ['job'] } });
    expect(outputs.alertmanagerUrl).toBe('http://127.0.0.1:9093');
  });

  test('Grafana gets the repo datasource, dashboard provider and every dashboard where the provider looks', async () => {
    // tracing=false: the datasource file verbatim (with tracing its exemplar link is added, below).
    const { resources } = await up({ tracing: 'false' });
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
    expect(datasources.datasources.find((d) => d.uid === 'prometheus')!.url).toBe(
      `http://${prometheus.networksAdvanced[0].aliases[0]}:${prometheus.ports[0].internal}`,
    );
    expect(one(resources, 'docker:index/remoteImage:RemoteImage', 'grafana-image').inputs.name).toMatch(/^grafana\/grafana:11\.6\.\d+$/);
  });

  test('ports are published on 127.0.0.1 by default, and where config says', async () => {
    for (const c of ofType((await up()).resources, 'docker:index/container:Container')) {
      for (const port of c.inputs.ports) expect(port.ip).toBe('127.0.0.1');
    }
    const { resources, outputs } = await up({ bindAddress: '0.0.0.0', apiPort: '18000', grafanaPort: '13000' });
    expect(container(resources, 'pipewatch').ports).toEqual([{ internal: 8000, external: 18000, ip: '0.0.0.0', protocol: 'tcp' }]);
    expect(container(resources, 'grafana').ports[0]).toMatchObject({ internal: 3000, external: 13000 });
    expect(outputs).toMatchObject({
      apiUrl: 'http://127.0.0.1:18000',
      swaggerUiUrl: 'http://127.0.0.1:18000/docs',
      grafanaUrl: 'http://127.0.0.1:13000',
      prometheusUrl: 'http://127.0.0.1:9090',
    });
  });

  test('the Grafana admin password is generated when unset, reaches Grafana only as a secret, and anonymous viewing is opt-in', async () => {
    const { resources } = await up();
    expect(one(resources, 'random:index/randomPassword:RandomPassword').inputs.length).toBeGreaterThanOrEqual(20);
    const envs = secretInput<string[]>(one(resources, 'docker:index/container:Container', 'grafana').inputs.envs);
    expect(envs.secret).toBe(true);
    expect(envs.value).toContain('GF_SECURITY_ADMIN_PASSWORD=generated-Password-123');
    expect(envs.value).toContain('GF_AUTH_ANONYMOUS_ENABLED=false');
    const withAnonymous = await up({ grafanaAnonymous: 'true' });
    expect(container(withAnonymous.resources, 'grafana').envs).toEqual(
      expect.arrayContaining(['GF_AUTH_ANONYMOUS_ENABLED=true', 'GF_AUTH_ANONYMOUS_ORG_ROLE=Viewer']),
    );
  });

  test.each([
    ['generated', {}, 'generated-Password-123'],
    ['from `pulumi config set --secret`', { grafanaAdminPassword: 'from-secret-config-42' }, 'from-secret-config-42'],
  ])('a %s password is a secret output and appears in no plain output', async (_, config: Record<string, string>, password) => {
    let outputs: Record<string, unknown> = {};
    const run = await mocks.run(
      () => {
        const { config: stackConfig, secrets } = readStackConfig();
        outputs = localStack(stackConfig, secrets, files).outputs;
        return outputs;
      },
      { target: 'local', ...config },
      Object.keys(config),
    );
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

describe('local stack with queueDriver=postgres', () => {
  test('a pinned PostgreSQL container with a volume and a healthcheck; the service waits for it', async () => {
    const { resources, outputs } = await up({ queueDriver: 'postgres' });
    const image = one(resources, 'docker:index/remoteImage:RemoteImage', 'postgres-image').inputs.name as string;
    expect(image).toMatch(/^postgres:\d+\.\d+/); // a minor version, not `latest` or a bare major
    const postgres = container(resources, 'postgres');
    expect(postgres.name).toBe(`${PREFIX}-postgres`);
    expect(postgres.image).toBe('sha256:postgres-image');
    const volume = one(resources, 'docker:index/volume:Volume', 'postgres-data').inputs;
    expect(volume.name).toBe(`${PREFIX}-postgres-data`);
    expect(postgres.volumes).toEqual([{ volumeName: volume.name, containerPath: '/var/lib/postgresql/data' }]);
    expect(postgres.healthcheck.tests).toEqual(['CMD', 'pg_isready', '-U', 'pipewatch', '-d', 'pipewatch', '-h', '127.0.0.1']);
    expect(postgres.wait).toBe(true);
    expect(postgres.ports).toEqual([{ internal: 5432, external: 5432, ip: '127.0.0.1', protocol: 'tcp' }]);
    const envs = secretInput<string[]>(one(resources, 'docker:index/container:Container', 'postgres').inputs.envs);
    // The image's superuser is `postgres`; the service's role is made by the init script, with its own password.
    expect(envs).toEqual({
      secret: true,
      value: ['POSTGRES_USER=postgres', 'POSTGRES_PASSWORD=generated-Password-123', 'PIPEWATCH_DB_PASSWORD=generated-Password-123'],
    });
    expect(
      ofType(resources, 'random:index/randomPassword:RandomPassword')
        .map((r) => r.name)
        .sort(),
    ).toEqual(['grafana-admin-password', 'postgres-admin-password', 'postgres-password']);
    const init = (postgres.uploads as Array<{ file: string; content: string; permissions: string }>).find((u) =>
      u.file.startsWith('/docker-entrypoint-initdb.d/'),
    )!;
    expect(init).toMatchObject({ content: POSTGRES_INIT_SQL, permissions: '0755' });
    // A role with no attributes that owns the queue's database (checked against a real PostgreSQL
    // when this was written: the role creates and owns tables, CREATE DATABASE/ROLE are refused).
    expect(init.content).toContain('CREATE ROLE pipewatch LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE');
    expect(init.content).toContain('CREATE DATABASE pipewatch OWNER pipewatch');
    // No sqlite volume for the service.
    expect(
      ofType(resources, 'docker:index/volume:Volume')
        .map((v) => v.name)
        .sort(),
    ).toEqual(['postgres-data', 'prometheus-data', 'tempo-data']);
    expect(outputs.queueVolume).toBe(`${PREFIX}-postgres-data`);
    expect(outputs.postgresPassword).toBe('generated-Password-123');
  });

  test('`replicas` service containers on the one queue, each a Prometheus target with its own instance label', async () => {
    const { resources, outputs } = await up({ queueDriver: 'postgres', replicas: '3', pgPoolMax: '4' });
    const replicas = ['pipewatch-1', 'pipewatch-2', 'pipewatch-3'].map((name) => container(resources, name));
    const raw = ['pipewatch-1', 'pipewatch-2', 'pipewatch-3'].map((name) => one(resources, 'docker:index/container:Container', name));
    expect(replicas.map((r) => r.name)).toEqual([`${PREFIX}-pipewatch-1`, `${PREFIX}-pipewatch-2`, `${PREFIX}-pipewatch-3`]);
    expect(replicas.map((r) => r.ports[0].external)).toEqual([8000, 8001, 8002]);
    expect(outputs.apiUrls).toEqual(['http://127.0.0.1:8000', 'http://127.0.0.1:8001', 'http://127.0.0.1:8002']);
    const image = one(resources, 'docker:index/image:Image');
    expect(ofType(resources, 'docker:index/image:Image')).toHaveLength(1); // one build, three containers
    for (const [i, r] of raw.entries()) {
      expect(replicas[i]!.image).toBe('sha256:built-from-the-repo');
      expect(image.name).toBe('pipewatch-image');
      const envs = secretInput<string[]>(r.inputs.envs);
      // The password is in the env: the whole list stays secret.
      expect(envs.secret).toBe(true);
      expect(envs.value).toEqual(
        expect.arrayContaining([
          'QUEUE_DRIVER=postgres',
          'PGHOST=postgres',
          'PGPORT=5432',
          'PGUSER=pipewatch',
          'PGDATABASE=pipewatch',
          'PGPASSWORD=generated-Password-123',
          'PG_POOL_MAX=4',
        ]),
      );
      expect(envs.value.some((e) => e.startsWith('DATA_DIR='))).toBe(false);
      expect(replicas[i]!.volumes).toEqual([]);
    }
    const prometheus = container(resources, 'prometheus');
    const config = Bun.YAML.parse(uploadAt(prometheus, CONFIG_FILE)) as {
      scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
    };
    const job = config.scrape_configs.find((s) => s.job_name === 'pipewatch')!;
    // Prometheus sets instance=<target>: three targets, three instance values.
    expect(job.static_configs).toEqual([{ targets: ['pipewatch-1:8000', 'pipewatch-2:8000', 'pipewatch-3:8000'] }]);
    expect(replicas.map((r) => `${r.networksAdvanced[0].aliases[0]}:${r.ports[0].internal}`)).toEqual(job.static_configs[0]!.targets);
    // Everything else in the repo's file is kept.
    const repo = Bun.YAML.parse(files.prometheusConfig) as Record<string, unknown>;
    expect(Object.keys(config).sort()).toEqual(Object.keys(repo).sort());

    const dir = mkdtempSync(join(temp, 'promtool-replicas-'));
    writeFileSync(join(dir, 'prometheus.yml'), uploadAt(prometheus, CONFIG_FILE));
    const check = Bun.spawnSync(['promtool', 'check', 'config', '--syntax-only', join(dir, 'prometheus.yml')], { stdout: 'pipe', stderr: 'pipe' });
    expect(`${check.exitCode} ${check.stderr.toString()}`).toStartWith('0 ');
  });

  test('sqlite stays one container; bad combinations fail before anything is registered', async () => {
    expect(
      ofType((await up({ queueDriver: 'sqlite' })).resources, 'docker:index/container:Container')
        .map((c) => c.name)
        .sort(),
    ).toEqual(['grafana', 'pipewatch', 'prometheus', 'tempo']);
    await expect(up({ queueDriver: 'sqlite', replicas: '2' })).rejects.toThrow('invalid pipewatch:replicas=2: sqlite is one process');
    expect(mocks.registered).toEqual([]);
    await expect(up({ queueDriver: 'postgres', replicas: '3', prometheusPort: '8002' })).rejects.toThrow(
      'invalid pipewatch:prometheusPort=8002: pipewatch:apiPort+2 already publishes that port',
    );
    await expect(up({ queueDriver: 'postgres', postgresPort: '3000' })).rejects.toThrow(
      'invalid pipewatch:grafanaPort=3000: pipewatch:postgresPort already publishes',
    );
  });
});

describe('local stack tracing (tracing=true, the default)', () => {
  const envOf = (c: Record<string, any>) => Object.fromEntries((c.envs as string[]).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

  test('every service container exports OTLP to the Tempo container on the stack network', async () => {
    const { resources, outputs } = await up({ queueDriver: 'postgres', replicas: '2', traceSampleRatio: '0.25' });
    const tempo = container(resources, 'tempo');
    expect(tempo.name).toBe(`${PREFIX}-tempo`);
    expect(tempo.image).toBe('sha256:tempo-image');
    expect(one(resources, 'docker:index/remoteImage:RemoteImage', 'tempo-image').inputs.name).toBe(TEMPO_IMAGE);
    // The receiver Tempo's uploaded config opens, addressed by the alias Tempo has on the network.
    const tempoYaml = Bun.YAML.parse(uploadAt(tempo, TEMPO_CONFIG_FILE)) as any;
    const otlpPort = Number(String(tempoYaml.distributor.receivers.otlp.protocols.http.endpoint).split(':')[1]);
    for (const name of ['pipewatch-1', 'pipewatch-2']) {
      const env = envOf(container(resources, name));
      expect(env).toMatchObject({
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://${tempo.networksAdvanced[0].aliases[0]}:${otlpPort}`,
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
      });
      // The service's own config accepts them (the same validation as at start-up).
      expect(tracingOptions(loadConfig(env))).toMatchObject({ exporter: 'otlp', url: `http://tempo:${otlpPort}/v1/traces`, ratio: 0.25 });
    }
    // Tempo's API published on 127.0.0.1 only; OTLP stays inside the network.
    expect(tempo.ports).toEqual([{ internal: 3200, external: 3200, ip: '127.0.0.1', protocol: 'tcp' }]);
    expect(outputs.tempoUrl).toBe('http://127.0.0.1:3200');
  });

  test('Prometheus keeps exemplars; Grafana gets the Tempo datasource and the Prometheus datasource links exemplars to it', async () => {
    const { resources } = await up();
    expect(container(resources, 'prometheus').command).toContain('--enable-feature=exemplar-storage');
    const grafana = container(resources, 'grafana');
    const tempoDs = (Bun.YAML.parse(uploadAt(grafana, `${PROVISIONING_DIR}/datasources/tempo.yml`)) as any).datasources[0];
    const tempo = container(resources, 'tempo');
    expect(tempoDs).toMatchObject({
      type: 'tempo',
      uid: TEMPO_DATASOURCE_UID,
      url: `http://${tempo.networksAdvanced[0].aliases[0]}:${tempo.ports[0].internal}`,
    });
    const prometheusDs = (Bun.YAML.parse(uploadAt(grafana, `${PROVISIONING_DIR}/datasources/prometheus.yml`)) as any).datasources.find(
      (d: any) => d.type === 'prometheus',
    );
    // The label the service writes its exemplars under (src/tracing/http.ts: trace_id), to the Tempo uid.
    expect(prometheusDs.jsonData.exemplarTraceIdDestinations).toEqual([{ name: 'trace_id', datasourceUid: tempoDs.uid }]);
    // Everything else in the repo's datasource stays as generated.
    const repo = (Bun.YAML.parse(files.grafanaDatasources) as any).datasources.find((d: any) => d.type === 'prometheus');
    expect(prometheusDs).toMatchObject({ ...repo, jsonData: { ...repo.jsonData } });
  });

  test('tracing=false: no Tempo, no OTEL_* env, no exemplar flag, the datasource file verbatim; a port clash with Tempo is refused', async () => {
    const { resources, outputs } = await up({ tracing: 'false' });
    expect(ofType(resources, 'docker:index/container:Container').map((c) => c.name)).not.toContain('tempo');
    expect((container(resources, 'pipewatch').envs as string[]).filter((l) => l.startsWith('OTEL_'))).toEqual([]);
    expect(container(resources, 'prometheus').command).not.toContain('--enable-feature=exemplar-storage');
    expect((container(resources, 'grafana').uploads as Array<{ file: string }>).map((u) => u.file)).not.toContain(`${PROVISIONING_DIR}/datasources/tempo.yml`);
    expect(outputs.tempoUrl).toBeUndefined();
    await expect(up({ tempoPort: '3000' })).rejects.toThrow('invalid pipewatch:tempoPort=3000: pipewatch:grafanaPort already publishes that port');
    expect(mocks.registered).toEqual([]);
    await expect(up({ tracing: 'false', tempoPort: '3000' })).resolves.toBeDefined();
  });
});

describe('two local stacks on one Docker host', () => {
  test('every name comes from the stack name', () => {
    expect(stackPrefix('dev')).toBe('pipewatch-dev');
    expect(stackPrefix('Team/Staging 2')).toBe('pipewatch-team-staging-2');
    expect(stackName({ prefix: stackPrefix('a') }, 'prometheus')).not.toBe(stackName({ prefix: stackPrefix('b') }, 'prometheus'));
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
