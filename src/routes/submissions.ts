import { Type } from '@sinclair/typebox';
import { Elysia, t } from 'elysia';
import { ProblemError, ProblemSchema, invalidFields } from '../http/problem';
import { seedOf } from '../http/seed';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import { JobStateSchema, JobStatusSchema, QueueUnavailableError, SubmissionAbortedError, type Queue, type Submission } from '../queue/types';
import { readJsonBody } from './json-body';

// Trimmed, single-line text: no leading/trailing white space, no control characters.
const TEXT = '^[^\\s\\x00-\\x1f\\x7f](?:[^\\x00-\\x1f\\x7f]*[^\\s\\x00-\\x1f\\x7f])?$';
const TEXT_RULE = 'a trimmed, single-line string of 1 to 100 characters';
const AGE_RULE = 'an integer from 0 to 130';

export const SubmissionBody = t.Object(
  {
    name: t.String({ minLength: 1, maxLength: 100, pattern: TEXT, description: TEXT_RULE, examples: ['Ravi'] }),
    // TypeBox's own Integer: Elysia's `t.Integer` also accepts numeric strings ("32", "0x20") and defaults to 0.
    age: Type.Integer({ minimum: 0, maximum: 130, description: AGE_RULE, examples: [32] }),
    city: t.String({ minLength: 1, maxLength: 100, pattern: TEXT, description: TEXT_RULE, examples: ['Delhi'] }),
  },
  { additionalProperties: false, description: 'A citizen record, exactly as the seed accepted it.', examples: [{ name: 'Ravi', age: 32, city: 'Delhi' }] },
);

const Accepted = t.Object({
  id: t.String({ format: 'uuid', examples: ['0193a5c2-7d1e-7cc4-9a53-2f4e0c8b1f10'] }),
  status: JobStateSchema,
});

/** Ids are server-made UUIDs; anything longer is simply unknown (404), not a client error of its own. */
const MAX_ID_LENGTH = 64;

export function submissionsRoutes(deps: { queue: Queue; metrics: Metrics; log: Logger; bodyLimitBytes: number }) {
  const { queue, metrics, log, bodyLimitBytes } = deps;
  const submissionsReceived = metrics.submissionsReceived;
  return new Elysia({ name: 'pipewatch/submissions', seed: seedOf(queue, metrics, log, bodyLimitBytes) })
    .post(
      '/submit_data',
      async ({ body, set, request }) => {
        assertWellFormed(body);
        let id: string;
        try {
          id = await queue.enqueue(body, { signal: request.signal });
        } catch (error) {
          if (error instanceof SubmissionAbortedError) {
            // Nobody is left to answer (recorded as 499); nothing was stored, so a retry is safe.
            log.debug({}, 'submission dropped: its connection closed before the commit');
            throw new ProblemError('queue-unavailable', `${capitalise(error.message)}.`);
          }
          if (error instanceof QueueUnavailableError) {
            metrics.enqueueRejections.inc({ reason: error.reason });
            throw new ProblemError('queue-unavailable', `${capitalise(error.message)}; retry later.`, { 'retry-after': String(error.retryAfterSeconds) });
          }
          throw error;
        }
        if (request.signal.aborted) {
          // Committed, but Bun closed the connection, so the 202 is never sent and the client may
          // send the record again (a pipelined request behind this one does that on Bun 1.4.5).
          log.warn({ id }, 'submission committed but its connection closed before the answer; a retry will duplicate it');
        }
        set.status = 202;
        set.headers.location = `/submissions/${id}`;
        return { id, status: 'queued' as const };
      },
      {
        // Our reader first (content type, size and syntax each get their own 4xx). The named
        // 'application/json' after it never runs; it only tells the OpenAPI generator the media type.
        parse: [
          ({ request }) => {
            // Counted before any check, like the seed: every submission that arrives.
            submissionsReceived.inc();
            return readJsonBody(request, bodyLimitBytes);
          },
          'application/json',
        ],
        body: SubmissionBody,
        response: { 202: Accepted, 400: ProblemSchema, 413: ProblemSchema, 415: ProblemSchema, 422: ProblemSchema, 503: ProblemSchema },
        detail: {
          tags: ['Submissions'],
          summary: 'Submit a citizen record for processing',
          description:
            'Answers 202 once the record is durably queued, with a Location header to its status. ' +
            '400: not JSON; 413: body over BODY_LIMIT_BYTES; 415: not application/json; ' +
            '422: names each invalid field and rule (values are never echoed); 503 with Retry-After when the queue is full or the service is draining.',
        },
      },
    )
    .get(
      '/submissions/:id',
      async ({ params }) => {
        let job: Awaited<ReturnType<Queue['status']>>;
        try {
          job = params.id.length <= MAX_ID_LENGTH ? await queue.status(params.id) : undefined;
        } catch (error) {
          // The store cannot be read right now (a database away): retry later, never a 500.
          if (error instanceof QueueUnavailableError) {
            throw new ProblemError('queue-unavailable', `${capitalise(error.message)}; retry later.`, { 'retry-after': String(error.retryAfterSeconds) });
          }
          throw error;
        }
        if (!job) throw new ProblemError('not-found', 'No submission with this id.');
        return job;
      },
      {
        params: t.Object({ id: t.String({ description: 'the id returned by POST /submit_data', examples: ['0193a5c2-7d1e-7cc4-9a53-2f4e0c8b1f10'] }) }),
        response: { 200: JobStatusSchema, 404: ProblemSchema, 503: ProblemSchema },
        detail: { tags: ['Submissions'], summary: 'Processing status of one submission (queued, processing, succeeded, failed)' },
      },
    );
}

/** Lone UTF-16 surrogates (`"\ud800"`) pass the schema but cannot be stored or shown faithfully. */
function assertWellFormed(body: Submission): void {
  const bad = (['name', 'city'] as const).filter((field) => !body[field].isWellFormed());
  if (bad.length > 0) throw invalidFields(bad.map((f) => ({ field: `/${f}`, rule: 'must be well-formed Unicode text' })));
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
