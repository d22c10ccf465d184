import * as docker from '@pulumi/docker';
import { serviceImage } from '../container/image';
import { onNetwork, published, type LocalContext } from './common';

/** Name and in-network port the repo's prometheus.yml scrapes (`pipewatch:8000`). */
export const SERVICE_HOST = 'pipewatch';
export const SERVICE_PORT = 8000;
export const DATA_DIR = '/data';

/** The service: built from the repo, its SQLite queue on a named volume that outlives the container. */
export function serviceContainer(ctx: LocalContext) {
  const image = serviceImage('pipewatch-image', { imageName: 'pipewatch:local' });
  const data = new docker.Volume('pipewatch-data', { name: 'pipewatch-data', labels: ctx.labels });
  const graceSeconds = Math.ceil(ctx.config.shutdownGraceMs / 1000);
  const container = new docker.Container(
    'pipewatch',
    {
      name: SERVICE_HOST,
      // The local image id: a rebuild replaces the container even though the tag is unchanged.
      image: image.repoDigest,
      envs: [
        'HOST=0.0.0.0',
        `PORT=${SERVICE_PORT}`,
        `DATA_DIR=${DATA_DIR}`,
        'QUEUE_DRIVER=sqlite',
        `SQLITE_SYNCHRONOUS=${ctx.config.sqliteSynchronous}`,
        `SHUTDOWN_GRACE_MS=${ctx.config.shutdownGraceMs}`,
        // Docker stops routing only when the container is gone: keep answering (readyz 503) for up to 1 s.
        `SHUTDOWN_DRAIN_MS=${Math.min(1_000, ctx.config.shutdownGraceMs)}`,
        `LOG_LEVEL=${ctx.config.logLevel}`,
      ],
      volumes: [{ volumeName: data.name, containerPath: DATA_DIR }],
      networksAdvanced: onNetwork(ctx, SERVICE_HOST),
      ports: published(ctx, SERVICE_PORT, ctx.config.apiPort),
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
    { deleteBeforeReplace: true }, // the fixed container name cannot exist twice
  );
  return { image, data, container };
}

export type ServiceContainer = ReturnType<typeof serviceContainer>;
