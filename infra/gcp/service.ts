import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import { collectorContainer } from './collector';
import type { GcpContext } from './context';

export const APP_CONTAINER = 'pipewatch';
/** The ingress port; Cloud Run routes requests only here and passes it to the app as PORT. */
export const APP_PORT = 8000;
/** The queue's SQLite file: Cloud Run's writable filesystem is in-memory, per instance (see README). */
export const DATA_DIR = '/data';

export interface CloudRunArgs {
  imageDigest: pulumi.Input<string>;
  serviceAccountEmail: pulumi.Input<string>;
  collectorVolume: gcp.types.input.cloudrunv2.ServiceTemplateVolume;
  /** Created first: the revision reads the secret and writes as the account from its first second. */
  dependsOn: pulumi.Resource[];
}

/**
 * The Cloud Run (v2) service: the app plus Google's Managed Prometheus collector sidecar. All
 * settings are typed fields (v2 rejects run.googleapis.com/* annotations).
 */
export function cloudRunService(ctx: GcpContext, args: CloudRunArgs) {
  const { config } = ctx;
  const app: gcp.types.input.cloudrunv2.ServiceTemplateContainer = {
    name: APP_CONTAINER,
    // By digest: a rebuilt image always makes a new revision, an unchanged one never does.
    image: args.imageDigest,
    ports: { name: 'http1', containerPort: APP_PORT },
    envs: [
      // /metrics only on this port, which no request from outside the instance can reach.
      { name: 'METRICS_PORT', value: String(config.metricsPort) },
      { name: 'DATA_DIR', value: DATA_DIR },
      { name: 'QUEUE_DRIVER', value: 'sqlite' },
      { name: 'SQLITE_SYNCHRONOUS', value: config.sqliteSynchronous },
      { name: 'SHUTDOWN_GRACE_MS', value: String(config.shutdownGraceMs) },
      // Cloud Run stops routing to an instance before it sends SIGTERM: no drain window needed.
      { name: 'SHUTDOWN_DRAIN_MS', value: '0' },
      { name: 'LOG_LEVEL', value: config.logLevel },
    ],
    resources: {
      limits: { cpu: config.cpu, memory: config.memory },
      // Explicit: CPU stays allocated between requests (instance-based billing), so the background
      // queue keeps working after a 202 and the collector can scrape.
      cpuIdle: false,
      startupCpuBoost: true,
    },
    startupProbe: { httpGet: { path: '/readyz', port: APP_PORT }, periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 30 },
    livenessProbe: { httpGet: { path: '/healthz', port: APP_PORT }, periodSeconds: 15, timeoutSeconds: 3, failureThreshold: 3 },
  };

  const service = new gcp.cloudrunv2.Service(
    'pipewatch',
    {
      project: ctx.project,
      location: ctx.region,
      name: config.serviceName,
      ingress: 'INGRESS_TRAFFIC_ALL',
      // Explicit because the provider defaults to true, which makes `pulumi destroy` fail.
      deletionProtection: config.deletionProtection,
      labels: ctx.labels,
      template: {
        serviceAccount: args.serviceAccountEmail,
        executionEnvironment: 'EXECUTION_ENVIRONMENT_GEN2',
        maxInstanceRequestConcurrency: config.concurrency,
        scaling: { minInstanceCount: config.minInstances, maxInstanceCount: config.maxInstances },
        timeout: '60s',
        labels: ctx.labels,
        containers: [app, collectorContainer(ctx, APP_CONTAINER)],
        volumes: [args.collectorVolume],
      },
    },
    { dependsOn: [...ctx.apis, ...args.dependsOn] },
  );

  // Public invocation only when config says so; otherwise callers need roles/run.invoker.
  const publicInvoker = config.public
    ? new gcp.cloudrunv2.ServiceIamMember('public-invoker', {
        project: ctx.project,
        location: ctx.region,
        name: service.name,
        role: 'roles/run.invoker',
        member: 'allUsers',
      })
    : undefined;

  return { service, publicInvoker };
}
