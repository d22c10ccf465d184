import * as gcp from '@pulumi/gcp';
import type * as pulumi from '@pulumi/pulumi';
import type { CloudAlert } from '../monitoring-files';
import { SCRAPE_JOB } from './collector';
import type { GcpContext } from './context';

/** Cloud Monitoring knows CRITICAL, ERROR and WARNING; the repo's rules say critical/warning/info. */
export function policySeverity(severity: string): 'CRITICAL' | 'ERROR' | 'WARNING' {
  const s = severity.toLowerCase();
  if (s === 'critical' || s === 'page') return 'CRITICAL';
  if (s === 'error') return 'ERROR';
  return 'WARNING';
}

/**
 * Every series the sidecar writes carries `namespace` = the Cloud Run service and `location` = its
 * region, beside `job` (the RunMonitoring name, the same in every stack). Adding both to each
 * `job=` matcher makes a policy read only this stack's service, so two stacks in one project never
 * fire each other's alerts. An alert without that matcher would read every stack: refused.
 */
export function scopeToService(promql: string, job: string, service: string, region: string): string {
  const matcher = `job=${JSON.stringify(job)}`;
  if (!promql.includes(matcher)) throw new Error(`alert query selects no ${matcher}, so it cannot be scoped to one stack: ${promql}`);
  return promql.replaceAll(matcher, `${matcher},namespace=${JSON.stringify(service)},location=${JSON.stringify(region)}`);
}

/** `README.md#runbook-x` as an absolute link when the README's URL is configured; plain text otherwise. */
export function runbookText(runbook: string, baseUrl?: string): string {
  const anchor = runbook.includes('#') ? runbook.slice(runbook.indexOf('#')) : '';
  if (baseUrl) return `Runbook: ${baseUrl}${anchor}`;
  // A relative link means nothing in an email or the console: name the section instead.
  return `Runbook: section "${anchor.slice(1) || runbook}" of README.md in the pipewatch repository (set pipewatch:runbookBaseUrl for a link).`;
}

/** Alert policy ids must be stable and short: the rule name, lower-case with dashes. */
function resourceName(alertName: string): string {
  return `alert-${alertName
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .toLowerCase()}`;
}

/**
 * One Cloud Monitoring alert policy per repo alert, with its PromQL evaluated by Managed Prometheus,
 * sent to an email channel made from config and/or existing channels named in config.
 */
export function alertPolicies(ctx: GcpContext, alerts: CloudAlert[]) {
  const email = ctx.config.alertEmail
    ? new gcp.monitoring.NotificationChannel(
        'alert-email',
        {
          project: ctx.project,
          type: 'email',
          displayName: `${ctx.config.serviceName} alerts (${ctx.config.alertEmail})`,
          labels: { email_address: ctx.config.alertEmail },
        },
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
          displayName: `${alert.displayName} (${ctx.config.serviceName}, ${ctx.region})`,
          severity: policySeverity(alert.severity),
          combiner: 'OR',
          conditions: [
            {
              displayName: alert.summary,
              conditionPrometheusQueryLanguage: {
                query: scopeToService(alert.promql, SCRAPE_JOB, ctx.config.serviceName, ctx.region),
                duration: `${alert.for}s`,
                evaluationInterval: '60s',
                alertRule: alert.name,
                ruleGroup: 'pipewatch',
                labels: { severity: alert.severity },
                // The policies exist before the service has exported a sample; without this a fresh
                // project rejects every PromQL condition on a metric it has not seen yet.
                disableMetricValidation: true,
              },
            },
          ],
          documentation: {
            subject: `[${ctx.config.serviceName}] ${alert.displayName}`,
            mimeType: 'text/markdown',
            content: `${alert.description}\n\n${runbookText(alert.runbook, ctx.config.runbookBaseUrl)}`,
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
