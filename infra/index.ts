import { readStackConfig } from './config';
import { gcpStack } from './gcp';
import { localStack } from './local';

/**
 * The pipewatch Pulumi program. `pipewatch:target` picks the stack kind: `local` (Docker) or `gcp`
 * (Cloud Run). Config is validated before any resource is registered, so a bad value fails
 * `pulumi preview` with one clear line. The returned object is the stack's outputs.
 */
export default function pipewatch() {
  const { config, secrets, gcp } = readStackConfig();
  if (config.target === 'gcp') return gcpStack(config, gcp!).outputs;
  return localStack(config, secrets).outputs;
}
