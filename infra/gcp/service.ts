import * as gcp from '@pulumi/gcp';
import type * as pulumi from '@pulumi/pulumi';
import { CLOUD_RUN_APP_PORT } from '../config';
import { collectorContainer } from './collector';
import type { GcpContext } from './context';
import { CLOUDSQL_MOUNT, type QueueDatabase } from './database';
import { appTracingEnv, TRACE_COLLECTOR_CONTAINER, type TraceCollector } from './tracing';

export const APP_CONTAINER = 'pipewatch';
/** The ingress port; Cloud Run routes requests only here and passes it to the app as PORT. */
export const APP_PORT = CLOUD_RUN_APP_PORT;
/** queueDriver=sqlite only: Cloud Run's writable filesystem is in-memory, per instance (see README). */
export const DATA_DIR = '/data';

export interface CloudRunArgs {
  imageDigest: pulumi.Input<string>;
  serviceAccountEmail: pulumi.Input<string>;
  collectorVolume: gcp.types.input.cloudrunv2.ServiceTemplateVolume;
  /** queueDriver=postgres: the Cloud SQL socket volume and the connection's env. */
  database?: Pick<QueueDatabase, 'volume' | 'envs'>;
  /** gcpTracing=true: the otelcol-google sidecar the app sends its traces to. */
  traceCollector?: Pick<TraceCollector, 'volume' | 'container'>;
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
      ...(args.database
        ? args.database.envs
        : [
            { name: 'QUEUE_DRIVER', value: 'sqlite' },
            { name: 'DATA_DIR', value: DATA_DIR },
            { name: 'SQLITE_SYNCHRONOUS', value: config.sqliteSynchronous },
          ]),
      { name: 'SHUTDOWN_GRACE_MS', value: String(config.shutdownGraceMs) },
      // Cloud Run stops routing to an instance before it sends SIGTERM: no drain window needed.
      { name: 'SHUTDOWN_DRAIN_MS', value: '0' },
      { name: 'LOG_LEVEL', value: config.logLevel },
      // gcpTracing=true: the standard OTEL_* variables, OTLP to the trace collector on localhost.
      ...(args.traceCollector ? Object.entries(appTracingEnv(String(config.gcpTraceSampleRatio))).map(([name, value]) => ({ name, value })) : []),
    ],
    // The trace collector's receiver is up before the first request is traced.
    ...(args.traceCollector ? { dependsOns: [TRACE_COLLECTOR_CONTAINER] } : {}),
    resources: {
      limits: { cpu: config.cpu, memory: config.memory },
      // Explicit: CPU stays allocated between requests (instance-based billing), so the background
      // queue keeps working after a 202 and the collector can scrape.
      cpuIdle: false,
      startupCpuBoost: true,
    },
    volumeMounts: args.database ? [{ name: args.database.volume.name, mountPath: CLOUDSQL_MOUNT }] : [],
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
      // public=true: no IAM check on invocation. Unlike a roles/run.invoker binding for allUsers,
      // this passes organisations with domain-restricted sharing.
      invokerIamDisabled: config.public,
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
        containers: [app, collectorContainer(ctx, APP_CONTAINER), ...(args.traceCollector ? [args.traceCollector.container] : [])],
        volumes: [args.collectorVolume, ...(args.database ? [args.database.volume] : []), ...(args.traceCollector ? [args.traceCollector.volume] : [])],
      },
    },
    { dependsOn: [...ctx.apis, ...args.dependsOn] },
  );

  return { service };
}
