import pkg from '../package.json' with { type: 'json' };

/** Replaced by `bun run build` (`--define`) with the git commit the binary was built from. */
declare const PIPEWATCH_BUILD_COMMIT: string | undefined;

/**
 * Which build is running: the version from package.json and the commit baked in by
 * `bun run build` (`-dirty` when built from uncommitted changes). From source, PIPEWATCH_COMMIT
 * may say it; otherwise "unknown".
 */
export const buildInfo = {
  version: pkg.version,
  commit: (typeof PIPEWATCH_BUILD_COMMIT === 'string' ? PIPEWATCH_BUILD_COMMIT : undefined) ?? process.env.PIPEWATCH_COMMIT ?? 'unknown',
};
