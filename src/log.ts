import pino from 'pino';

export type Logger = pino.Logger;
export type LogLevel = pino.LevelWithSilent;

/**
 * One JSON object per line on stdout. Callers pass route templates and ids, never personal data.
 * Stdout is written in 8 KiB batches (and at least every 200 ms, and on exit) rather than one
 * write(2) per line: a synchronous write per request was ~9% of the CPU of a POST /submit_data.
 * The price: a SIGKILL loses at most the last 200 ms of log lines.
 */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream, mixin?: () => object): Logger {
  const stream = destination ?? new LineBatcher(pino.destination({ dest: 1, sync: true }), 8192, 200);
  const logger = pino(
    {
      level,
      base: { service: 'pipewatch' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      ...(mixin ? { mixin } : {}),
    },
    stream,
  );
  return logger;
}

/**
 * Collects whole lines and hands them to a synchronous sonic-boom in chunks of at least
 * `minChars`, every `everyMs` and on exit. Why not sonic-boom's own `minLength` batching: its
 * write() measures the UTF-8 length of the whole pending buffer on every line (a rope it has to
 * flatten), and its async fs.write goes through a thread pool: together ~12% of the CPU of a
 * POST /submit_data. Joining an array once per chunk costs a fraction of that.
 */
class LineBatcher implements pino.DestinationStream {
  private lines: string[] = [];
  private chars = 0;

  constructor(
    private readonly out: pino.DestinationStream & { flushSync?: () => void },
    private readonly minChars: number,
    everyMs: number,
  ) {
    setInterval(() => this.flush(), everyMs).unref();
    process.on('exit', () => this.flush());
  }

  write(line: string): void {
    this.lines.push(line);
    this.chars += line.length;
    if (this.chars >= this.minChars) this.flush();
  }

  /** Called by logger.flush() too. */
  flush(done?: (error?: Error) => void): void {
    if (this.chars > 0) {
      const chunk = this.lines.join('');
      this.lines = [];
      this.chars = 0;
      this.out.write(chunk);
    }
    done?.();
  }
}

/** Fields of the one access-log line per request. Callers pass bounded, JSON-safe values (see below). */
interface AccessLine {
  method: string;
  route: string;
  status: number;
  durationMs: number;
  requestId: string;
}

/**
 * The per-request access line, written to the logger's own destination as the same JSON line
 * `log.info({ method, route, status, duration_ms, request_id }, 'request')` would produce
 * (same keys, order and level/time/bindings; test/log.test.ts compares the two). Going through
 * pino's generic path cost ~4 µs a line under Bun (object walk, escaping, isoTime, tracing),
 * about a tenth of a POST /submit_data. Only safe because every field is known: method is a
 * bounded label, route a template the app declares (JSON-encoded once, cached), request id
 * matches [A-Za-z0-9._:-] or is a UUID, status and duration are numbers.
 */
export function accessLogger(logger: Logger): (line: AccessLine) => void {
  const sym = pino.symbols as unknown as { streamSym: symbol; chindingsSym: symbol; mixinSym: symbol };
  const holder = logger as unknown as Record<symbol, unknown>;
  const stream = holder[sym.streamSym] as { write(line: string): unknown };
  // With tracing on, the logger's mixin adds trace_id and span_id (hex ids: JSON-safe as they are), first as pino puts them.
  const mixin = holder[sym.mixinSym] as (() => { trace_id?: string; span_id?: string }) | undefined;
  const bindings = holder[sym.chindingsSym] as string;
  const info = logger.levels.values.info!;
  const routes = new Map<string, string>();
  let lastMs = 0;
  let lastTime = '';
  return ({ method, route, status, durationMs, requestId }) => {
    if (logger.levelVal > info) return;
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      lastTime = new Date(now).toISOString();
    }
    let routeJson = routes.get(route);
    if (routeJson === undefined) routes.set(route, (routeJson = JSON.stringify(route)));
    const ids = mixin?.();
    const traced = ids?.trace_id ? `,"trace_id":"${ids.trace_id}","span_id":"${ids.span_id}"` : '';
    stream.write(
      `{"level":"info","time":"${lastTime}"${bindings}${traced},"method":"${method}","route":${routeJson},"status":${status},"duration_ms":${durationMs},"request_id":"${requestId}","msg":"request"}\n`,
    );
  };
}
