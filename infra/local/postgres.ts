import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import { onNetwork, pulledImage, published, stackName, type LocalContext } from './common';
import { POSTGRES_DATA_DIR, POSTGRES_DB, POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER } from './topology';

/**
 * queueDriver=postgres: the pinned PostgreSQL image with its data on a named volume, healthy once
 * `pg_isready` answers for the queue's database. The password is generated and kept secret.
 */
export function postgresContainer(ctx: LocalContext) {
  const image = pulledImage('postgres-image', ctx.config.postgresImage);
  const data = new docker.Volume('postgres-data', { name: stackName(ctx, 'postgres-data'), labels: ctx.labels });
  const password = pulumi.secret(new random.RandomPassword('postgres-password', { length: 32, special: false }).result);
  const container = new docker.Container(
    'postgres',
    {
      name: stackName(ctx, POSTGRES_HOST),
      image: image.imageId,
      envs: password.apply((secret) => [`POSTGRES_USER=${POSTGRES_USER}`, `POSTGRES_PASSWORD=${secret}`, `POSTGRES_DB=${POSTGRES_DB}`]),
      volumes: [{ volumeName: data.name, containerPath: POSTGRES_DATA_DIR }],
      networksAdvanced: onNetwork(ctx, POSTGRES_HOST),
      ports: published(ctx, POSTGRES_PORT, ctx.config.postgresPort),
      healthcheck: { tests: ['CMD', 'pg_isready', '-U', POSTGRES_USER, '-d', POSTGRES_DB, '-h', '127.0.0.1'], interval: '5s', timeout: '3s', startPeriod: '10s', retries: 10 },
      restart: 'unless-stopped',
      // A fast shutdown (SIGINT) checkpoints; Docker's default 10 s can cut a busy checkpoint short.
      stopSignal: 'SIGINT',
      stopTimeout: 30,
      destroyGraceSeconds: 30,
      wait: true,
      waitTimeout: 120,
      labels: ctx.labels,
    },
    { deleteBeforeReplace: true },
  );
  /** The service's connection (libpq names), PGPASSWORD secret. */
  const envs = password.apply((secret) => [`PGHOST=${POSTGRES_HOST}`, `PGPORT=${POSTGRES_PORT}`, `PGUSER=${POSTGRES_USER}`, `PGPASSWORD=${secret}`, `PGDATABASE=${POSTGRES_DB}`]);
  return { image, data, password, container, envs };
}

export type PostgresContainer = ReturnType<typeof postgresContainer>;
