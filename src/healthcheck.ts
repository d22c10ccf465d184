import type { Config } from './config';

/**
 * `pipewatch healthcheck`: exits 0 when this container's own `/healthz` answers 200, 1 otherwise.
 * The runtime image has no shell or curl, so Docker's HEALTHCHECK runs the binary itself.
 */
export async function healthcheck(config: Pick<Config, 'HOST' | 'PORT'>, timeoutMs = 2_000): Promise<0 | 1> {
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  try {
    const response = await fetch(`http://${host.includes(':') ? `[${host}]` : host}:${config.PORT}/healthz`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    return response.status === 200 ? 0 : 1;
  } catch {
    return 1;
  }
}
