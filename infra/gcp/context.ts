import type * as gcp from '@pulumi/gcp';
import type { GcpSettings, StackConfig } from '../config';

/** What every GCP component function needs. */
export interface GcpContext extends GcpSettings {
  config: StackConfig;
  /** The Google APIs the stack enables; resources depend on them on a fresh project. */
  apis: gcp.projects.Service[];
  labels: Record<string, string>;
}
