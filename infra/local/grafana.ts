import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import type { LocalMonitoringFiles } from '../monitoring-files';
import { onNetwork, pulledImage, published, stackName, upload, type LocalContext } from './common';
import { tempoDatasource, withExemplarLinks } from './tempo';
import { GRAFANA_DASHBOARDS_DIR, GRAFANA_HOST, GRAFANA_PORT, GRAFANA_PROVISIONING_DIR } from './topology';

export { GRAFANA_PORT } from './topology';
export const PROVISIONING_DIR = GRAFANA_PROVISIONING_DIR;
export const DASHBOARDS_DIR = GRAFANA_DASHBOARDS_DIR;

/** The admin password from secret config, or a generated one kept (encrypted) in the stack's state. */
export function grafanaAdminPassword(configured?: pulumi.Output<string>): pulumi.Output<string> {
  if (configured) return pulumi.secret(configured);
  // Marked secret here too, not only by the provider: nothing downstream may print it.
  return pulumi.secret(new random.RandomPassword('grafana-admin-password', { length: 24, special: false }).result);
}

/**
 * Grafana with the repo's datasource, dashboard provider and dashboards provisioned. No volume: all
 * it shows is provisioned from the repo, so a recreated container is the same Grafana.
 */
export function grafanaContainer(
  ctx: LocalContext,
  files: LocalMonitoringFiles,
  opts: { adminPassword: pulumi.Output<string>; dependsOn: docker.Container[] },
) {
  const image = pulledImage('grafana-image', ctx.config.grafanaImage);
  const anonymous = ctx.config.grafanaAnonymous;
  const container = new docker.Container(
    'grafana',
    {
      name: stackName(ctx, GRAFANA_HOST),
      image: image.imageId,
      envs: pulumi.all([opts.adminPassword]).apply(([password]) => [
        `GF_SECURITY_ADMIN_USER=${ctx.config.grafanaAdminUser}`,
        `GF_SECURITY_ADMIN_PASSWORD=${password}`,
        `GF_AUTH_ANONYMOUS_ENABLED=${anonymous}`,
        'GF_AUTH_ANONYMOUS_ORG_ROLE=Viewer',
        'GF_USERS_ALLOW_SIGN_UP=false',
        // Works offline: no calls home.
        'GF_ANALYTICS_REPORTING_ENABLED=false',
        'GF_ANALYTICS_CHECK_FOR_UPDATES=false',
        'GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES=false',
      ]),
      uploads: [
        // tracing=true: the Tempo datasource, and the Prometheus one's exemplars linking to it.
        upload(`${PROVISIONING_DIR}/datasources/prometheus.yml`, ctx.config.tracing ? withExemplarLinks(files.grafanaDatasources) : files.grafanaDatasources),
        ...(ctx.config.tracing ? [upload(`${PROVISIONING_DIR}/datasources/tempo.yml`, tempoDatasource())] : []),
        upload(`${PROVISIONING_DIR}/dashboards/pipewatch.yml`, files.grafanaDashboardProvider),
        ...files.dashboards.map((dashboard) => upload(`${DASHBOARDS_DIR}/${dashboard.name}`, dashboard.content)),
      ],
      networksAdvanced: onNetwork(ctx, GRAFANA_HOST),
      ports: published(ctx, GRAFANA_PORT, ctx.config.grafanaPort),
      healthcheck: {
        tests: ['CMD', 'wget', '-q', '--spider', `http://127.0.0.1:${GRAFANA_PORT}/api/health`],
        interval: '10s',
        timeout: '3s',
        startPeriod: '20s',
        retries: 5,
      },
      restart: 'unless-stopped',
      wait: true,
      waitTimeout: 90,
      labels: ctx.labels,
    },
    { dependsOn: opts.dependsOn, deleteBeforeReplace: true },
  );
  return { image, container };
}
