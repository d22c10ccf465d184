import * as gcp from '@pulumi/gcp';
import type { GcpContext } from './context';
import { TRACING_ROLES } from './tracing';

/**
 * Project-wide roles of the runtime identity, and nothing more: the collector writes metrics, both
 * containers write logs, and with the postgres queue Cloud Run's Cloud SQL connection opens as this
 * account (roles/cloudsql.client: connect, nothing administrative; Cloud SQL has no narrower
 * per-instance grant). Secrets are granted one by one (collector.ts, database.ts). Pulling the
 * image is the Cloud Run service agent's job, not this account's.
 */
export const RUNTIME_PROJECT_ROLES = ['roles/monitoring.metricWriter', 'roles/logging.logWriter'] as const;
export const CLOUD_SQL_CLIENT_ROLE = 'roles/cloudsql.client';

/** `<serviceName>-run`; stack config keeps it within the 6-30 characters an account id may have. */
export function runtimeAccountId(serviceName: string): string {
  return `${serviceName}-run`;
}

/** The dedicated service account the Cloud Run revision runs as (instead of the broad default one). */
export function runtimeIdentity(ctx: GcpContext) {
  const account = new gcp.serviceaccount.Account(
    'runtime',
    {
      project: ctx.project,
      accountId: runtimeAccountId(ctx.config.serviceName),
      displayName: 'pipewatch Cloud Run runtime (metric + log writer)',
    },
    { dependsOn: ctx.apis },
  );
  const member = account.email.apply((email) => `serviceAccount:${email}`);
  // gcpTracing=true: the trace collector writes spans as this account too.
  const roles = [
    ...RUNTIME_PROJECT_ROLES,
    ...(ctx.config.queueDriver === 'postgres' ? [CLOUD_SQL_CLIENT_ROLE] : []),
    ...(ctx.config.gcpTracing ? TRACING_ROLES : []),
  ];
  const grants = roles.map((role) => new gcp.projects.IAMMember(`runtime-${role.split('/')[1]!.replace('.', '-')}`, { project: ctx.project, role, member }));
  return { account, member, grants };
}
