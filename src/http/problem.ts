import { t, type Static } from 'elysia';

/**
 * One error shape for every error the service answers: RFC 9457 problem details.
 * `detail` and `errors` name fields and rules only; submitted values are personal data and never echoed.
 */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

const FieldErrorSchema = t.Object({
  field: t.String({ description: 'JSON Pointer to the offending field, e.g. `/age`; empty for the body itself.', examples: ['/age'] }),
  rule: t.String({ description: 'The rule the field broke, in words.', examples: ['must be an integer from 0 to 130'] }),
});

export const ProblemSchema = t.Object(
  {
    type: t.String({ examples: ['urn:pipewatch:problem:validation'] }),
    title: t.String({ examples: ['Request body is invalid'] }),
    status: t.Integer({ examples: [422] }),
    detail: t.String({ examples: ['Invalid field(s): /age.'] }),
    errors: t.Optional(t.Array(FieldErrorSchema)),
  },
  { description: 'RFC 9457 problem details (application/problem+json). Names fields and rules, never submitted values.' },
);

export type FieldError = Static<typeof FieldErrorSchema>;
export type Problem = Static<typeof ProblemSchema>;

/** Problem types pipewatch answers with; the slug is stable, clients may branch on it. */
const PROBLEM_TYPES = {
  validation: { status: 422, title: 'Request body is invalid' },
  'malformed-json': { status: 400, title: 'Request body is not valid JSON' },
  'request-timeout': { status: 408, title: 'Request body not received in time' },
  'unsupported-media-type': { status: 415, title: 'Unsupported media type' },
  'payload-too-large': { status: 413, title: 'Request body too large' },
  'not-found': { status: 404, title: 'Not found' },
  'method-not-allowed': { status: 405, title: 'Method not allowed' },
  'queue-unavailable': { status: 503, title: 'Service temporarily unavailable' },
  'not-ready': { status: 503, title: 'Service not ready' },
  internal: { status: 500, title: 'Internal error' },
} as const;

type ProblemKind = keyof typeof PROBLEM_TYPES;

export function problem(kind: ProblemKind, detail: string, errors?: FieldError[]): Problem {
  const { status, title } = PROBLEM_TYPES[kind];
  return { type: `urn:pipewatch:problem:${kind}`, title, status, detail, ...(errors ? { errors } : {}) };
}

/** Thrown anywhere in request handling; the error plugin turns it into its problem response. */
export class ProblemError extends Error {
  constructor(
    readonly kind: ProblemKind,
    detail: string,
    readonly headers: Record<string, string> = {},
    readonly errors?: FieldError[],
  ) {
    super(detail);
  }
}

/** A 422 that names each invalid field and the rule it broke; the detail lists the fields, never values. */
export function invalidFields(errors: FieldError[]): ProblemError {
  return new ProblemError('validation', invalidFieldsDetail(errors), {}, errors);
}

export function invalidFieldsDetail(errors: FieldError[]): string {
  return `Invalid field(s): ${[...new Set(errors.map((e) => e.field || '(body)'))].join(', ')}.`;
}
