import * as docker from '@pulumi/docker';
import type * as pulumi from '@pulumi/pulumi';
import type { StackConfig } from '../config';

/** What every container of the local stack shares. */
export interface LocalContext {
  config: StackConfig;
  /** `pipewatch-<stack>`: the start of every container, network and volume name of this stack. */
  prefix: string;
  network: docker.Network;
  /** Labels that tell `docker ps` which Pulumi stack owns a container or volume. */
  labels: docker.types.input.ContainerLabel[];
}

/** `pipewatch-<stack>` in the characters Docker allows in names. */
export function stackPrefix(stack: string): string {
  return `pipewatch-${stack.toLowerCase().replace(/[^a-z0-9_.-]+/g, '-')}`;
}

/** A container's or volume's name: unique per stack on this Docker host. */
export function stackName(ctx: Pick<LocalContext, 'prefix'>, role: string): string {
  return `${ctx.prefix}-${role}`;
}

/** A stack-owned image pulled by name; containers run it by image id (docker v5 has no `.latest`). */
export function pulledImage(name: string, image: string): docker.RemoteImage {
  return new docker.RemoteImage(name, { name: image, keepLocally: true });
}

/** Joins the stack's network under a fixed alias: the repo's monitoring config addresses peers by it. */
export function onNetwork(ctx: LocalContext, alias: string): docker.types.input.ContainerNetworksAdvanced[] {
  return [{ name: ctx.network.name, aliases: [alias] }];
}

/** Publishes a container port on the host, on the configured address only (127.0.0.1 by default). */
export function published(ctx: LocalContext, internal: number, external: number): docker.types.input.ContainerPort[] {
  return [{ internal, external, ip: ctx.config.bindAddress, protocol: 'tcp' }];
}

/** URL a user on this host opens for a published port. */
export function hostUrl(config: StackConfig, port: number, path = ''): string {
  const host = config.bindAddress === '0.0.0.0' ? '127.0.0.1' : config.bindAddress;
  return `http://${host}:${port}${path}`;
}

/** One `docker cp`-style file for a container: content from the repo, readable by the image's user. */
export function upload(file: string, content: pulumi.Input<string>): docker.types.input.ContainerUpload {
  return { file, content, permissions: '0644' };
}
