import { describe, expect, test } from 'bun:test';
import program from '../infra/index';
import { REQUIRED_APIS } from '../infra/gcp/apis';
import { scopeToService } from '../infra/gcp/alerting';
import { COLLECTOR_CONFIG_DIR, COLLECTOR_CONFIG_FILE } from '../infra/gcp/collector';
import { OTELCOL_GOOGLE_IMAGE, TRACE_COLLECTOR_CONTAINER, TRACING_APIS } from '../infra/gcp/tracing';
import { readCloudAlerts } from '../infra/monitoring-files';
import { installPulumiMocks, isSecret, one, ofType, plain, secretInput, type Registered } from './support/pulumi-mocks';

const PROJECT = 'pipewatch-test-project';
const REGION = 'europe-west1';
const DIGEST = `${REGION}-docker.pkg.dev/${PROJECT}/pipewatch/pipewatch@sha256:0123456789abcdef`;
const ACCESS_TOKEN = 'ya29.deployer-access-token';
const DB_PASSWORD = 'generated-db-Password-0123456789ab';

// What Google's APIs would answer with for the outputs the program consumes.
const mocks = installPulumiMocks({
  outputs: (r) => {
    switch (r.type) {
      case 'docker:index/image:Image':
        return { repoDigest: DIGEST };
      case 'gcp:serviceaccount/account:Account':
        return { email: `${r.inputs.accountId}@${PROJECT}.iam.gserviceaccount.com` };
      case 'gcp:secretmanager/secretVersion:SecretVersion':
        return { version: r.name === 'queue-db-password' ? '3' : '7' };
      case 'random:index/randomString:RandomString':
        return { result: 'k3x9qa' };
      case 'random:index/randomPassword:RandomPassword':
        return { result: DB_PASSWORD };
      case 'gcp:sql/databaseInstance:DatabaseInstance':
        return { connectionName: `${PROJECT}:${REGION}:${r.inputs.name}` };
      case 'gcp:cloudrunv2/service:Service':
        return { uri: 'https://pipewatch-abc123-ew.a.run.app' };
      case 'gcp:monitoring/notificationChannel:NotificationChannel':
        return { name: `projects/${PROJECT}/notificationChannels/4242` };
      default:
        return {};
    }
  },
  calls: { 'gcp:organizations/getClientConfig:getClientConfig': { accessToken: ACCESS_TOKEN, project: PROJECT, region: REGION, id: 'client', zone: '' } },
});

function up(config: Record<string, string> = {}) {
  return mocks.run(program, { target: 'gcp', 'gcp:project': PROJECT, 'gcp:region': REGION, ...config });
}

const cloudRun = (resources: Registered[]) => plain(one(resources, 'gcp:cloudrunv2/service:Service').inputs);
const runMonitoringOf = (resources: Registered[]) =>
  Bun.YAML.parse(secretInput<string>(one(resources, 'gcp:secretmanager/secretVersion:SecretVersion', 'run-monitoring').inputs.secretData).value);
