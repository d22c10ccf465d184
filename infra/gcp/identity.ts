import * as gcp from '@pulumi/gcp';
import type { GcpContext } from './context';

/**
 * Project-wide roles of the runtime identity, and nothing more: the collector writes metrics, both
 * containers write logs. Reading the RunMonitoring secret is granted on that one secret only
 * (see collector.ts). Pulling the image is the Cloud Run service agent's job, not this account's.
 */
export const RUNTIME_PROJECT_ROLES = ['roles/monitoring.metricWriter', 'roles/logging.logWriter'] as const;

/** The dedicated service account the Cloud Run revision runs as (instead of the broad default one). */
export function runtimeIdentity(ctx: GcpContext) {
  const account = new gcp.serviceaccount.Account(
    'runtime',
    {
      project: ctx.project,
      accountId: `${ctx.config.serviceName}-run`.slice(0, 30),
      displayName: 'pipewatch Cloud Run runtime (metric + log writer)',
    },
    { dependsOn: ctx.apis },
  );
  const member = account.email.apply((email) => `serviceAccount:${email}`);
  const grants = RUNTIME_PROJECT_ROLES.map(
    (role) => new gcp.projects.IAMMember(`runtime-${role.split('/')[1]!.replace('.', '-')}`, { project: ctx.project, role, member }),
  );
  return { account, member, grants };
}
