import * as pulumi from '@pulumi/pulumi';
import type { GcpSettings, StackConfig } from '../config';
import { readCloudAlerts, type CloudAlert } from '../monitoring-files';
import { alertPolicies } from './alerting';
import { enableApis } from './apis';
import { collectorConfig } from './collector';
import type { GcpContext } from './context';
import { queueDatabase } from './database';
import { runtimeIdentity } from './identity';
import { imageRegistry } from './registry';
import { cloudRunService } from './service';
import { traceCollector } from './tracing';

/**
 * The GCP stack: image in Artifact Registry, Cloud SQL for the shared queue (queueDriver=postgres),
 * Cloud Run with the Managed Prometheus sidecar under a dedicated least-privilege identity, and Cloud
 * Monitoring alert policies mirroring the repo's rules, scoped to this stack's service.
 */
export function gcpStack(config: StackConfig, settings: GcpSettings, alerts: CloudAlert[] = readCloudAlerts()) {
  const ctx: GcpContext = {
    ...settings,
    config,
    apis: enableApis(settings.project, config.gcpTracing),
    labels: {
      app: 'pipewatch',
      service: config.serviceName,
      stack: pulumi
        .getStack()
        .toLowerCase()
        .replace(/[^a-z0-9_-]/g, '-')
        .slice(0, 63),
    },
  };

  const registry = imageRegistry(ctx);
  const identity = runtimeIdentity(ctx);
  const collector = collectorConfig(ctx, identity.member);
  const database = config.queueDriver === 'postgres' ? queueDatabase(ctx, identity.member) : undefined;
  const traces = config.gcpTracing ? traceCollector(ctx, identity.member) : undefined;
  const run = cloudRunService(ctx, {
    imageDigest: registry.image.repoDigest,
    serviceAccountEmail: identity.account.email,
    collectorVolume: collector.volume,
    ...(database ? { database } : {}),
    ...(traces ? { traceCollector: traces } : {}),
    // The first revision reads its secrets and opens the database from its first second.
    dependsOn: [
      ...identity.grants,
      collector.access,
      ...(database ? [database.access, database.user, database.database] : []),
      ...(traces ? [traces.access] : []),
    ],
  });
  const alerting = alertPolicies(ctx, alerts);

  const console = `https://console.cloud.google.com`;
  const outputs = {
    target: 'gcp',
    serviceUrl: run.service.uri,
    swaggerUiUrl: pulumi.interpolate`${run.service.uri}/docs`,
    imageRef: registry.image.repoDigest,
    public: config.public,
    serviceConsoleUrl: pulumi.interpolate`${console}/run/detail/${settings.region}/${run.service.name}/metrics?project=${settings.project}`,
    // Managed Prometheus metrics keep their names: query e.g. rate(app_requests_total[5m]) here.
    metricsExplorerUrl: `${console}/monitoring/metrics-explorer?project=${settings.project}`,
    // Prometheus HTTP API of Managed Prometheus (a Grafana datasource URL, with Google auth).
    prometheusQueryApi: `https://monitoring.googleapis.com/v1/projects/${settings.project}/location/global/prometheus`,
    // gcpTracing=true: Cloud Trace's explorer (traces arrive through the Telemetry API).
    traceExplorerUrl: config.gcpTracing ? `${console}/traces/explorer?project=${settings.project}` : undefined,
    alertPoliciesUrl: `${console}/monitoring/alerting/policies?project=${settings.project}`,
    alertPolicyCount: alerting.policies.length,
    queueDriver: config.queueDriver,
    // Names only: the password stays in Secret Manager (`gcloud secrets versions access latest --secret=...`).
    databaseInstance: database?.instance.name,
    databaseConnectionName: database?.instance.connectionName,
    databasePasswordSecret: database?.secret.secretId,
  };
  return { outputs, resources: { ctx, registry, identity, collector, database, traces, run, alerting } };
}
