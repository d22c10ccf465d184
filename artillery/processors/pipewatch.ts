/**
 * Artillery processor for the pipewatch scenarios (loaded via `config.processor`; Artillery bundles
 * this TypeScript file with esbuild into ./dist/ before the run).
 *
 * Why a processor at all: Artillery counts exact status codes (`http.codes.503`) and `ensure`
 * cannot sum them into classes, and its `maxErrorRate` counts failed *virtual users*, not HTTP
 * errors. So every response is classified here into counters the scenarios' `ensure` blocks gate on:
 *
 *   pw.codes.<2xx|3xx|4xx|5xx>                  all requests
 *   pw.<request name>.codes.<class>             per endpoint (request `name`)
 *   pw.<request name>.requests                  per endpoint, counted before sending
 *   pw.submit_data.posts / .responses           POST /submit_data sent / answered (the cross-check's count)
 *   pw.backpressure.503 / .missing_retry_after  503s, and 503s without a usable Retry-After header
 *   pw.echoed_input                             error answers that echo a submitted value (personal data)
 *   pw.after_spike.<request name>.codes.<class> responses once the spike scenario's burst is over
 *   pw.poll.finished / .unfinished              submissions seen reaching succeeded/failed, or given up on
 *
 * Missing counters simply mean "never happened": gates write `(pw.codes.5xx or 0) == 0`.
 */
/** The parts of Artillery's request/response/context objects this processor touches. */
interface RequestParams {
  name?: string;
  url: string;
  method?: string;
  json?: unknown;
  body?: string | Uint8Array;
  headers?: Record<string, string>;
}
interface Response {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}
interface Context {
  vars: Record<string, unknown>;
}
interface Events {
  emit(kind: 'counter' | 'histogram', name: string, value: number): void;
}
type Done = (error?: Error) => void;

const FINISHED = new Set(['succeeded', 'failed']);
/** Inputs in bad-input.yml carry this marker; an error body containing it echoes submitted data. */
const CANARY = 'pw-canary-7f3a';

function statusClass(code: number): string {
  return `${Math.floor(code / 100)}xx`;
}

