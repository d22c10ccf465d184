import * as pulumi from '@pulumi/pulumi';
import type { StackConfig, StackSecrets } from '../config';
import { readLocalMonitoringFiles, type LocalMonitoringFiles } from '../monitoring-files';
import { alertmanagerContainer } from './alertmanager';
import { hostUrl, type LocalContext } from './common';
import { grafanaAdminPassword, grafanaContainer } from './grafana';
import { stackNetwork } from './network';
import { prometheusContainer } from './prometheus';
import { serviceContainer } from './service';

/**
 * The local stack: one Docker network with the service, Prometheus (repo config + rules) and Grafana
 * (repo provisioning + dashboards), optionally Alertmanager. Returns the stack outputs and, for tests, the resources.
 */
export function localStack(config: StackConfig, secrets: StackSecrets, files: LocalMonitoringFiles = readLocalMonitoringFiles()) {
  const network = stackNetwork('pipewatch');
  const ctx: LocalContext = { config, network, labels: [{ label: 'org.pipewatch.stack', value: `${pulumi.getProject()}/${pulumi.getStack()}` }] };

  const service = serviceContainer(ctx);
  const alertmanager = config.alertmanager ? alertmanagerContainer(ctx, secrets.alertmanagerWebhookUrl) : undefined;
  const prometheus = prometheusContainer(ctx, files, {
    alertmanagerTarget: alertmanager?.target,
    dependsOn: [service.container, ...(alertmanager ? [alertmanager.container] : [])],
  });
  const adminPassword = grafanaAdminPassword(secrets.grafanaAdminPassword);
  const grafana = grafanaContainer(ctx, files, { adminPassword, dependsOn: [prometheus.container] });

  const outputs = {
    target: 'local',
    apiUrl: hostUrl(config, config.apiPort),
    swaggerUiUrl: hostUrl(config, config.apiPort, '/docs'),
    metricsUrl: hostUrl(config, config.apiPort, '/metrics'),
    prometheusUrl: hostUrl(config, config.prometheusPort),
    prometheusAlertsUrl: hostUrl(config, config.prometheusPort, '/alerts'),
    grafanaUrl: hostUrl(config, config.grafanaPort),
    grafanaAdminUser: config.grafanaAdminUser,
    // Secret output: `pulumi stack output grafanaAdminPassword --show-secrets` reveals it on purpose.
    grafanaAdminPassword: pulumi.secret(adminPassword),
    alertmanagerUrl: alertmanager ? hostUrl(config, config.alertmanagerPort) : undefined,
    queueVolume: service.data.name,
  };
  return { outputs, resources: { network, service, prometheus, grafana, alertmanager } };
}
