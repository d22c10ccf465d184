import * as gcp from '@pulumi/gcp';
import type * as pulumi from '@pulumi/pulumi';
import { COLLECTOR_HEALTH_PORT } from '../config';
import type { GcpContext } from './context';

/** Where Google's sidecar reads its RunMonitoring config from. */
export const COLLECTOR_CONFIG_DIR = '/etc/rungmp';
export const COLLECTOR_CONFIG_FILE = 'config.yaml';
export const COLLECTOR_VOLUME = 'run-monitoring';
/** The sidecar labels every series with job=<RunMonitoring name>: the local rules select job="pipewatch". */
export const SCRAPE_JOB = 'pipewatch';

/**
 * The RunMonitoring document: scrape the app's private metrics port at exactly /metrics (the
 * collector does not follow redirects).
 */
export function runMonitoringConfig(metricsPort: number, interval: string): string {
  return Bun.YAML.stringify(
    {
      apiVersion: 'monitoring.googleapis.com/v1beta',
      kind: 'RunMonitoring',
      metadata: { name: SCRAPE_JOB },
      spec: {
        endpoints: [{ port: metricsPort, path: '/metrics', interval }],
      },
    },
    null,
    2,
  );
}

/**
 * Google's Managed Service for Prometheus sidecar: its config in Secret Manager (the documented way
 * to give the Cloud Run sidecar a custom RunMonitoring), readable by the runtime identity only.
 */
export function collectorConfig(ctx: GcpContext, runtimeMember: pulumi.Input<string>) {
  const secret = new gcp.secretmanager.Secret(
    'run-monitoring',
    {
      project: ctx.project,
      secretId: `${ctx.config.serviceName}-run-monitoring`,
      replication: { auto: {} },
      labels: ctx.labels,
    },
    { dependsOn: ctx.apis },
  );
  const version = new gcp.secretmanager.SecretVersion('run-monitoring', {
    secret: secret.id,
    secretData: runMonitoringConfig(ctx.config.metricsPort, ctx.config.scrapeInterval),
  });
  const access = new gcp.secretmanager.SecretIamMember('runtime-reads-run-monitoring', {
    project: ctx.project,
    secretId: secret.secretId,
    role: 'roles/secretmanager.secretAccessor',
    member: runtimeMember,
  });
  /** The revision's volume, pinned to this version: a changed config rolls out a new revision. */
  const volume: gcp.types.input.cloudrunv2.ServiceTemplateVolume = {
    name: COLLECTOR_VOLUME,
    secret: { secret: secret.secretId, items: [{ version: version.version, path: COLLECTOR_CONFIG_FILE }] },
  };
  return { secret, version, access, volume };
}

/** The sidecar container, started after the app (dependsOns) so its first scrape finds /metrics. */
export function collectorContainer(ctx: GcpContext, appContainerName: string): gcp.types.input.cloudrunv2.ServiceTemplateContainer {
  return {
    name: 'collector',
    image: ctx.config.collectorImage,
    dependsOns: [appContainerName],
    volumeMounts: [{ name: COLLECTOR_VOLUME, mountPath: COLLECTOR_CONFIG_DIR }],
    // The sidecar's own health endpoint (as in Google's sample service): a hung collector is
    // restarted instead of silently leaving the service without metrics.
    livenessProbe: { httpGet: { path: '/liveness', port: COLLECTOR_HEALTH_PORT }, periodSeconds: 30, timeoutSeconds: 30 },
    resources: { limits: { cpu: '1', memory: '512Mi' }, cpuIdle: false },
  };
}
