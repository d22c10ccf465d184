import * as pulumi from '@pulumi/pulumi';
import type { StackConfig, StackSecrets } from '../config';
import { readLocalMonitoringFiles, type LocalMonitoringFiles } from '../monitoring-files';
import { alertmanagerContainer } from './alertmanager';
import { hostUrl, stackPrefix, type LocalContext } from './common';
import { grafanaAdminPassword, grafanaContainer } from './grafana';
import { stackNetwork } from './network';
import { postgresContainer } from './postgres';
import { prometheusContainer } from './prometheus';
import { serviceContainers } from './service';
import { tempoContainer } from './tempo';

/**
 * The local stack: one Docker network with the service (one container on sqlite, `replicas` on a
 * PostgreSQL container with postgres), Prometheus (repo config + rules) and Grafana (repo
 * provisioning + dashboards), Grafana Tempo receiving the service's traces (tracing=true, the default), optionally Alertmanager. Every name starts with `pipewatch-<stack>`.
 * Returns the stack outputs and, for tests, the resources.
 */
export function localStack(config: StackConfig, secrets: StackSecrets, files: LocalMonitoringFiles = readLocalMonitoringFiles()) {
  const prefix = stackPrefix(pulumi.getStack());
  const network = stackNetwork(prefix);
  const ctx: LocalContext = { config, prefix, network, labels: [{ label: 'org.pipewatch.stack', value: `${pulumi.getProject()}/${pulumi.getStack()}` }] };

  const postgres = config.queueDriver === 'postgres' ? postgresContainer(ctx) : undefined;
  const tempo = config.tracing ? tempoContainer(ctx) : undefined;
  const service = serviceContainers(ctx, postgres, tempo?.container);
  const alertmanager = config.alertmanager ? alertmanagerContainer(ctx, secrets.alertmanagerWebhookUrl) : undefined;
  const prometheus = prometheusContainer(ctx, files, {
    alertmanagerTarget: alertmanager?.target,
    serviceTargets: service.targets,
    dependsOn: [...service.containers, ...(alertmanager ? [alertmanager.container] : [])],
  });
  const adminPassword = grafanaAdminPassword(secrets.grafanaAdminPassword);
  const grafana = grafanaContainer(ctx, files, { adminPassword, dependsOn: [prometheus.container, ...(tempo ? [tempo.container] : [])] });

  const outputs = {
    target: 'local',
    queueDriver: config.queueDriver,
    apiUrl: hostUrl(config, config.apiPort),
    // One URL per service container (replica N on apiPort + N - 1).
    apiUrls: service.containers.map((_, i) => hostUrl(config, config.apiPort + i)),
    swaggerUiUrl: hostUrl(config, config.apiPort, '/docs'),
    metricsUrl: hostUrl(config, config.apiPort, '/metrics'),
    prometheusUrl: hostUrl(config, config.prometheusPort),
    prometheusAlertsUrl: hostUrl(config, config.prometheusPort, '/alerts'),
    grafanaUrl: hostUrl(config, config.grafanaPort),
    grafanaAdminUser: config.grafanaAdminUser,
    // Secret output: `pulumi stack output grafanaAdminPassword --show-secrets` reveals it on purpose.
    grafanaAdminPassword: pulumi.secret(adminPassword),
    tempoUrl: tempo ? hostUrl(config, config.tempoPort) : undefined,
    alertmanagerUrl: alertmanager ? hostUrl(config, config.alertmanagerPort) : undefined,
    queueVolume: service.data?.name ?? postgres?.data.name,
    // psql from this host: `psql -h 127.0.0.1 -p 5432 -U pipewatch pipewatch` with this password.
    postgresPassword: postgres ? pulumi.secret(postgres.password) : undefined,
  };
  return { outputs, resources: { network, postgres, tempo, service, prometheus, grafana, alertmanager } };
}
