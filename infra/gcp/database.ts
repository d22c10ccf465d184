import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import type { GcpContext } from './context';

/** The database and the login role the queue uses; the queue's migration creates and owns its tables. */
export const DB_NAME = 'pipewatch';
export const DB_USER = 'pipewatch';
/** Where Cloud Run's built-in Cloud SQL connection puts the instance's unix socket directory. */
export const CLOUDSQL_MOUNT = '/cloudsql';
export const CLOUDSQL_VOLUME = 'cloudsql';

/**
 * Cloud SQL for PostgreSQL for the shared queue: one instance (HA by default), one database, one
 * built-in login role whose generated password lives only in Secret Manager and in the stack's
 * encrypted state, never in an output.
 */
export function queueDatabase(ctx: GcpContext, runtimeMember: pulumi.Input<string>) {
  const { config } = ctx;
  // A deleted instance name stays taken for about a week: a suffix lets destroy + up work at once.
  const suffix = new random.RandomString('queue-db-suffix', { length: 6, special: false, upper: false });
  const instance = new gcp.sql.DatabaseInstance(
    'queue-db',
    {
      project: ctx.project,
      region: ctx.region,
      name: pulumi.interpolate`${config.serviceName}-queue-${suffix.result}`,
      databaseVersion: config.dbVersion,
      // Pulumi-side protection (refuses to delete from the program) ...
      deletionProtection: config.dbDeletionProtection,
      settings: {
        // Explicit: for PostgreSQL 16+ the provider defaults to ENTERPRISE_PLUS, which refuses custom tiers.
        edition: 'ENTERPRISE',
        tier: config.dbTier,
        availabilityType: config.dbAvailability,
        diskType: 'PD_SSD',
        diskSize: config.dbDiskGb,
        diskAutoresize: true,
        // ... and API-side protection (refuses deletion from the console and gcloud too).
        deletionProtectionEnabled: config.dbDeletionProtection,
        // REGIONAL requires both; they are worth having for a ZONAL instance as well.
        backupConfiguration: {
          enabled: true,
          pointInTimeRecoveryEnabled: true,
          startTime: '02:00',
          transactionLogRetentionDays: 7,
          backupRetentionSettings: { retainedBackups: 7, retentionUnit: 'COUNT' },
        },
        maintenanceWindow: { day: config.dbMaintenanceDay, hour: config.dbMaintenanceHour, updateTrack: 'stable' },
        // A public IP with no authorised networks: only the Cloud SQL connectors (Cloud Run's
        // built-in connection among them) get in, always over TLS.
        ipConfiguration: { ipv4Enabled: true, sslMode: 'ENCRYPTED_ONLY' },
        // Set, not left to the tier's default, so stack config can check the connection budget.
        databaseFlags: [{ name: 'max_connections', value: String(config.dbMaxConnections) }],
        userLabels: ctx.labels,
      },
    },
    { dependsOn: ctx.apis },
  );
  const database = new gcp.sql.Database('queue-db-database', { project: ctx.project, instance: instance.name, name: DB_NAME });

  const password = new random.RandomPassword('queue-db-password', { length: 32, special: false });
  const user = new gcp.sql.User('queue-db-user', {
    project: ctx.project,
    instance: instance.name,
    name: DB_USER,
    type: 'BUILT_IN',
    password: password.result,
    // A PostgreSQL role that owns tables cannot be dropped through the API; the instance's
    // deletion removes it.
    deletionPolicy: 'ABANDON',
  });

  const secret = new gcp.secretmanager.Secret(
    'queue-db-password',
    { project: ctx.project, secretId: `${config.serviceName}-db-password`, replication: { auto: {} }, labels: ctx.labels },
    { dependsOn: ctx.apis },
  );
  const secretVersion = new gcp.secretmanager.SecretVersion('queue-db-password', { secret: secret.id, secretData: password.result });
  const access = new gcp.secretmanager.SecretIamMember('runtime-reads-db-password', {
    project: ctx.project,
    secretId: secret.secretId,
    role: 'roles/secretmanager.secretAccessor',
    member: runtimeMember,
  });

  /** The revision's view of it: a socket volume and the libpq variables the service reads. */
  const volume: gcp.types.input.cloudrunv2.ServiceTemplateVolume = { name: CLOUDSQL_VOLUME, cloudSqlInstance: { instances: [instance.connectionName] } };
  const envs: gcp.types.input.cloudrunv2.ServiceTemplateContainerEnv[] = [
    { name: 'QUEUE_DRIVER', value: 'postgres' },
    { name: 'PGHOST', value: pulumi.interpolate`${CLOUDSQL_MOUNT}/${instance.connectionName}` },
    { name: 'PGUSER', value: DB_USER },
    { name: 'PGDATABASE', value: DB_NAME },
    // By version, not `latest`: a new password rolls out as a new revision, never half-way.
    { name: 'PGPASSWORD', valueSource: { secretKeyRef: { secret: secret.secretId, version: secretVersion.version } } },
    { name: 'PG_POOL_MAX', value: String(config.pgPoolMax) },
  ];
  return { suffix, instance, database, password, user, secret, secretVersion, access, volume, envs };
}

export type QueueDatabase = ReturnType<typeof queueDatabase>;
