import pino from 'pino';

export type Logger = pino.Logger;
export type LogLevel = pino.LevelWithSilent;

/** Longest a log line waits in the stdout buffer. */
const FLUSH_EVERY_MS = 200;

/**
 * One JSON object per line on stdout. Callers pass route templates and ids, never personal data.
 * Stdout is written in 4 KiB batches (and at least every 200 ms, and on exit) rather than one
 * write(2) per line: a synchronous write per request was ~9% of the CPU of a POST /submit_data.
 * The price: a SIGKILL loses at most the last 200 ms of log lines.
 */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  const stream = destination ?? pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const logger = pino(
    { level, base: { service: 'pipewatch' }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
    stream,
  );
  if (!destination) setInterval(() => logger.flush(), FLUSH_EVERY_MS).unref();
  return logger;
}
