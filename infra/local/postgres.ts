import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import { onNetwork, pulledImage, published, stackName, type LocalContext } from './common';
import { POSTGRES_ADMIN_USER, POSTGRES_DATA_DIR, POSTGRES_DB, POSTGRES_HOST, POSTGRES_INIT_SCRIPT, POSTGRES_PORT, POSTGRES_USER } from './topology';

/**
 * Run once by the image's entrypoint on an empty data directory: the service's login role, with no
 * attribute (not superuser, no CREATEDB or CREATEROLE), owning the queue's database. The queue's
 * migration runs as it, so it owns its tables and needs nothing else.
 */
export const POSTGRES_INIT_SQL = `#!/bin/bash
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -v app_password="$PIPEWATCH_DB_PASSWORD" <<'EOSQL'
CREATE ROLE ${POSTGRES_USER} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'app_password';
CREATE DATABASE ${POSTGRES_DB} OWNER ${POSTGRES_USER};
REVOKE ALL ON DATABASE ${POSTGRES_DB} FROM PUBLIC;
EOSQL
`;

/**
 * queueDriver=postgres: the pinned PostgreSQL image with its data on a named volume, healthy once
 * `pg_isready` answers for the queue's database. Both passwords are generated and kept secret;
 * the service gets only its own role's.
 */
export function postgresContainer(ctx: LocalContext) {
  const image = pulledImage('postgres-image', ctx.config.postgresImage);
  const data = new docker.Volume('postgres-data', { name: stackName(ctx, 'postgres-data'), labels: ctx.labels });
  const adminPassword = pulumi.secret(new random.RandomPassword('postgres-admin-password', { length: 32, special: false }).result);
  const password = pulumi.secret(new random.RandomPassword('postgres-password', { length: 32, special: false }).result);
  const container = new docker.Container(
    'postgres',
    {
      name: stackName(ctx, POSTGRES_HOST),
      image: image.imageId,
      envs: pulumi
        .all([adminPassword, password])
        .apply(([admin, app]) => [`POSTGRES_USER=${POSTGRES_ADMIN_USER}`, `POSTGRES_PASSWORD=${admin}`, `PIPEWATCH_DB_PASSWORD=${app}`]),
      // Executable, so the entrypoint runs it rather than sourcing it into its own shell.
      uploads: [{ file: POSTGRES_INIT_SCRIPT, content: POSTGRES_INIT_SQL, permissions: '0755' }],
      volumes: [{ volumeName: data.name, containerPath: POSTGRES_DATA_DIR }],
      networksAdvanced: onNetwork(ctx, POSTGRES_HOST),
      ports: published(ctx, POSTGRES_PORT, ctx.config.postgresPort),
      healthcheck: {
        tests: ['CMD', 'pg_isready', '-U', POSTGRES_USER, '-d', POSTGRES_DB, '-h', '127.0.0.1'],
        interval: '5s',
        timeout: '3s',
        startPeriod: '10s',
        retries: 10,
      },
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
  const envs = password.apply((secret) => [
    `PGHOST=${POSTGRES_HOST}`,
    `PGPORT=${POSTGRES_PORT}`,
    `PGUSER=${POSTGRES_USER}`,
    `PGPASSWORD=${secret}`,
    `PGDATABASE=${POSTGRES_DB}`,
  ]);
  return { image, data, adminPassword, password, container, envs };
}

export type PostgresContainer = ReturnType<typeof postgresContainer>;
