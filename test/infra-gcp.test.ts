import { describe, expect, test } from 'bun:test';
import program from '../infra/index';
import { REQUIRED_APIS } from '../infra/gcp/apis';
import { COLLECTOR_CONFIG_DIR, COLLECTOR_CONFIG_FILE } from '../infra/gcp/collector';
import { readCloudAlerts } from '../infra/monitoring-files';
import { installPulumiMocks, isSecret, one, ofType, plain, secretInput, type Registered } from './support/pulumi-mocks';

const PROJECT = 'pipewatch-test-project';
const REGION = 'europe-west1';
const DIGEST = `${REGION}-docker.pkg.dev/${PROJECT}/pipewatch/pipewatch@sha256:0123456789abcdef`;
const ACCESS_TOKEN = 'ya29.deployer-access-token';

// What Google's APIs would answer with for the outputs the program consumes.
const mocks = installPulumiMocks({
  outputs: (r) => {
    switch (r.type) {
      case 'docker:index/image:Image':
        return { repoDigest: DIGEST };
      case 'gcp:serviceaccount/account:Account':
        return { email: `${r.inputs.accountId}@${PROJECT}.iam.gserviceaccount.com` };
      case 'gcp:secretmanager/secretVersion:SecretVersion':
        return { version: '7' };
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
const runMonitoringOf = (resources: Registered[]) => Bun.YAML.parse(secretInput<string>(one(resources, 'gcp:secretmanager/secretVersion:SecretVersion').inputs.secretData).value);
const containerNamed = (service: Record<string, any>, name: string) => service.template.containers.find((c: { name: string }) => c.name === name);

describe('GCP stack', () => {
  test('Artifact Registry holds the image built from the repo, and Cloud Run deploys it by digest', async () => {
    const { resources, outputs } = await up();
    const repository = one(resources, 'gcp:artifactregistry/repository:Repository').inputs;
    expect(repository).toMatchObject({ format: 'DOCKER', location: REGION, repositoryId: 'pipewatch', project: PROJECT });
    const image = one(resources, 'docker:index/image:Image').inputs;
    expect(image.imageName).toBe(`${REGION}-docker.pkg.dev/${PROJECT}/pipewatch/pipewatch:latest`);
    expect(image.buildOnPreview).toBe(false);
    expect(image.build).toMatchObject({ dockerfile: expect.stringMatching(/infra\/container\/Dockerfile$/), platform: 'linux/amd64' });
    // The push credential (the deployer's short-lived token) makes the whole registry block secret.
    expect(secretInput(image.registry)).toEqual({ secret: true, value: { server: `${REGION}-docker.pkg.dev`, username: 'oauth2accesstoken', password: ACCESS_TOKEN } });
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
    const env = Object.fromEntries(app.envs.map((e: { name: string; value: string }) => [e.name, e.value]));
    expect(env).toMatchObject({ METRICS_PORT: '9091', QUEUE_DRIVER: 'sqlite', SHUTDOWN_GRACE_MS: '8000', SHUTDOWN_DRAIN_MS: '0' });
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
    const mount = collector.volumeMounts[0];
    expect(mount.mountPath).toBe(COLLECTOR_CONFIG_DIR);
    const volume = service.template.volumes.find((v: { name: string }) => v.name === mount.name);
    const secret = one(resources, 'gcp:secretmanager/secret:Secret').inputs;
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

  test('the runtime identity has exactly metric writing, log writing and access to that one secret', async () => {
    const { resources } = await up();
    const account = one(resources, 'gcp:serviceaccount/account:Account').inputs;
    const member = `serviceAccount:${account.accountId}@${PROJECT}.iam.gserviceaccount.com`;
    expect(cloudRun(resources).template.serviceAccount).toBe(`${account.accountId}@${PROJECT}.iam.gserviceaccount.com`);
    const projectRoles = ofType(resources, 'gcp:projects/iAMMember:IAMMember').map((r) => [r.inputs.role, r.inputs.member]);
    expect(projectRoles.sort()).toEqual([
      ['roles/logging.logWriter', member],
      ['roles/monitoring.metricWriter', member],
    ]);
    const secretGrants = ofType(resources, 'gcp:secretmanager/secretIamMember:SecretIamMember').map((r) => r.inputs);
    expect(secretGrants).toEqual([expect.objectContaining({ role: 'roles/secretmanager.secretAccessor', member, secretId: one(resources, 'gcp:secretmanager/secret:Secret').inputs.secretId })]);
    // No other IAM of any kind (bindings, policies, custom roles).
    const iam = resources.filter((r) => /iam|Iam|IAM/.test(r.type)).map((r) => r.type);
    expect(iam.sort()).toEqual(['gcp:projects/iAMMember:IAMMember', 'gcp:projects/iAMMember:IAMMember', 'gcp:secretmanager/secretIamMember:SecretIamMember']);
  });

  test('public invocation exists only when config says so', async () => {
    const closed = await up();
    expect(ofType(closed.resources, 'gcp:cloudrunv2/serviceIamMember:ServiceIamMember')).toEqual([]);
    expect(closed.outputs.public).toBe(false);
    const open = await up({ public: 'true' });
    expect(ofType(open.resources, 'gcp:cloudrunv2/serviceIamMember:ServiceIamMember').map((r) => r.inputs)).toEqual([
      expect.objectContaining({ role: 'roles/run.invoker', member: 'allUsers', location: REGION }),
    ]);
  });

  test('one Cloud Monitoring alert policy per repo alert, with its PromQL, and the notification channel from config', async () => {
    const alerts = readCloudAlerts();
    const { resources } = await up({ alertEmail: 'oncall@example.org', notificationChannels: `["projects/${PROJECT}/notificationChannels/1"]` });
    const channel = one(resources, 'gcp:monitoring/notificationChannel:NotificationChannel').inputs;
    expect(channel).toMatchObject({ type: 'email', labels: { email_address: 'oncall@example.org' } });
    const policies = ofType(resources, 'gcp:monitoring/alertPolicy:AlertPolicy').map((r) => r.inputs);
    expect(policies).toHaveLength(alerts.length);
    for (const alert of alerts) {
      const policy = policies.find((p) => p.displayName === alert.displayName)!;
      expect(policy.conditions).toEqual([
        expect.objectContaining({ conditionPrometheusQueryLanguage: expect.objectContaining({ query: alert.promql, duration: `${alert.for}s`, alertRule: alert.name }) }),
      ]);
      expect(policy.notificationChannels).toEqual([`projects/${PROJECT}/notificationChannels/4242`, `projects/${PROJECT}/notificationChannels/1`]);
      expect(policy.documentation.content).toContain(alert.runbook);
      expect(['CRITICAL', 'ERROR', 'WARNING']).toContain(policy.severity);
    }
    // The alerts select job="pipewatch": the collector's RunMonitoring name sets that label.
    const runMonitoring = runMonitoringOf(resources) as { metadata: { name: string } };
    for (const alert of alerts.filter((a) => a.promql.includes('job='))) expect(alert.promql).toContain(`job="${runMonitoring.metadata.name}"`);
  });

  test('the required APIs are enabled and left enabled on destroy', async () => {
    const { resources } = await up();
    const apis = ofType(resources, 'gcp:projects/service:Service').map((r) => r.inputs);
    expect(apis.map((a) => a.service).sort()).toEqual([...REQUIRED_APIS].sort());
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
  ])('bad config %j fails preview with a clear message', async (config, message) => {
    await expect(up(config)).rejects.toThrow(message);
    expect(mocks.registered).toEqual([]);
  });
});
