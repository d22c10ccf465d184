import { readFileSync } from 'node:fs';
import type { Server } from 'bun';
import type { AnyElysia } from 'elysia';

/**
 * Listens without SO_REUSEPORT: a second process on the same port must fail loudly, not
 * silently share the traffic. Bun's own body cap is a backstop above the app's BODY_LIMIT_BYTES,
 * which answers 413 as JSON.
 */
export function listen(app: AnyElysia, options: { hostname: string; port: number; bodyLimitBytes: number; idleTimeoutSeconds?: number }): Server<undefined> {
  const { idleTimeoutSeconds = 30 } = options;
  app.listen({
    hostname: options.hostname,
    port: options.port,
    reusePort: false,
    // A connection silent this long is closed, a slow body included (counted as 408).
    idleTimeout: idleTimeoutSeconds,
    maxRequestBodySize: Math.max(options.bodyLimitBytes * 4, 1_048_576),
  });
  if (!app.server) throw new Error(`could not listen on ${options.hostname}:${options.port}`);
  return app.server as Server<undefined>;
}

/**
 * The soft limit on open files (Linux; undefined elsewhere), for the start-up line. Bun itself
 * raises the soft limit to the hard one when it starts (as Go's runtime does); at the hard limit
 * its accept loop spins on EMFILE, so the hard limit is what operators size.
 */
export function openFilesLimit(): number | undefined {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
    return line === undefined || line === 'unlimited' ? undefined : Number(line);
  } catch {
    return undefined;
  }
}
