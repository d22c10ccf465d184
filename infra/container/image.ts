import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../monitoring-files';

/** The service's Dockerfile, relative to the build context (the repository root). */
export const DOCKERFILE = 'infra/container/Dockerfile';

export interface ServiceImageArgs {
  /** repository[:tag] to build, e.g. `pipewatch:local` or `europe-west1-docker.pkg.dev/P/R/pipewatch:latest`. */
  imageName: pulumi.Input<string>;
  /** Push to this registry; omitted: the image stays in the local Docker engine. */
  registry?: docker.types.input.Registry;
  /** e.g. linux/amd64 for Cloud Run when building on an arm64 laptop. */
  platform?: string;
}

/**
 * Builds the service image from the repo with infra/container/Dockerfile. Not during preview
 * (buildOnPreview: false): previews stay fast and need no Docker engine. Consumers must use
 * `repoDigest` (a registry digest, or the local image id), never the tag: an unchanged tag such as
 * `:latest` would leave containers and Cloud Run revisions on the old build.
 */
export function serviceImage(name: string, args: ServiceImageArgs, opts?: pulumi.CustomResourceOptions): docker.Image {
  return new docker.Image(
    name,
    {
      imageName: args.imageName,
      build: {
        context: REPO_ROOT,
        dockerfile: join(REPO_ROOT, DOCKERFILE),
        builderVersion: 'BuilderBuildKit',
        args: { PIPEWATCH_COMMIT: sourceCommit() },
        ...(args.platform ? { platform: args.platform } : {}),
      },
      buildOnPreview: false,
      skipPush: args.registry === undefined,
      ...(args.registry ? { registry: args.registry } : {}),
    },
    opts,
  );
}

/** The commit being deployed (`-dirty` with uncommitted changes), baked into pipewatch_build_info. */
export function sourceCommit(): string {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty', '--abbrev=40'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}