const envOf = (app: { envs: Array<{ name: string; value?: string }> }) =>
  Object.fromEntries(app.envs.filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
const containerNamed = (service: Record<string, any>, name: string) => service.template.containers.find((c: { name: string }) => c.name === name);

describe('GCP stack', () => {
  test('Artifact Registry holds the image built from the repo, and Cloud Run deploys it by digest', async () => {
    const { resources, outputs } = await up();
    const repository = one(resources, 'gcp:artifactregistry/repository:Repository').inputs;
    expect(repository).toMatchObject({ format: 'DOCKER', location: REGION, repositoryId: 'pipewatch', project: PROJECT });
    const image = one(resources, 'docker:index/image:Image').inputs;
    expect(image.imageName).toBe(`${REGION}-docker.pkg.dev/${PROJECT}/pipewatch/pipewatch:latest`);
    expect(image.buildOnPreview).toBe(false);
    // The image's platform; the Dockerfile's build stage runs on the builder's and cross-compiles.
    expect(image.build).toMatchObject({ dockerfile: expect.stringMatching(/infra\/container\/Dockerfile$/), platform: 'linux/amd64' });
    // The push credential (the deployer's short-lived token) makes the whole registry block secret.
    expect(secretInput(image.registry)).toEqual({
      secret: true,
      value: { server: `${REGION}-docker.pkg.dev`, username: 'oauth2accesstoken', password: ACCESS_TOKEN },
    });
    expect(containerNamed(cloudRun(resources), 'pipewatch').image).toBe(DIGEST);
    expect(outputs.imageRef).toBe(DIGEST);
  });

  test('the app container: typed CPU settings (cpuIdle false), startup and liveness probes, /metrics on a private port', async () => {
    const { resources } = await up({ cpu: '2', memory: '1Gi', concurrency: '40', minInstances: '1', maxInstances: '3' });
    const service = cloudRun(resources);
    const app = containerNamed(service, 'pipewatch');
    expect(app.resources).toEqual({ limits: { cpu: '2', memory: '1Gi' }, cpuIdle: false, startupCpuBoost: true });
    expect(app.ports).toEqual({ name: 'http1', containerPort: 8000 });
    expect(app.startupProbe.httpGet).toEqual({ path: '/readyz', port: 8000 });
    expect(app.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 8000 });
    expect(envOf(app)).toMatchObject({ METRICS_PORT: '9091', QUEUE_DRIVER: 'postgres', SHUTDOWN_GRACE_MS: '8000', SHUTDOWN_DRAIN_MS: '0' });
    expect(service.template).toMatchObject({ maxInstanceRequestConcurrency: 40, scaling: { minInstanceCount: 1, maxInstanceCount: 3 } });
    expect(service.deletionProtection).toBe(false); // explicit, or `pulumi destroy` fails
    // v2 rejects run.googleapis.com/* annotations: none anywhere.
    expect(JSON.stringify(service)).not.toContain('run.googleapis.com/');
  });

  test("the collector sidecar is Google's Managed Prometheus image, starts after the app and reads RunMonitoring from Secret Manager", async () => {
    const { resources } = await up({ metricsPort: '9464' });
    const service = cloudRun(resources);
    expect(service.template.containers.map((c: { name: string }) => c.name)).toEqual(['pipewatch', 'collector']);
    const collector = containerNamed(service, 'collector');
    expect(collector.image).toStartWith('us-docker.pkg.dev/cloud-ops-agents-artifacts/cloud-run-gmp-sidecar/cloud-run-gmp-sidecar:');
    expect(collector.dependsOns).toEqual(['pipewatch']);
    expect(collector.resources.cpuIdle).toBe(false);
    // Its health endpoint is the port stack config keeps metricsPort away from.
    expect(collector.livenessProbe.httpGet).toEqual({ path: '/liveness', port: 13133 });
    const mount = collector.volumeMounts[0];
    expect(mount.mountPath).toBe(COLLECTOR_CONFIG_DIR);
    const volume = service.template.volumes.find((v: { name: string }) => v.name === mount.name);
    const secret = one(resources, 'gcp:secretmanager/secret:Secret', 'run-monitoring').inputs;
    // Pinned to the version just written: a new config rolls out a new revision.
    expect(volume.secret).toEqual({ secret: secret.secretId, items: [{ version: '7', path: COLLECTOR_CONFIG_FILE }] });

    const runMonitoring = runMonitoringOf(resources) as any;
    expect(runMonitoring).toMatchObject({ apiVersion: 'monitoring.googleapis.com/v1beta', kind: 'RunMonitoring', metadata: { name: 'pipewatch' } });
    expect(runMonitoring.spec.endpoints).toEqual([{ port: 9464, path: '/metrics', interval: '30s' }]);
    const app = containerNamed(service, 'pipewatch');
    expect(app.envs).toContainEqual({ name: 'METRICS_PORT', value: '9464' });
    // The scraped port is not the ingress port: /metrics is not reachable from outside the instance.
    expect(runMonitoring.spec.endpoints[0].port).not.toBe(app.ports.containerPort);
  });

  test('the runtime identity has exactly metric writing, log writing, Cloud SQL client and access to its two secrets', async () => {
    const { resources } = await up();
    const account = one(resources, 'gcp:serviceaccount/account:Account').inputs;
    expect(account.accountId).toBe('pipewatch-run');
    const member = `serviceAccount:${account.accountId}@${PROJECT}.iam.gserviceaccount.com`;
    expect(cloudRun(resources).template.serviceAccount).toBe(`${account.accountId}@${PROJECT}.iam.gserviceaccount.com`);
    const projectRoles = ofType(resources, 'gcp:projects/iAMMember:IAMMember').map((r) => [r.inputs.role, r.inputs.member]);
    expect(projectRoles.sort()).toEqual([
      ['roles/cloudsql.client', member],
      ['roles/logging.logWriter', member],
      ['roles/monitoring.metricWriter', member],
    ]);
    const secretIds = ofType(resources, 'gcp:secretmanager/secret:Secret')
      .map((r) => r.inputs.secretId)
      .sort();
    expect(secretIds).toEqual(['pipewatch-db-password', 'pipewatch-run-monitoring']);
    const secretGrants = ofType(resources, 'gcp:secretmanager/secretIamMember:SecretIamMember').map((r) => r.inputs);
    // One grant per secret, on that secret: never a project-wide secretAccessor.
    expect(secretGrants.map((g) => [g.secretId, g.role, g.member]).sort()).toEqual(secretIds.map((id) => [id, 'roles/secretmanager.secretAccessor', member]));
    // No other IAM of any kind (bindings, policies, custom roles, allUsers).
    const iam = resources.filter((r) => /iam|Iam|IAM/.test(r.type)).map((r) => r.type);
    expect(iam.sort()).toEqual([...Array(3).fill('gcp:projects/iAMMember:IAMMember'), ...Array(2).fill('gcp:secretmanager/secretIamMember:SecretIamMember')]);
  });

  test('with queueDriver=sqlite there is no database, no Cloud SQL role and the queue file is in DATA_DIR', async () => {
    const { resources } = await up({ queueDriver: 'sqlite', maxInstances: '1' });
    expect(ofType(resources, 'gcp:sql/databaseInstance:DatabaseInstance')).toEqual([]);
    expect(ofType(resources, 'gcp:projects/iAMMember:IAMMember').map((r) => r.inputs.role)).not.toContain('roles/cloudsql.client');
    const service = cloudRun(resources);
    const app = containerNamed(service, 'pipewatch');
    expect(envOf(app)).toMatchObject({ QUEUE_DRIVER: 'sqlite', DATA_DIR: '/data', SQLITE_SYNCHRONOUS: 'FULL' });
    expect(envOf(app).PGHOST).toBeUndefined();
    expect(service.template.volumes.map((v: { name: string }) => v.name)).toEqual(['run-monitoring']);
  });

  test('public=true disables the invoker IAM check instead of binding allUsers', async () => {
    const closed = await up();
    expect(cloudRun(closed.resources).invokerIamDisabled).toBe(false);
    expect(closed.outputs.public).toBe(false);
    const open = await up({ public: 'true' });
    expect(cloudRun(open.resources).invokerIamDisabled).toBe(true);
    // Domain-restricted sharing rejects allUsers: no binding of it anywhere.
    expect(ofType(open.resources, 'gcp:cloudrunv2/serviceIamMember:ServiceIamMember')).toEqual([]);
    expect(JSON.stringify(open.resources.map((r) => r.inputs))).not.toContain('allUsers');
  });

  test('one Cloud Monitoring alert policy per repo alert, with its PromQL, and the notification channel from config', async () => {
    const alerts = readCloudAlerts();
    const readme = 'https://github.com/example/pipewatch/blob/main/README.md';
    const { resources } = await up({
      alertEmail: 'oncall@example.org',
      notificationChannels: `["projects/${PROJECT}/notificationChannels/1"]`,
      runbookBaseUrl: readme,
    });
    const channel = one(resources, 'gcp:monitoring/notificationChannel:NotificationChannel').inputs;
    expect(channel).toMatchObject({ type: 'email', labels: { email_address: 'oncall@example.org' } });
    const policies = ofType(resources, 'gcp:monitoring/alertPolicy:AlertPolicy').map((r) => r.inputs);
    expect(policies).toHaveLength(alerts.length);
    for (const alert of alerts) {
      const policy = policies.find((p) => p.displayName === `${alert.displayName} (pipewatch, ${REGION})`)!;
      const condition = policy.conditions[0].conditionPrometheusQueryLanguage;
      expect(policy.conditions).toHaveLength(1);
      expect(condition).toMatchObject({ duration: `${alert.for}s`, alertRule: alert.name });
      // A fresh project has none of these metrics yet: without this the API refuses the policy.
      expect(condition.disableMetricValidation).toBe(true);
      // The repo's query, read only from this stack's service in its region.
      expect(condition.query).toBe(alert.promql.replaceAll('job="pipewatch"', `job="pipewatch",namespace="pipewatch",location="${REGION}"`));
      expect(policy.notificationChannels).toEqual([`projects/${PROJECT}/notificationChannels/4242`, `projects/${PROJECT}/notificationChannels/1`]);
      // An absolute link: a relative README.md#... means nothing in an email.
      expect(policy.documentation.content).toContain(`Runbook: ${readme}${alert.runbook.slice(alert.runbook.indexOf('#'))}`);
      expect(policy.documentation.content).not.toMatch(/(^|\s)README\.md#/);
      expect(['CRITICAL', 'ERROR', 'WARNING']).toContain(policy.severity);
    }
    // The alerts select job="pipewatch": the collector's RunMonitoring name sets that label.
    const runMonitoring = runMonitoringOf(resources) as { metadata: { name: string } };
    for (const alert of alerts.filter((a) => a.promql.includes('job='))) expect(alert.promql).toContain(`job="${runMonitoring.metadata.name}"`);
  });

  test('two stacks in one project: every selector of every policy is scoped to its own service', async () => {
    const a = ofType((await up({ serviceName: 'pipewatch-a' })).resources, 'gcp:monitoring/alertPolicy:AlertPolicy').map((r) => r.inputs);
    const b = ofType((await up({ serviceName: 'pipewatch-b' })).resources, 'gcp:monitoring/alertPolicy:AlertPolicy').map((r) => r.inputs);
    for (const [policies, service] of [
      [a, 'pipewatch-a'],
      [b, 'pipewatch-b'],
    ] as const) {
      for (const policy of policies) {
        const query: string = policy.conditions[0].conditionPrometheusQueryLanguage.query;
        const selectors = query.match(/\{[^}]*\}/g) ?? [];
        expect(selectors.length).toBeGreaterThan(0);
        for (const selector of selectors) expect(selector).toContain(`namespace="${service}",location="${REGION}"`);
      }
    }
    expect(new Set([...a, ...b].map((p) => p.displayName)).size).toBe(a.length + b.length);
    // A query the sidecar's job label does not scope would read every stack: refused.
    expect(() => scopeToService('up == 0', 'pipewatch', 'svc', REGION)).toThrow('cannot be scoped');
  });

  test.each(['europe-west10', 'europe-west12', 'us-central1', 'me-central2'])('region %s (one or two digits) is accepted', async (region) => {
    const { resources } = await up({ 'gcp:region': region });
    expect(plain(one(resources, 'gcp:cloudrunv2/service:Service').inputs).location).toBe(region);
  });

  test('the service name sets the runtime account id within the 6-30 characters IAM allows', async () => {
    for (const serviceName of ['pw', 'pipewatch-staging-europe-x']) {
      const { resources } = await up({ serviceName });
      const accountId: string = one(resources, 'gcp:serviceaccount/account:Account').inputs.accountId;
      expect(accountId).toBe(`${serviceName}-run`);
      expect(accountId).toMatch(/^[a-z][-a-z0-9]{4,28}[a-z0-9]$/);
    }
  });

  test('Cloud SQL for PostgreSQL: ENTERPRISE edition, REGIONAL with backups and PITR, both deletion protections, a maintenance window, a random name suffix', async () => {
    const { resources } = await up();
    const instance = plain(one(resources, 'gcp:sql/databaseInstance:DatabaseInstance').inputs);
    expect(instance).toMatchObject({
      project: PROJECT,
      region: REGION,
      databaseVersion: 'POSTGRES_16',
      deletionProtection: true,
      name: 'pipewatch-queue-k3x9qa',
    });
    expect(one(resources, 'random:index/randomString:RandomString').inputs).toMatchObject({ length: 6, special: false, upper: false });
    expect(instance.settings).toMatchObject({
      edition: 'ENTERPRISE',
      tier: 'db-custom-1-3840',
      availabilityType: 'REGIONAL',
      diskSize: 10,
      diskAutoresize: true,
      deletionProtectionEnabled: true,
      backupConfiguration: { enabled: true, pointInTimeRecoveryEnabled: true },
      maintenanceWindow: { day: 7, hour: 3 },
      ipConfiguration: { ipv4Enabled: true, sslMode: 'ENCRYPTED_ONLY' },
      databaseFlags: [{ name: 'max_connections', value: '100' }],
    });
    expect(instance.settings.ipConfiguration.authorizedNetworks).toBeUndefined();
    const database = one(resources, 'gcp:sql/database:Database').inputs;
    const user = one(resources, 'gcp:sql/user:User').inputs;
    expect(database).toMatchObject({ name: 'pipewatch', instance: 'pipewatch-queue-k3x9qa' });
    expect(user).toMatchObject({ name: 'pipewatch', type: 'BUILT_IN', instance: 'pipewatch-queue-k3x9qa', deletionPolicy: 'ABANDON' });
    expect(secretInput(user.password)).toEqual({ secret: true, value: DB_PASSWORD });

    const small = plain(
      one(
        (
          await up({
            dbAvailability: 'ZONAL',
            dbTier: 'db-custom-2-7680',
            dbDiskGb: '20',
            dbVersion: 'POSTGRES_17',
            dbDeletionProtection: 'false',
            dbMaintenanceDay: '2',
            dbMaintenanceHour: '4',
          })
        ).resources,
        'gcp:sql/databaseInstance:DatabaseInstance',
      ).inputs,
    );
    expect(small).toMatchObject({ databaseVersion: 'POSTGRES_17', deletionProtection: false });
    expect(small.settings).toMatchObject({
      edition: 'ENTERPRISE',
      availabilityType: 'ZONAL',
      tier: 'db-custom-2-7680',
      diskSize: 20,
      deletionProtectionEnabled: false,
      maintenanceWindow: { day: 2, hour: 4 },
    });
  });

  test('the service reaches Cloud SQL over the /cloudsql socket volume; the password comes from Secret Manager by version, never as a value or an output', async () => {
    let outputs: Record<string, unknown> = {};
    const run = await mocks.run(() => (outputs = program()), { target: 'gcp', 'gcp:project': PROJECT, 'gcp:region': REGION, pgPoolMax: '4' });
    const service = cloudRun(run.resources);
    const connection = `${PROJECT}:${REGION}:pipewatch-queue-k3x9qa`;
    expect(service.template.volumes).toContainEqual({ name: 'cloudsql', cloudSqlInstance: { instances: [connection] } });
    const app = containerNamed(service, 'pipewatch');
    expect(app.volumeMounts).toEqual([{ name: 'cloudsql', mountPath: '/cloudsql' }]);
    expect(envOf(app)).toMatchObject({
      QUEUE_DRIVER: 'postgres',
      PGHOST: `/cloudsql/${connection}`,
      PGUSER: 'pipewatch',
      PGDATABASE: 'pipewatch',
      PG_POOL_MAX: '4',
    });
    expect(envOf(app).DATA_DIR).toBeUndefined();
    const secret = one(run.resources, 'gcp:secretmanager/secret:Secret', 'queue-db-password').inputs;
    expect(app.envs.find((e: { name: string }) => e.name === 'PGPASSWORD')).toEqual({
      name: 'PGPASSWORD',
      valueSource: { secretKeyRef: { secret: secret.secretId, version: '3' } },
    });
    const version = one(run.resources, 'gcp:secretmanager/secretVersion:SecretVersion', 'queue-db-password').inputs;
    expect(secretInput(version.secretData)).toEqual({ secret: true, value: DB_PASSWORD });
    // The only places the password is: the user, the secret version (both secret inputs).
    expect(JSON.stringify(service)).not.toContain(DB_PASSWORD);
    expect(JSON.stringify(run.outputs)).not.toContain(DB_PASSWORD);
    for (const value of Object.values(outputs)) expect(await isSecret(value)).toBe(false);
    expect(run.outputs).toMatchObject({ queueDriver: 'postgres', databaseConnectionName: connection, databasePasswordSecret: 'pipewatch-db-password' });
  });

  test('autoscaling: a small range by default, more than one instance allowed; CPU stays allocated; SIGTERM drain within 10 s', async () => {
    const service = cloudRun((await up()).resources);
    expect(service.template.scaling).toEqual({ minInstanceCount: 1, maxInstanceCount: 3 });
    const app = containerNamed(service, 'pipewatch');
    expect(app.resources.cpuIdle).toBe(false);
    expect(Number(envOf(app).SHUTDOWN_GRACE_MS)).toBeLessThanOrEqual(9000);
    expect(cloudRun((await up({ maxInstances: '8' })).resources).template.scaling.maxInstanceCount).toBe(8);
  });

  test('the required APIs are enabled and left enabled on destroy', async () => {
    const { resources } = await up();
    const apis = ofType(resources, 'gcp:projects/service:Service').map((r) => r.inputs);
    expect(apis.map((a) => a.service).sort()).toEqual([...REQUIRED_APIS].sort());
    // Project IAM grants go through Cloud Resource Manager; Cloud SQL and its Cloud Run connection need SQL Admin.
    for (const api of ['cloudresourcemanager.googleapis.com', 'serviceusage.googleapis.com', 'sqladmin.googleapis.com'])
      expect(REQUIRED_APIS).toContain(api as never);
    for (const api of apis) expect(api.disableOnDestroy).toBe(false);
  });

  test('outputs: the service URL, Swagger UI and where to see metrics; the registry token is secret and in no output', async () => {
    let outputs: Record<string, unknown> = {};
    const run = await mocks.run(() => (outputs = program()), { target: 'gcp', 'gcp:project': PROJECT, 'gcp:region': REGION });
    expect(run.outputs).toMatchObject({
      serviceUrl: 'https://pipewatch-abc123-ew.a.run.app',
      swaggerUiUrl: 'https://pipewatch-abc123-ew.a.run.app/docs',
      metricsExplorerUrl: `https://console.cloud.google.com/monitoring/metrics-explorer?project=${PROJECT}`,
      prometheusQueryApi: `https://monitoring.googleapis.com/v1/projects/${PROJECT}/location/global/prometheus`,
    });
    for (const value of Object.values(outputs)) expect(await isSecret(value)).toBe(false);
    expect(JSON.stringify(run.outputs)).not.toContain(ACCESS_TOKEN);
    expect(secretInput(one(run.resources, 'docker:index/image:Image').inputs.registry).secret).toBe(true);
  });

  test.each([
    [{ shutdownGraceMs: '12000' }, 'must be at most 9000 on Cloud Run'],
    [{ 'gcp:region': '' }, 'missing gcp:region'],
    [{ 'gcp:region': 'Europe West' }, 'invalid gcp:region="Europe West"'],
    [{ minInstances: '2', maxInstances: '1' }, 'must not exceed pipewatch:maxInstances=1'],
    [{ minInstances: '0' }, 'invalid pipewatch:minInstances="0": must be an integer from 1 to 100'],
    [{ cpu: '4', memory: '1Gi' }, 'invalid pipewatch:memory="1Gi": 4 CPU on Cloud Run gen2 needs at least 2Gi'],
    [{ cpu: '8', memory: '2Gi' }, 'invalid pipewatch:memory="2Gi": 8 CPU on Cloud Run gen2 needs at least 4Gi'],
    [{ memory: '256Mi' }, 'invalid pipewatch:memory="256Mi": 1 CPU on Cloud Run gen2 needs at least 512Mi'],
    [{ memory: '8Gi' }, 'invalid pipewatch:memory="8Gi": more than 4Gi needs more than 1 CPU'],
    [{ metricsPort: '8000' }, 'invalid pipewatch:metricsPort=8000: 8000 is the app port'],
    [{ metricsPort: '13133' }, "invalid pipewatch:metricsPort=13133: 13133 is the collector sidecar's health port"],
    [{ serviceName: 'a' }, 'invalid pipewatch:serviceName="a": must match'],
    [{ serviceName: 'pipewatch-with-a-long-name-x' }, 'invalid pipewatch:serviceName="pipewatch-with-a-long-name-x": must match'],
    [{ queueDriver: 'sqlite' }, 'invalid pipewatch:maxInstances=3: with pipewatch:queueDriver=sqlite every instance has its own'],
    [
      { maxInstances: '10', pgPoolMax: '10' },
      'invalid pipewatch:pgPoolMax=10: 2 revisions x 10 instances x 10 connections = 200 exceeds pipewatch:dbMaxConnections=100',
    ],
    [{ dbAvailability: 'MULTI' }, 'invalid pipewatch:dbAvailability="MULTI": must be one of REGIONAL, ZONAL'],
    [{ dbVersion: 'MYSQL_8_0' }, 'invalid pipewatch:dbVersion="MYSQL_8_0"'],
  ])('bad config %j fails preview with a clear message', async (config, message) => {
    await expect(up(config)).rejects.toThrow(message);
    expect(mocks.registered).toEqual([]);
  });
});