function header(res: Response, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function bodyText(res: Response): string {
  if (typeof res.body === 'string') return res.body;
  if (res.body instanceof Uint8Array) return new TextDecoder().decode(res.body);
  return res.body === undefined ? '' : JSON.stringify(res.body);
}

function parseJson(res: Response): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(bodyText(res));
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function numberVar(context: Context, name: string, fallback: number): number {
  const value = Number(context.vars[name]);
  return Number.isFinite(value) ? value : fallback;
}

/** Per worker thread: when this worker saw its first virtual user, i.e. roughly when the run began. */
let runStartedAt: number | undefined;

/** beforeScenario: stamps the run start and the virtual user's own start. */
export function startVirtualUser(context: Context, _events: Events, done: Done): void {
  runStartedAt ??= Date.now();
  context.vars.vuStartedAt = Date.now();
  // /metrics may live on a separate, private port (METRICS_PORT): PIPEWATCH_METRICS_URL points there.
  context.vars.metricsBase = process.env.PIPEWATCH_METRICS_URL || context.vars.target;
  done();
}

/** beforeRequest (scenario-level): counts what was *sent* per endpoint, so lost requests show up. */
export function countRequest(req: RequestParams, _context: Context, events: Events, done: Done): void {
  events.emit('counter', `pw.${req.name ?? 'unnamed'}.requests`, 1);
  if (isSubmitDataPost(req)) events.emit('counter', 'pw.submit_data.posts', 1);
  done();
}

/** POST /submit_data, whatever the request's name: what the service's app_requests_total counts. */
function isSubmitDataPost(req: RequestParams): boolean {
  return (req.method ?? 'GET').toUpperCase() === 'POST' && /\/submit_data(?:\?|$)/.test(req.url);
}

/** afterResponse (scenario-level): classifies every response; see the module comment. */
export function classifyResponse(req: RequestParams, res: Response, context: Context, events: Events, done: Done): void {
  const name = req.name ?? 'unnamed';
  const cls = statusClass(res.statusCode);
  events.emit('counter', `pw.codes.${cls}`, 1);
  events.emit('counter', `pw.${name}.codes.${cls}`, 1);
  if (isSubmitDataPost(req)) events.emit('counter', 'pw.submit_data.responses', 1);

  if (res.statusCode === 503) {
    events.emit('counter', 'pw.backpressure.503', 1);
    const retryAfter = Number(header(res, 'retry-after'));
    if (!Number.isInteger(retryAfter) || retryAfter < 0) events.emit('counter', 'pw.backpressure.missing_retry_after', 1);
  }
  if (res.statusCode >= 400 && bodyText(res).includes(CANARY)) events.emit('counter', 'pw.echoed_input', 1);

  const spikeEndsAfter = Number(context.vars.spikeEndsAfterSeconds);
  const started = Number(context.vars.vuStartedAt);
  if (Number.isFinite(spikeEndsAfter) && runStartedAt !== undefined && started - runStartedAt > spikeEndsAfter * 1000) {
    events.emit('counter', `pw.after_spike.${name}.codes.${cls}`, 1);
  }
  done();
}

/**
 * afterResponse of POST /submit_data: remembers the id (or the 503's Retry-After) without
 * Artillery's `capture`, which would fail the virtual user on a legitimate 503.
 */
export function rememberSubmission(_req: RequestParams, res: Response, context: Context, _events: Events, done: Done): void {
  context.vars.lastSubmitStatus = res.statusCode;
  context.vars.submitAttempts = numberVar(context, 'submitAttempts', 0) + 1;
  if (res.statusCode === 202) {
    const body = parseJson(res);
    context.vars.submissionId = typeof body?.id === 'string' ? body.id : undefined;
    context.vars.state = body?.status;
    context.vars.polls = 0;
  } else {
    context.vars.submissionId = undefined;
    context.vars.retryAfterSeconds = Number(header(res, 'retry-after')) || 1;
  }
  done();
}

/**
 * whileTrue of the submit loop: a real client retries a 503 after the Retry-After it was given
 * (capped by `maxRetryWaitSeconds`), up to `maxSubmitAttempts` attempts. Anything else ends the loop.
 */
export function retryAfterBackpressure(context: Context, next: (again: boolean) => void): void {
  const again = context.vars.lastSubmitStatus === 503 && numberVar(context, 'submitAttempts', 0) < numberVar(context, 'maxSubmitAttempts', 3);
  if (!again) {
    next(false);
    return;
  }
  const waitSeconds = Math.min(numberVar(context, 'retryAfterSeconds', 1), numberVar(context, 'maxRetryWaitSeconds', 5));
  setTimeout(() => next(true), waitSeconds * 1000);
}

/** function step before the polling loop: only a share (`pollShare`, 0..1) of accepted submissions is followed up. */
export function decidePolling(context: Context, _events: Events, done: Done): void {
  const share = numberVar(context, 'pollShare', 1);
  context.vars.polling = typeof context.vars.submissionId === 'string' && Math.random() < share;
  done();
}

/** afterResponse of GET /submissions/{id}: keeps the state for the polling loop. */
export function rememberState(_req: RequestParams, res: Response, context: Context, _events: Events, done: Done): void {
  context.vars.polls = numberVar(context, 'polls', 0) + 1;
  context.vars.state = res.statusCode === 200 ? parseJson(res)?.status : 'gone';
  done();
}

/** whileTrue of the polling loop: poll until succeeded/failed, at most `maxPolls` times, `pollIntervalMs` apart. */
export function pollAgain(context: Context, next: (again: boolean) => void): void {
  if (!context.vars.polling) {
    next(false);
    return;
  }
  const state = String(context.vars.state);
  if (FINISHED.has(state) || state === 'gone' || numberVar(context, 'polls', 0) >= numberVar(context, 'maxPolls', 10)) {
    next(false);
    return;
  }
  setTimeout(() => next(true), numberVar(context, 'pollIntervalMs', 250));
}

/** function step after a polling loop: records whether the submission was seen finishing. */
export function recordPollOutcome(context: Context, events: Events, done: Done): void {
  if (!context.vars.polling) {
    done();
    return;
  }
  events.emit('counter', FINISHED.has(String(context.vars.state)) ? 'pw.poll.finished' : 'pw.poll.unfinished', 1);
  done();
}

/**
 * beforeRequest for bad-input bodies that YAML cannot express: invalid UTF-8 bytes, a body
 * nested far deeper than any record, and one larger than BODY_LIMIT_BYTES.
 */
export function rawBody(req: RequestParams, context: Context, _events: Events, done: Done): void {
  const kind = String(context.vars.rawBodyKind ?? (req.name ?? '').replace(/^bad_/, ''));
  if (kind === 'invalid_utf8') req.body = new Uint8Array([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
  else if (kind === 'deep_nesting') req.body = `${'['.repeat(5000)}${']'.repeat(5000)}`;
  else if (kind === 'oversized') req.body = JSON.stringify({ name: `${CANARY}${'x'.repeat(64 * 1024)}`, age: 30, city: 'Delhi' });
  done();
}
