import { createApp, createMetricsApp } from './app';
import { buildInfo } from './build-info';
import { ConfigError, loadConfig } from './config';
import { healthcheck } from './healthcheck';
import { createLogger } from './log';
import { createMetrics } from './metrics';
import { createQueue, QueueStartError } from './queue';
import { listen, openFilesLimit } from './server';
import { logExportErrors } from './tracing/errors';
import { traceLogMixin } from './tracing/log';
import { tracingOptions } from './tracing/options';
import { createTracing } from './tracing/provider';

/** Wires config, storage, queue, servers and signals. Everything else lives in createApp and its plugins. */
async function main() {
  const config = loadConfig();
  if (process.argv[2] === 'healthcheck') process.exit(await healthcheck(config)); // container HEALTHCHECK
  const tracingConfig = tracingOptions(config);
  const tracing = createTracing(tracingConfig);
  const log = createLogger(config.LOG_LEVEL, undefined, tracing && traceLogMixin(tracing.contexts));
  if (tracing) logExportErrors(log);
  const metrics = createMetrics(buildInfo);
  const queue = await createQueue(config, { metrics, log, tracing });

  // Ready once the queue runs and until shutdown begins, while its store can be reached.
  let started = false;
  let draining = false;
  const storageReachable = () => queue.healthy?.() ?? true;
  const metricsPort = config.METRICS_PORT;
  const app = createApp({
    queue,
    metrics,
    log,
    readiness: { ready: () => started && !draining && storageReachable(), draining: () => draining, storageReachable },
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    version: buildInfo.version,
    serveMetrics: metricsPort === undefined,
    tracing,
  });
  const api = listen(app, { hostname: config.HOST, port: config.PORT, bodyLimitBytes: config.BODY_LIMIT_BYTES });
  const metricsServer =
    metricsPort === undefined
      ? undefined
      : listen(createMetricsApp({ metrics, log, tracing }), { hostname: config.METRICS_HOST ?? config.HOST, port: metricsPort, bodyLimitBytes: 1024 });

  const shutdown = async (signal: string) => {
    if (draining) return;
    draining = true;
    const since = performance.now();
    const remaining = () => Math.max(0, config.SHUTDOWN_GRACE_MS - (performance.now() - since));
    log.info({ signal, grace_ms: config.SHUTDOWN_GRACE_MS, drain_ms: config.SHUTDOWN_DRAIN_MS }, 'draining');
    const deadline = setTimeout(() => {
      log.warn({ grace_ms: config.SHUTDOWN_GRACE_MS }, 'grace period over, exiting with work still running');
      process.exit(0);
    }, config.SHUTDOWN_GRACE_MS);
    // Keep serving (readiness 503) while load balancers notice, then stop accepting.
    await Bun.sleep(config.SHUTDOWN_DRAIN_MS);
    await api.stop(false); // closes idle connections; in-flight requests finish
    await queue.stop(remaining());
    await metricsServer?.stop(true);
    await queue.close();
    await tracing?.shutdown().catch(() => log.warn('could not export the last spans'));
    clearTimeout(deadline);
    log.info({ duration_ms: Math.round(performance.now() - since) }, 'stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  // Last, once signals are handled: the listening line tells supervisors (and tests) it is safe to signal.
  queue.start();
  started = true;
  log.info(
    {
      port: api.port,
      host: config.HOST,
      metrics_port: metricsServer?.port ?? api.port,
      queue_driver: config.QUEUE_DRIVER,
      version: buildInfo.version,
      commit: buildInfo.commit,
      open_files_limit: openFilesLimit(),
      // Where spans go, never the export headers (credentials).
      traces: tracing
        ? {
            exporter: tracingConfig.exporter,
            url: tracingConfig.exporter === 'otlp' ? tracingConfig.url : undefined,
            sampler: tracingConfig.sampler,
            ratio: tracingConfig.ratio,
          }
        : 'off',
    },
    'pipewatch listening',
  );
}

main().catch((error: unknown) => {
  // Start-up failures are the operator's to fix: one line, no stack trace.
  if (error instanceof ConfigError || error instanceof QueueStartError) {
    console.error(`pipewatch: ${error.message}`);
  } else {
    console.error(`pipewatch: failed to start: ${error instanceof Error ? error.message : String(error)}`);
  }
  process.exit(1);
});