describe('GCP stack tracing (gcpTracing=true; off by default)', () => {
  test('off by default: two containers, no OTEL_* env, no trace role, API or secret', async () => {
    const { resources, outputs } = await up();
    const service = cloudRun(resources);
    expect(service.template.containers.map((c: { name: string }) => c.name)).toEqual(['pipewatch', 'collector']);
    expect(containerNamed(service, 'pipewatch').envs.filter((e: { name: string }) => e.name.startsWith('OTEL_'))).toEqual([]);
    expect(ofType(resources, 'gcp:projects/iAMMember:IAMMember').map((r) => r.inputs.role)).not.toContain('roles/telemetry.tracesWriter');
    expect(ofType(resources, 'gcp:projects/service:Service').map((r) => r.inputs.service)).not.toContain('telemetry.googleapis.com');
    expect(outputs.traceExplorerUrl).toBeUndefined();
  });

  test('on: the app exports OTLP to an otelcol-google sidecar beside the Managed Prometheus one, with its config, role and APIs', async () => {
    const { resources, outputs } = await up({ gcpTracing: 'true', gcpTraceSampleRatio: '0.05' });
    const service = cloudRun(resources);
    // Metrics stay with run-gmp-sidecar (same job/namespace/location labels the alert policies select).
    expect(service.template.containers.map((c: { name: string }) => c.name)).toEqual(['pipewatch', 'collector', TRACE_COLLECTOR_CONTAINER]);
    const collector = containerNamed(service, TRACE_COLLECTOR_CONTAINER);
    expect(collector.image).toBe(OTELCOL_GOOGLE_IMAGE);
    const configPath = collector.args[0].replace('--config=', '');
    const mount = collector.volumeMounts[0];
    expect(configPath).toStartWith(`${mount.mountPath}/`);
    const volume = service.template.volumes.find((v: { name: string }) => v.name === mount.name);
    const secret = one(resources, 'gcp:secretmanager/secret:Secret', 'trace-collector-config').inputs;
    expect(volume.secret).toEqual({ secret: secret.secretId, items: [{ version: '7', path: configPath.slice(mount.mountPath.length + 1) }] });
    const config = Bun.YAML.parse(
      secretInput<string>(one(resources, 'gcp:secretmanager/secretVersion:SecretVersion', 'trace-collector-config').inputs.secretData).value,
    ) as any;
    expect(config.processors['resource/gcp_project_id'].attributes[0]).toMatchObject({ key: 'gcp.project_id', value: PROJECT });
    // Probed on the port its health_check extension opens, not run-gmp-sidecar's 13133.
    const health = Number(config.extensions.health_check.endpoint.split(':')[1]);
    expect(collector.livenessProbe.httpGet.port).toBe(health);
    expect(collector.startupProbe.httpGet.port).toBe(health);
    expect(health).not.toBe(containerNamed(service, 'collector').livenessProbe.httpGet.port);

    const app = containerNamed(service, 'pipewatch');
    const env = envOf(app);
    expect(env).toMatchObject({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.05' });
    expect(env.OTEL_EXPORTER_OTLP_ENDPOINT).toBe(`http://${config.receivers.otlp.protocols.http.endpoint}`);
    expect(app.dependsOns).toEqual([TRACE_COLLECTOR_CONTAINER]);

    const member = `serviceAccount:pipewatch-run@${PROJECT}.iam.gserviceaccount.com`;
    expect(ofType(resources, 'gcp:projects/iAMMember:IAMMember').map((r) => [r.inputs.role, r.inputs.member])).toContainEqual([
      'roles/telemetry.tracesWriter',
      member,
    ]);
    const grant = ofType(resources, 'gcp:secretmanager/secretIamMember:SecretIamMember').find((r) => r.inputs.secretId === secret.secretId)!;
    expect(grant.inputs).toMatchObject({ role: 'roles/secretmanager.secretAccessor', member });
    const apis = ofType(resources, 'gcp:projects/service:Service').map((r) => r.inputs.service);
    for (const api of TRACING_APIS) expect(apis).toContain(api);
    expect(outputs.traceExplorerUrl).toBe(`https://console.cloud.google.com/traces/explorer?project=${PROJECT}`);
  });

  test('metricsPort may not take a port the trace collector listens on', async () => {
    await expect(up({ gcpTracing: 'true', metricsPort: '4318' })).rejects.toThrow(
      'invalid pipewatch:metricsPort=4318: the trace collector sidecar listens there',
    );
    expect(mocks.registered).toEqual([]);
  });
});
