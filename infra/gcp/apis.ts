import * as gcp from '@pulumi/gcp';
import { TRACING_APIS } from './tracing';

/**
 * APIs a fresh project needs for this stack. Service Usage is what enables the others (a project
 * without it needs `gcloud services enable serviceusage.googleapis.com` once, see README); Cloud
 * Resource Manager is what project IAM grants go through; SQL Admin creates Cloud SQL and backs
 * Cloud Run's built-in Cloud SQL connection.
 */
export const REQUIRED_APIS = [
  'serviceusage.googleapis.com',
  'cloudresourcemanager.googleapis.com',
  'run.googleapis.com',
  'artifactregistry.googleapis.com',
  'secretmanager.googleapis.com',
  'monitoring.googleapis.com',
  'logging.googleapis.com',
  'iam.googleapis.com',
  'sqladmin.googleapis.com',
] as const;

/** Enables them (with tracing, the Telemetry and Cloud Trace APIs too); `pulumi destroy` leaves them enabled (other workloads in the project may use them). */
export function enableApis(project: string, tracing = false): gcp.projects.Service[] {
  return [...REQUIRED_APIS, ...(tracing ? TRACING_APIS : [])].map(
    (service) => new gcp.projects.Service(`api-${service.split('.')[0]}`, { project, service, disableOnDestroy: false }),
  );
}
