import { setGlobalErrorHandler } from '@opentelemetry/core';
import type { Logger } from '../log';

/** At most one `trace export failed` line per this long; the failures in between are counted in the next one. */
const EVERY_MS = 60_000;

/**
 * Makes failed span exports visible in the service's log (by default the OTel SDK reports them to
 * its diagnostic logger, which is silent). One warn line per minute at most, with the error's
 * name and code (an HTTP status or a socket error code) only: never the message, which can echo
 * the receiver's response or the request.
 */
export function logExportErrors(log: Logger, now: () => number = Date.now): void {
  let last = -Infinity;
  let suppressed = 0;
  setGlobalErrorHandler((error) => {
    const t = now();
    if (t - last < EVERY_MS) {
      suppressed++;
      return;
    }
    last = t;
    const e = (typeof error === 'object' && error !== null ? error : {}) as { name?: unknown; code?: unknown };
    log.warn(
      {
        error: typeof e.name === 'string' ? e.name : 'Error',
        code: typeof e.code === 'number' || typeof e.code === 'string' ? e.code : undefined,
        failures_since_last: suppressed,
      },
      'trace export failed; those spans are dropped (check OTEL_EXPORTER_OTLP_ENDPOINT and the collector)',
    );
    suppressed = 0;
  });
}
