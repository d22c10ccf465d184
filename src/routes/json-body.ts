import { ProblemError, invalidFields } from '../http/problem';

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;
const UTF8 = new TextDecoder('utf-8', { fatal: true });
/**
 * Deeper JSON is refused before parsing: a record is flat, and some libraries on the error path
 * (validation messages, serialisers) recurse and overflow the stack at a few thousand levels.
 */
const MAX_JSON_DEPTH = 32;
/** Keys that probe for prototype pollution. JSON.parse makes them own properties, which schema checks may skip. */
const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype'];

/**
 * Reads a JSON object body so that content type (415), size (413) and syntax (400) each get
 * their own clear answer; the route schema then names invalid fields (422). The size limit holds
 * for chunked bodies too: reading stops at the first byte over the limit.
 */
export async function readJsonBody(request: Request, limit: number): Promise<Record<string, unknown>> {
  const type = request.headers.get('content-type');
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit);
  if (type === null || !JSON_TYPE.test(type)) {
    throw new ProblemError('unsupported-media-type', 'Send the body as application/json.');
  }
  // With a content length, Bun frames the body to exactly that many bytes.
  const bytes = await (declared !== null ? request.bytes() : readBounded(request, limit)).catch(cutOff);
  if (bytes.byteLength > limit) throw tooLarge(limit);
  if (bytes.byteLength === 0) throw new ProblemError('malformed-json', 'The request body is empty; send a JSON object.');

  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw new ProblemError('malformed-json', 'The request body is not valid UTF-8.');
  }
  if (nestingExceeds(text, MAX_JSON_DEPTH)) {
    throw new ProblemError('validation', `The body nests deeper than ${MAX_JSON_DEPTH} levels.`, {}, [
      { field: '', rule: `must not nest arrays or objects deeper than ${MAX_JSON_DEPTH} levels` },
    ]);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    if (error instanceof RangeError) throw new ProblemError('malformed-json', 'The request body is nested too deeply.');
    throw new ProblemError('malformed-json', 'The request body is not valid JSON.');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ProblemError('validation', 'The body must be a JSON object.', {}, [{ field: '', rule: 'must be a JSON object' }]);
  }
  for (const key of PROTOTYPE_KEYS) {
    if (Object.hasOwn(body, key)) {
      throw invalidFields([{ field: `/${key}`, rule: 'is not an allowed property' }]);
    }
  }
  return body as Record<string, unknown>;
}

/** True when brackets outside strings nest deeper than `max`. One pass, no allocation. */
function nestingExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

async function readBounded(request: Request, limit: number): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of request.body) {
    total += chunk.byteLength;
    if (total > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/**
 * The connection closed while the body was still arriving: the server's idle timeout cut a slow
 * body (or the client hung up). Nothing reaches the client any more; the 408 is what metrics and
 * the access log record, instead of blaming the JSON.
 */
function cutOff(error: unknown): never {
  if (error instanceof DOMException && error.name === 'AbortError') {
    throw new ProblemError('request-timeout', 'The request body did not arrive before the connection closed.');
  }
  throw error;
}

function tooLarge(limit: number): ProblemError {
  return new ProblemError('payload-too-large', `The body must be at most ${limit} bytes.`);
}
