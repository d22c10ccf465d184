import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import type { CloudAlert } from '../monitoring-files';
import type { GcpContext } from './context';

/** Cloud Monitoring knows CRITICAL, ERROR and WARNING; the repo's rules say critical/warning/info. */
export function policySeverity(severity: string): 'CRITICAL' | 'ERROR' | 'WARNING' {
  const s = severity.toLowerCase();
  if (s === 'critical' || s === 'page') return 'CRITICAL';
  if (s === 'error') return 'ERROR';
  return 'WARNING';
}

/** Alert policy ids must be stable and short: the rule name, lower-case with dashes. */
function resourceName(alertName: string): string {
  return `alert-${alertName.replace(/([a-z0-9])([A-Z])/g, '$1-$2').replace(/[^A-Za-z0-9]+/g, '-').toLowerCase()}`;
}

/**
 * One Cloud Monitoring alert policy per repo alert, with its PromQL evaluated by Managed Prometheus,
 * sent to an email channel made from config and/or existing channels named in config.
 */
export function alertPolicies(ctx: GcpContext, alerts: CloudAlert[]) {
  const email = ctx.config.alertEmail
    ? new gcp.monitoring.NotificationChannel(
        'alert-email',
        { project: ctx.project, type: 'email', displayName: `pipewatch alerts (${ctx.config.alertEmail})`, labels: { email_address: ctx.config.alertEmail } },
        { dependsOn: ctx.apis },
      )
    : undefined;
  const channels: pulumi.Input<string>[] = [...(email ? [email.name] : []), ...ctx.config.notificationChannels];

  const policies = alerts.map(
    (alert) =>
      new gcp.monitoring.AlertPolicy(
        resourceName(alert.name),
        {
          project: ctx.project,
          displayName: alert.displayName,
          severity: policySeverity(alert.severity),
          combiner: 'OR',
          conditions: [
            {
              displayName: alert.summary,
              conditionPrometheusQueryLanguage: {
                query: alert.promql,
                duration: `${alert.for}s`,
                evaluationInterval: '60s',
                alertRule: alert.name,
                ruleGroup: 'pipewatch',
                labels: { severity: alert.severity },
              },
            },
          ],
          documentation: {
            subject: `[pipewatch] ${alert.displayName}`,
            mimeType: 'text/markdown',
            content: `${alert.description}\n\nRunbook: ${alert.runbook}`,
          },
          alertStrategy: { autoClose: '1800s' },
          notificationChannels: channels,
          userLabels: ctx.labels,
        },
        { dependsOn: ctx.apis },
      ),
  );
  return { email, policies };
}
