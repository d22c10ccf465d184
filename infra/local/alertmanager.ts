import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { yamlFile } from '../monitoring/format';
import { MONITORING_FILES } from '../monitoring/paths';
import { onNetwork, pulledImage, published, stackName, upload, type LocalContext } from './common';
import { ALERTMANAGER_HOST, ALERTMANAGER_PORT } from './topology';

export { ALERTMANAGER_HOST, ALERTMANAGER_PORT };
export const ALERTMANAGER_CONFIG = '/etc/alertmanager/alertmanager.yml';

/**
 * The repo's generated routing (infra/monitoring/generated/alertmanager.yml: critical -> page,
 * warning -> ticket, group by job, inhibitions), uploaded as it is. With a webhook URL (secret
 * config) both receivers post to it; without one alerts are only listed in Alertmanager's UI.
 */
export function alertmanagerConfig(webhookUrl?: pulumi.Input<string>, root = resolve(import.meta.dir, '../..')): pulumi.Output<string> {
  const generated = readFileSync(join(root, MONITORING_FILES.alertmanagerConfig), 'utf8');
  return pulumi.output(webhookUrl).apply((url) => {
    if (!url) return generated;
    const parsed = Bun.YAML.parse(generated) as { receivers: Array<Record<string, unknown>> };
    for (const receiver of parsed.receivers) receiver.webhook_configs = [{ url, send_resolved: true }];
    return yamlFile(parsed, `# ${MONITORING_FILES.alertmanagerConfig} with the stack's webhook added by infra/local/alertmanager.ts.\n`);
  });
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
      healthcheck: {
        tests: ['CMD', 'wget', '-q', '--spider', `http://127.0.0.1:${ALERTMANAGER_PORT}/-/healthy`],
        interval: '10s',
        timeout: '3s',
        startPeriod: '5s',
        retries: 3,
      },
      restart: 'unless-stopped',
      wait: true,
      waitTimeout: 60,
      labels: ctx.labels,
    },
    { deleteBeforeReplace: true },
  );
  return { image, container, target: `${ALERTMANAGER_HOST}:${ALERTMANAGER_PORT}` };
}
