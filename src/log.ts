import pino from 'pino';

export type Logger = pino.Logger;
export type LogLevel = pino.LevelWithSilent;


/**
 * One JSON object per line on stdout. Callers pass route templates and ids, never personal data.
 * Stdout is written in 8 KiB batches (and at least every 200 ms, and on exit) rather than one
 * write(2) per line: a synchronous write per request was ~9% of the CPU of a POST /submit_data.
 * The price: a SIGKILL loses at most the last 200 ms of log lines. (sonic-boom's own periodic
 * flush, not logger.flush(): that one also fsyncs stdout each time.)
 */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  const stream = destination ?? pino.destination({ dest: 1, sync: false, minLength: 8192, periodicFlush: 200 });
  const logger = pino(
    { level, base: { service: 'pipewatch' }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
    stream,
  );
  return logger;
}
