import { Elysia, t } from 'elysia';
import { ProblemError } from '../http/problem';
import type { Metrics } from '../metrics';
import { QueueUnavailableError, type Queue } from '../queue/types';

// Trimmed, single-line text: no leading/trailing white space, no control characters.
const TEXT = '^[^\\s\\x00-\\x1f\\x7f](?:[^\\x00-\\x1f\\x7f]*[^\\s\\x00-\\x1f\\x7f])?$';

export const SubmissionBody = t.Object(
  {
    name: t.String({ minLength: 1, maxLength: 100, pattern: TEXT, description: 'a trimmed, single-line string of 1 to 100 characters', examples: ['Ravi'] }),
    age: t.Integer({ minimum: 0, maximum: 130, description: 'an integer from 0 to 130', examples: [32] }),
    city: t.String({ minLength: 1, maxLength: 100, pattern: TEXT, description: 'a trimmed, single-line string of 1 to 100 characters', examples: ['Delhi'] }),
  },
  { additionalProperties: false, description: 'A citizen record, exactly as the seed accepted it.', examples: [{ name: 'Ravi', age: 32, city: 'Delhi' }] },
);

const JobStateSchema = t.Union([t.Literal('queued'), t.Literal('processing'), t.Literal('succeeded'), t.Literal('failed')]);

const Accepted = t.Object({
  id: t.String({ format: 'uuid', examples: ['0193a5c2-7d1e-7cc4-9a53-2f4e0c8b1f10'] }),
  status: JobStateSchema,
});

const SubmissionStatus = t.Object({
  id: t.String({ format: 'uuid' }),
  state: JobStateSchema,
  attempts: t.Integer({ minimum: 0 }),
  createdAt: t.String({ format: 'date-time' }),
  updatedAt: t.String({ format: 'date-time' }),
  nextAttemptAt: t.Union([t.String({ format: 'date-time' }), t.Null()]),
  finishedAt: t.Union([t.String({ format: 'date-time' }), t.Null()]),
  lastError: t.Union([t.String(), t.Null()], { description: 'A fixed reason code for the last failed attempt; never record data.' }),
});

const ProblemSchema = t.Object(
  {
    type: t.String(),
    title: t.String(),
    status: t.Integer(),
    detail: t.String(),
    errors: t.Optional(t.Array(t.Object({ field: t.String(), rule: t.String() }))),
  },
  { description: 'RFC 9457 problem details (application/problem+json)' },
);

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/** Reads a JSON body itself, so that content type, size and syntax each get their own clear 4xx. */
function jsonBodyParser(bodyLimitBytes: number, onReceived: () => void) {
  return async ({ request }: { request: Request }) => {
    onReceived();
    const declared = Number(request.headers.get('content-length') ?? 0);
    if (declared > bodyLimitBytes) {
      throw new ProblemError('payload-too-large', `The body must be at most ${bodyLimitBytes} bytes.`);
    }
    const type = request.headers.get('content-type');
    if (!type || !JSON_TYPE.test(type)) {
      throw new ProblemError('unsupported-media-type', 'Send the body as application/json.');
    }
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (bytes.byteLength > bodyLimitBytes) {
      throw new ProblemError('payload-too-large', `The body must be at most ${bodyLimitBytes} bytes.`);
    }
    if (bytes.byteLength === 0) throw new ProblemError('malformed-json', 'The request body is empty; send a JSON object.');
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new ProblemError('malformed-json', 'The request body is not valid UTF-8.');
    }
    let body: unknown;
    try {
      body = JSON.parse(text, rejectPrototypeKeys);
    } catch (error) {
      if (error instanceof ProblemError) throw error;
      if (error instanceof RangeError) throw new ProblemError('malformed-json', 'The request body is nested too deeply.');
      throw new ProblemError('malformed-json', 'The request body is not valid JSON.');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new ProblemError('validation', 'The body must be a JSON object.', {}, [{ field: '', rule: 'must be a JSON object' }]);
    }
    return body;
  };
}

/** `__proto__` / `constructor` keys are prototype-pollution probes; no schema here allows them. */
function rejectPrototypeKeys(key: string, value: unknown): unknown {
  if (key === '__proto__' || key === 'constructor' || key === 'prototype') {
    throw new ProblemError('validation', `Invalid field(s): /${key}.`, {}, [{ field: `/${key}`, rule: 'is not an allowed property' }]);
  }
  return value;
}

export function submissionsRoutes(deps: { queue: Queue; metrics: Metrics; bodyLimitBytes: number }) {
  const { queue, metrics } = deps;
  return new Elysia({ name: 'pipewatch/submissions' })
    .post(
      '/submit_data',
      async ({ body, set, status }) => {
        try {
          const id = await queue.enqueue(body);
          set.headers.location = `/submissions/${id}`;
          return status(202, { id, status: 'queued' as const });
        } catch (error) {
          if (error instanceof QueueUnavailableError) {
            metrics.enqueueRejections.inc({ reason: error.reason });
            throw new ProblemError('queue-unavailable', `${capitalise(error.message)}; retry later.`, { 'retry-after': String(error.retryAfterSeconds) });
          }
          throw error;
        }
      },
      {
        // Counted before any check, like the seed: every submission that arrives.
        parse: jsonBodyParser(deps.bodyLimitBytes, () => metrics.submissionsReceived.inc()),
        body: SubmissionBody,
        response: { 202: Accepted, 400: ProblemSchema, 413: ProblemSchema, 415: ProblemSchema, 422: ProblemSchema, 503: ProblemSchema },
        detail: {
          tags: ['Submissions'],
          summary: 'Submit a citizen record for processing',
          description:
            'Answers 202 once the record is durably queued, with a Location header to its status. 422 names each invalid field and rule (values are never echoed); 503 with Retry-After when the queue is full.',
        },
      },
    )
    .get(
      '/submissions/:id',
      ({ params }) => {
        const job = queue.status(params.id);
        if (!job) throw new ProblemError('not-found', 'No submission with this id.');
        return job;
      },
      {
        params: t.Object({ id: t.String({ maxLength: 64, description: 'the id returned by POST /submit_data' }) }),
        response: { 200: SubmissionStatus, 404: ProblemSchema },
        detail: { tags: ['Submissions'], summary: 'Processing status of one submission' },
      },
    );
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
