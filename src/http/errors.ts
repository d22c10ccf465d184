import type { ValidationError, AnyElysia } from 'elysia';
import type { Logger } from '../log';
import { PROBLEM_CONTENT_TYPE, ProblemError, invalidFieldsDetail, problem, type FieldError, type Problem } from './problem';

/** Every route template with the methods it answers, so an unmatched request can tell 404 from 405. */
type RouteTable = Array<{ method: string; pattern: RegExp }>;

function routeTable(routes: ReadonlyArray<{ method: string; path: string }>): RouteTable {
  return routes.map(({ method, path }) => ({
    method: method.toUpperCase(),
    pattern: new RegExp(
      `^${path
        .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
        .replace(/\/:[^/]+/g, '/[^/]+')
        .replace(/\*$/, '.*')}/?$`,
    ),
  }));
}

/**
 * Turns every failure into one `application/problem+json` answer. Elysia's own validation
 * error echoes the submitted body (`found`, `errors[].value`); this replaces it with field
 * names and rules only.
 *
 * A functional plugin: it is handed the app it is used on, and reads that app's routes on the
 * first unmatched request (every route is declared by then), as Hono's methodNotAllowed does,
 * so the app need not pass its own route list back in.
 */
export function errorsPlugin(options: { log: Logger }) {
  const { log } = options;
  return (app: AnyElysia) => {
    let routes: RouteTable | undefined;
    const allowedMethods = (path: string) => (routes ??= routeTable(app.routes)).filter((route) => route.pattern.test(path)).map((route) => route.method);
    return app.onError({ as: 'global' }, ({ code, error, set, request, path, route }) => {
      let body: Problem;
      // Elysia wraps whatever a body parser throws in its own ParseError.
      const thrown = code === 'PARSE' && (error as Error).cause instanceof ProblemError ? (error as Error).cause : error;
      if (thrown instanceof ProblemError) {
        body = problem(thrown.kind, thrown.message, thrown.errors);
        Object.assign(set.headers, thrown.headers);
      } else if (code === 'VALIDATION' && (error as ValidationError).type === 'response') {
        // Our own answer broke its schema: a server bug, not the client's. The error's message
        // embeds the value, so only its kind is logged.
        log.error({ code: 'RESPONSE_VALIDATION', route }, 'response failed its schema');
        body = problem('internal', 'The service failed to handle this request; it has been logged.');
      } else if (code === 'VALIDATION') {
        body = validationProblem(error as ValidationError);
      } else if (code === 'PARSE') {
        body = problem('malformed-json', 'The request body could not be parsed as JSON.');
      } else if (code === 'NOT_FOUND') {
        const allowed = allowedMethods(path);
        if (allowed.length > 0 && !allowed.includes(request.method)) {
          body = problem('method-not-allowed', `This resource does not support ${safeMethod(request.method)}.`);
          // Bun answers HEAD for every GET route.
          if (allowed.includes('GET')) allowed.push('HEAD');
          set.headers.allow = [...new Set(allowed)].join(', ');
        } else {
          body = problem('not-found', 'No resource at this path.');
        }
      } else {
        log.error({ err: describeError(error), code: String(code) }, 'unhandled error');
        body = problem('internal', 'The service failed to handle this request; it has been logged.');
      }
      set.status = body.status;
      set.headers['content-type'] = PROBLEM_CONTENT_TYPE;
      return JSON.stringify(body);
    });
  };
}

function validationProblem(error: ValidationError): Problem {
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  for (const issue of error.all) {
    if (!('path' in issue)) continue;
    const unexpected = issue.message === 'Unexpected property';
    // An unexpected property's name is the client's text (it may be personal data): name the
    // object it is in and the properties it may have instead.
    const field = unexpected ? parentOf(issue.path ?? '') : truncate(issue.path ?? '', 64);
    const rule = unexpected
      ? allowedProperties((issue as { schema?: Record<string, unknown> }).schema)
      : ruleOf(issue as { message?: string; schema?: Record<string, unknown> }, field);
    const key = `${field}\u0000${rule}`;
    if (seen.has(key)) continue;
    seen.add(key);
    errors.push({ field, rule });
    if (errors.length >= 20) break;
  }
  // A missing field also fails its type check; "is required" says it all.
  const missing = new Set(errors.filter((e) => e.rule === 'is required').map((e) => e.field));
  const reported = errors.filter((e) => e.rule === 'is required' || !missing.has(e.field));
  return problem('validation', invalidFieldsDetail(reported), reported);
}

/** The rule in words, from the schema alone, so the submitted value never appears. */
function ruleOf(issue: { message?: string; schema?: Record<string, unknown> }, field: string): string {
  const schema = issue.schema ?? {};
  if (field !== '' && issue.message?.startsWith('Expected required property')) return 'is required';
  if (typeof schema.description === 'string' && schema.type !== 'object') return `must be ${schema.description}`;
  if (schema.type === 'object' && field === '') {
    if (issue.message?.startsWith('Expected required property')) return issue.message.replace('Expected required property', 'is missing a required property');
    return 'must be a JSON object';
  }
  return issue.message ?? 'is invalid';
}

function parentOf(path: string): string {
  return truncate(path.slice(0, Math.max(0, path.lastIndexOf('/'))), 64);
}

function allowedProperties(schema: Record<string, unknown> | undefined): string {
  const names = Object.keys((schema?.properties as Record<string, unknown> | undefined) ?? {});
  return names.length > 0 ? `must have no properties other than ${names.join(', ')}` : 'must have no other properties';
}

function safeMethod(method: string): string {
  return /^[A-Z]{1,16}$/.test(method) ? method : 'this method';
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : 'non-error thrown';
}
