import * as docker from '@pulumi/docker';
import { onNetwork, pulledImage, published, stackName, upload, type LocalContext } from './common';

/**
 * Tracing for the local stack (issue 13): Grafana Tempo in single-binary mode receiving OTLP/HTTP
 * from the service, and what the other containers need to use it. Not yet wired into
 * infra/local/index.ts (the infra owner's file): see `localTracingWiring` below for the three
 * touches that takes.
 */

/** Pinned: Tempo 2.x single binary (`-target=all` is its default). Not pulled in this repo's CI. */
export const TEMPO_IMAGE = 'grafana/tempo:2.6.1';
export const TEMPO_HOST = 'tempo';
export const TEMPO_HTTP_PORT = 3200;
export const TEMPO_OTLP_HTTP_PORT = 4318;
export const TEMPO_CONFIG_FILE = '/etc/tempo/tempo.yaml';
/** Grafana datasource uid the Prometheus datasource's exemplar links point at. */
export const TEMPO_DATASOURCE_UID = 'tempo';

/** tempo.yaml: OTLP/HTTP in, local block storage, traces kept a day. */
export function tempoConfig(): string {
  return Bun.YAML.stringify(
    {
      server: { http_listen_port: TEMPO_HTTP_PORT },
      distributor: { receivers: { otlp: { protocols: { http: { endpoint: `0.0.0.0:${TEMPO_OTLP_HTTP_PORT}` } } } } },
      compactor: { compaction: { block_retention: '24h' } },
      storage: { trace: { backend: 'local', wal: { path: '/var/tempo/wal' }, local: { path: '/var/tempo/blocks' } } },
    },
    null,
    2,
  );
}

/** A Grafana provisioning file with the Tempo datasource (trace ids searchable, logs by trace id in the service's JSON lines). */
export function tempoDatasource(): string {
  return Bun.YAML.stringify(
    {
      apiVersion: 1,
      datasources: [{ name: 'Tempo', type: 'tempo', uid: TEMPO_DATASOURCE_UID, access: 'proxy', url: `http://${TEMPO_HOST}:${TEMPO_HTTP_PORT}`, editable: false }],
    },
    null,
    2,
  );
}

/**
 * What the Prometheus datasource needs so exemplar dots on latency panels open the trace in
 * Tempo (goes into its `jsonData`; the datasource file is the monitoring owner's).
 */
export const PROMETHEUS_EXEMPLAR_LINK = { exemplarTraceIdDestinations: [{ name: 'trace_id', datasourceUid: TEMPO_DATASOURCE_UID }] };

/** The service's environment with tracing on, exporting to Tempo on the stack network. */
export function serviceTracingEnv(samplerArg = '1'): string[] {
  return [
    'OTEL_TRACES_EXPORTER=otlp',
    `OTEL_EXPORTER_OTLP_ENDPOINT=http://${TEMPO_HOST}:${TEMPO_OTLP_HTTP_PORT}`,
    'OTEL_TRACES_SAMPLER=parentbased_traceidratio',
    `OTEL_TRACES_SAMPLER_ARG=${samplerArg}`,
    'OTEL_RESOURCE_ATTRIBUTES=deployment.environment.name=local',
  ];
}

/** The Prometheus flag that keeps exemplars (scraped via OpenMetrics, which pipewatch serves when asked). */
export const PROMETHEUS_EXEMPLAR_FLAG = '--enable-feature=exemplar-storage';

/** Tempo single binary with its config uploaded, its blocks on a named volume. */
export function tempoContainer(ctx: LocalContext, image = TEMPO_IMAGE) {
  const pulled = pulledImage('tempo-image', image);
  const data = new docker.Volume('tempo-data', { name: stackName(ctx, 'tempo-data'), labels: ctx.labels });
  const container = new docker.Container(
    'tempo',
    {
      name: stackName(ctx, 'tempo'),
      image: pulled.imageId,
      command: [`-config.file=${TEMPO_CONFIG_FILE}`],
      uploads: [upload(TEMPO_CONFIG_FILE, tempoConfig())],
      volumes: [{ volumeName: data.name, containerPath: '/var/tempo' }],
      networksAdvanced: onNetwork(ctx, TEMPO_HOST),
      // Tempo's UI/API on the host (Grafana reaches it on the network); OTLP stays inside the network.
      ports: published(ctx, TEMPO_HTTP_PORT, TEMPO_HTTP_PORT),
      restart: 'unless-stopped',
      labels: ctx.labels,
    },
    { deleteBeforeReplace: true },
  );
  return { image: pulled, data, container };
}

/**
 * The wiring still to do in infra/local (owned by the infra engineer), in one place (the host and
 * ports above belong in topology.ts once wired):
 * - index.ts: `const tempo = tempoContainer(ctx)` before the service; the service `dependsOn` it;
 * - service.ts: append `serviceTracingEnv()` to the container's `envs`;
 * - prometheus.ts: append `PROMETHEUS_EXEMPLAR_FLAG` to the command;
 * - grafana.ts: upload `tempoDatasource()` to `${PROVISIONING_DIR}/datasources/tempo.yml`, and
 *   the Prometheus datasource gets `PROMETHEUS_EXEMPLAR_LINK` in its jsonData.
 */
export const localTracingWiring = ['index.ts', 'service.ts', 'prometheus.ts', 'grafana.ts'] as const;
