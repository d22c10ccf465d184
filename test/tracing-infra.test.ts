import { describe, expect, test } from 'bun:test';
import { COLLECTOR_HEALTH_PORT, parseStackConfig, readStackConfig } from '../infra/config';
import { appTracingEnv, OTELCOL_GOOGLE_IMAGE, otelcolTracesConfig, TRACE_COLLECTOR_HEALTH_PORT, TRACING_APIS, TRACING_ROLES } from '../infra/gcp/tracing';
import { stackNetwork } from '../infra/local/network';
import { serviceTracingEnv, tempoConfig, tempoContainer, tempoDatasource, TEMPO_CONFIG_FILE, TEMPO_DATASOURCE_UID, TEMPO_IMAGE } from '../infra/local/tempo';
import { loadConfig } from '../src/config';
import { tracingOptions } from '../src/tracing/options';
import { installPulumiMocks, one, plain } from './support/pulumi-mocks';

const mocks = installPulumiMocks({
  outputs: (r) => (r.type === 'docker:index/remoteImage:RemoteImage' ? { imageId: `sha256:${r.name}` } : {}),
});

const envRecord = (lines: string[]) => Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

describe('local stack: Tempo', () => {
  test('the service environment is valid pipewatch config and points at the OTLP receiver Tempo opens', () => {
    const options = tracingOptions(loadConfig(envRecord(serviceTracingEnv('0.5'))));
    expect(options).toMatchObject({ exporter: 'otlp', url: 'http://tempo:4318/v1/traces', sampler: 'parentbased_traceidratio', ratio: 0.5 });
    const tempo = Bun.YAML.parse(tempoConfig()) as any;
    expect(tempo.distributor.receivers.otlp.protocols.http.endpoint).toBe('0.0.0.0:4318');
    expect(tempo.server.http_listen_port).toBe(3200);
    const ds = (Bun.YAML.parse(tempoDatasource()) as any).datasources[0];
    expect(ds).toMatchObject({ type: 'tempo', uid: TEMPO_DATASOURCE_UID, url: 'http://tempo:3200' });
  });

  test('tempoContainer: pinned image, config uploaded, blocks on a named volume, on the stack network', async () => {
    const { resources } = await mocks.run(
      () => {
        const ctx = { config: readStackConfig().config, prefix: 'pipewatch-test', network: stackNetwork('pipewatch-test'), labels: [] };
        tempoContainer(ctx);
        return {};
      },
      { target: 'local' },
    );
    expect(plain(one(resources, 'docker:index/remoteImage:RemoteImage', 'tempo-image').inputs).name).toBe(TEMPO_IMAGE);
    const c = plain(one(resources, 'docker:index/container:Container', 'tempo').inputs);
    expect(c.uploads.map((u: { file: string }) => u.file)).toEqual([TEMPO_CONFIG_FILE]);
    expect(c.command).toEqual([`-config.file=${TEMPO_CONFIG_FILE}`]);
    expect(c.volumes[0].containerPath).toBe('/var/tempo');
    expect(c.networksAdvanced[0].aliases).toEqual(['tempo']);
    expect(c.name).toBe('pipewatch-test-tempo');
  });
});

describe('GCP stack: otelcol-google as the trace sidecar (gcpTracing=true)', () => {
  test('the app exports to the receiver the collector opens; the spans are filed under the project; every named component is defined', () => {
    const options = tracingOptions(loadConfig(appTracingEnv()));
    const config = Bun.YAML.parse(otelcolTracesConfig({ projectId: 'p' })) as any;
    expect(options.url).toBe(`http://${config.receivers.otlp.protocols.http.endpoint}/v1/traces`);
    expect(config.exporters['otlphttp/telemetry']).toMatchObject({ endpoint: 'https://telemetry.googleapis.com', auth: { authenticator: 'googleclientauth' } });
    // The Telemetry API needs gcp.project_id on the resource.
    expect(config.processors['resource/gcp_project_id'].attributes).toEqual([{ key: 'gcp.project_id', value: 'p', action: 'insert' }]);
    // Not 13133: run-gmp-sidecar's liveness port on the same localhost.
    expect(config.extensions.health_check.endpoint).toBe(`0.0.0.0:${TRACE_COLLECTOR_HEALTH_PORT}`);
    expect(TRACE_COLLECTOR_HEALTH_PORT).not.toBe(COLLECTOR_HEALTH_PORT);
    expect(Object.keys(config.service.pipelines)).toEqual(['traces']);
    for (const pipeline of Object.values(config.service.pipelines) as Array<Record<string, string[]>>) {
      for (const kind of ['receivers', 'processors', 'exporters'] as const) for (const name of pipeline[kind]!) expect(config[kind][name]).toBeDefined();
    }
    for (const name of config.service.extensions) expect(config.extensions[name]).toBeDefined();
    expect(TRACING_APIS).toContain('telemetry.googleapis.com');
    expect(TRACING_ROLES).toEqual(['roles/telemetry.tracesWriter']);
    expect(parseStackConfig({ target: 'gcp' }).traceCollectorImage).toBe(OTELCOL_GOOGLE_IMAGE);
    expect(parseStackConfig({}).tempoImage).toBe(TEMPO_IMAGE);
  });
});
