import * as gcp from '@pulumi/gcp';

/** APIs a fresh project needs for this stack. */
export const REQUIRED_APIS = [
  'run.googleapis.com',
  'artifactregistry.googleapis.com',
  'secretmanager.googleapis.com',
  'monitoring.googleapis.com',
  'logging.googleapis.com',
  'iam.googleapis.com',
] as const;

/** Enables them; `pulumi destroy` leaves them enabled (other workloads in the project may use them). */
export function enableApis(project: string): gcp.projects.Service[] {
  return REQUIRED_APIS.map(
    (service) => new gcp.projects.Service(`api-${service.split('.')[0]}`, { project, service, disableOnDestroy: false }),
  );
}
