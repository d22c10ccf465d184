import * as docker from '@pulumi/docker';
import type * as pulumi from '@pulumi/pulumi';
import { serviceImage } from '../container/image';
import { onNetwork, published, stackName, type LocalContext } from './common';
import type { PostgresContainer } from './postgres';
import { serviceTracingEnv } from './tempo';
import { DATA_DIR, SERVICE_PORT, serviceHost } from './topology';

export { DATA_DIR, SERVICE_HOST, SERVICE_PORT } from './topology';

/**
 * The service, built from the repo. sqlite: one container, its queue on a named volume that
 * outlives it. postgres: `replicas` containers on one shared queue in the PostgreSQL container,
 * each its own Prometheus target (`pipewatch-N:8000`), replica N published on apiPort + N - 1.
 */
export function serviceContainers(ctx: LocalContext, postgres?: PostgresContainer, tempo?: docker.Container) {
  const { config } = ctx;
  const image = serviceImage('pipewatch-image', { imageName: `${ctx.prefix}:local` });
  const data = postgres ? undefined : new docker.Volume('pipewatch-data', { name: stackName(ctx, 'data'), labels: ctx.labels });
  const graceSeconds = Math.ceil(config.shutdownGraceMs / 1000);
  const replicas = postgres ? config.replicas : 1;
  const common = [
    'HOST=0.0.0.0',
    `PORT=${SERVICE_PORT}`,
    `SHUTDOWN_GRACE_MS=${config.shutdownGraceMs}`,
    // Docker stops routing only when the container is gone: keep answering (readyz 503) for up to 1 s.
    `SHUTDOWN_DRAIN_MS=${Math.min(1_000, config.shutdownGraceMs)}`,
    `LOG_LEVEL=${config.logLevel}`,
    // tracing=true: the standard OTEL_* variables, exporting to the stack's Tempo.
    ...(config.tracing ? serviceTracingEnv(String(config.traceSampleRatio)) : []),
  ];
  const envs: pulumi.Input<string[]> = postgres
    ? postgres.envs.apply((connection) => [...common, 'QUEUE_DRIVER=postgres', `PG_POOL_MAX=${config.pgPoolMax}`, ...connection])
    : [...common, `DATA_DIR=${DATA_DIR}`, 'QUEUE_DRIVER=sqlite', `SQLITE_SYNCHRONOUS=${config.sqliteSynchronous}`];

  const containers = Array.from({ length: replicas }, (_, i) => {
    const host = serviceHost(i + 1, replicas);
    return new docker.Container(
      host,
      {
        name: stackName(ctx, host),
        // The local image id: a rebuild replaces the container even though the tag is unchanged.
        image: image.repoDigest,
        envs,
        volumes: data ? [{ volumeName: data.name, containerPath: DATA_DIR }] : [],
        networksAdvanced: onNetwork(ctx, host),
        ports: published(ctx, SERVICE_PORT, config.apiPort + i),
        healthcheck: { tests: ['CMD', '/app/pipewatch', 'healthcheck'], interval: '10s', timeout: '3s', startPeriod: '10s', retries: 3 },
        restart: 'unless-stopped',
        // SIGTERM, then the drain the service is configured for, before Docker kills it.
        stopSignal: 'SIGTERM',
        stopTimeout: graceSeconds + 2,
        destroyGraceSeconds: graceSeconds + 2,
        wait: true,
        waitTimeout: 60,
        labels: ctx.labels,
      },
      // The name cannot exist twice; with postgres the service starts once its database is healthy.
      // With tracing, after Tempo exists so the first spans have somewhere to go.
      { deleteBeforeReplace: true, dependsOn: [...(postgres ? [postgres.container] : []), ...(tempo ? [tempo] : [])] },
    );
  });
  /** `host:port` of every replica, as Prometheus scrapes them. */
  const targets = containers.map((_, i) => `${serviceHost(i + 1, replicas)}:${SERVICE_PORT}`);
  return { image, data, containers, targets };
}

export type ServiceContainers = ReturnType<typeof serviceContainers>;
