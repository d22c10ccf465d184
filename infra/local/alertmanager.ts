import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { onNetwork, pulledImage, published, stackName, upload, type LocalContext } from './common';

export const ALERTMANAGER_HOST = 'alertmanager';
export const ALERTMANAGER_PORT = 9093;
export const ALERTMANAGER_CONFIG = '/etc/alertmanager/alertmanager.yml';

/**
 * Routing: everything to one receiver. With a webhook URL (secret config) alerts are posted there;
 * without one they are only listed in Alertmanager's UI.
 */
export function alertmanagerConfig(webhookUrl?: pulumi.Input<string>): pulumi.Output<string> {
  return pulumi.output(webhookUrl).apply((url) =>
    Bun.YAML.stringify(
      {
        route: { receiver: 'pipewatch', group_by: ['alertname', 'severity'], group_wait: '30s', group_interval: '5m', repeat_interval: '4h' },
        receivers: [url ? { name: 'pipewatch', webhook_configs: [{ url, send_resolved: true }] } : { name: 'pipewatch' }],
      },
      null,
      2,
    ),
  );
}

/** Optional Alertmanager (off by default), fed by the Prometheus container's rules. */
export function alertmanagerContainer(ctx: LocalContext, webhookUrl?: pulumi.Output<string>) {
  const image = pulledImage('alertmanager-image', ctx.config.alertmanagerImage);
  const container = new docker.Container(
    'alertmanager',
    {
      name: stackName(ctx, ALERTMANAGER_HOST),
      image: image.imageId,
      command: [`--config.file=${ALERTMANAGER_CONFIG}`, '--storage.path=/alertmanager'],
      uploads: [upload(ALERTMANAGER_CONFIG, alertmanagerConfig(webhookUrl))],
      networksAdvanced: onNetwork(ctx, ALERTMANAGER_HOST),
      ports: published(ctx, ALERTMANAGER_PORT, ctx.config.alertmanagerPort),
      healthcheck: { tests: ['CMD', 'wget', '-q', '--spider', `http://127.0.0.1:${ALERTMANAGER_PORT}/-/healthy`], interval: '10s', timeout: '3s', startPeriod: '5s', retries: 3 },
      restart: 'unless-stopped',
      wait: true,
      waitTimeout: 60,
      labels: ctx.labels,
    },
    { deleteBeforeReplace: true },
  );
  return { image, container, target: `${ALERTMANAGER_HOST}:${ALERTMANAGER_PORT}` };
}
