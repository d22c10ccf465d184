import pkg from '../package.json' with { type: 'json' };

/** Which build is running. `bun run build` bakes the commit in; otherwise PIPEWATCH_COMMIT or "unknown". */
export const buildInfo = {
  version: pkg.version,
  commit: process.env.PIPEWATCH_COMMIT ?? 'unknown',
};
