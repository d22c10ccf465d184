import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import { serviceImage } from '../container/image';
import type { GcpContext } from './context';

/**
 * An Artifact Registry Docker repository and the service image built from the repo and pushed to it
 * with the deployer's own gcloud credentials (a short-lived access token, kept secret).
 */
export function imageRegistry(ctx: GcpContext) {
  const repository = new gcp.artifactregistry.Repository(
    'images',
    {
      project: ctx.project,
      location: ctx.region,
      repositoryId: ctx.config.repositoryId,
      format: 'DOCKER',
      description: 'pipewatch service images, built by `pulumi up` from infra/container/Dockerfile',
      labels: ctx.labels,
    },
    { dependsOn: ctx.apis },
  );
  const host = `${ctx.region}-docker.pkg.dev`;
  const token = gcp.organizations.getClientConfigOutput({}).accessToken;
  const image = serviceImage(
    'pipewatch-image',
    {
      imageName: pulumi.interpolate`${host}/${ctx.project}/${repository.repositoryId}/pipewatch:latest`,
      registry: { server: host, username: 'oauth2accesstoken', password: pulumi.secret(token) },
      platform: 'linux/amd64', // Cloud Run runs amd64, whatever the laptop building it is
    },
    { dependsOn: [repository] },
  );
  return { repository, image };
}
