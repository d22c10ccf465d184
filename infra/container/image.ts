import * as docker from '@pulumi/docker';
import type * as pulumi from '@pulumi/pulumi';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../monitoring-files';

/** The service's Dockerfile, relative to the build context (the repository root). */
export const DOCKERFILE = 'infra/container/Dockerfile';

export interface ServiceImageArgs {
  /** repository[:tag] to build, e.g. `pipewatch:local` or `europe-west1-docker.pkg.dev/P/R/pipewatch:latest`. */
  imageName: pulumi.Input<string>;
  /** Push to this registry; omitted: the image stays in the local Docker engine. */
  registry?: docker.types.input.Registry;
  /**
   * Platform of the image, e.g. linux/amd64 for Cloud Run. The build stage always runs on the
   * builder's own platform and cross-compiles for this one (no emulation, where Bun crashes).
   */
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
        // The last commit that changed the binary, not HEAD: a README-only commit leaves every layer
        // cached, so the image digest, and the running revision or container, stay as they are.
        args: { PIPEWATCH_COMMIT: binaryCommit() },
        ...(args.platform ? { platform: args.platform } : {}),
      },
      buildOnPreview: false,
      skipPush: args.registry === undefined,
      ...(args.registry ? { registry: args.registry } : {}),
    },
    opts,
  );
}

/**
 * What the image is built from: the build context's allow-list (Dockerfile.dockerignore) and the
 * Dockerfile. Nothing else can change the binary.
 */
export function binaryInputs(root = REPO_ROOT): string[] {
  const allowList = readFileSync(join(root, `${DOCKERFILE}.dockerignore`), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('!'))
    .map((line) => line.slice(1).replace(/\/\*\*$/, ''));
  return [...allowList, DOCKERFILE, `${DOCKERFILE}.dockerignore`];
}

/**
 * The commit baked into pipewatch_build_info: the last one that touched a binary input
 * (`-dirty` when one has uncommitted changes), so only a change to the binary changes the image.
 */
export function binaryCommit(root = REPO_ROOT): string {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const paths = binaryInputs(root);
    const commit = git('log', '-1', '--format=%H', '--', ...paths);
    if (!commit) return 'unknown';
    return git('status', '--porcelain', '--untracked-files=all', '--', ...paths) ? `${commit}-dirty` : commit;
  } catch {
    return 'unknown';
  }
}
