import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Server } from 'bun';
import { listen } from '../src/server';
import { buildTestApp, postJson, type TestApp } from './support/http-app';

/** Submitted values carry this marker; no response may contain it. */
const M = 'Zq7xMarker';

interface Case {
  name: string;
  body: string | Uint8Array;
  contentType?: string | null;
  status: number;
  type: string;
  /** Fields the 422 must name. */
  fields?: string[];
}

const J = 'application/json';
const rec = (patch: Record<string, unknown>) => JSON.stringify({ name: `${M} Kumar`, age: 32, city: `${M}pur`, ...patch });

const CORPUS: Case[] = [
  // Truncated / malformed JSON -> 400
  ...[
    '{',
    `{"name":"${M}`,
    `{"name":"${M}","age":3`,
    `{"name":"${M}","age":32,"city":"${M}"`,
    '{"name"',
    '{"name":}',
    "{'name':'x'}",
    '{name:"x"}',
    `{"name":"${M}",}`,
    '   ',
    'undefined',
  ].map((body): Case => ({ name: `malformed ${JSON.stringify(body).slice(0, 30)}`, body, status: 400, type: 'malformed-json' })),
  // A byte-order mark is allowed (RFC 8259 lets parsers ignore it): what follows is judged.
  { name: 'BOM then {}', body: '\ufeff{}', status: 422, type: 'validation', fields: ['/name', '/age', '/city'] },
  { name: 'empty body', body: '', status: 400, type: 'malformed-json' },
  { name: 'invalid UTF-8', body: new Uint8Array([0x7b, 0x22, 0x6e, 0xff, 0xfe, 0x22, 0x7d]), status: 400, type: 'malformed-json' },
  // NaN / Infinity are not JSON; 1e999 is JSON but not an integer in range
  { name: 'NaN', body: `{"name":"${M}","age":NaN,"city":"x"}`, status: 400, type: 'malformed-json' },
  { name: 'Infinity', body: `{"name":"${M}","age":Infinity,"city":"x"}`, status: 400, type: 'malformed-json' },
  { name: '-Infinity', body: `{"name":"${M}","age":-Infinity,"city":"x"}`, status: 400, type: 'malformed-json' },
  // biome-ignore lint/correctness/noPrecisionLoss: an overflowing literal on purpose (JSON.stringify writes it as null, replaced back)
  { name: '1e999', body: rec({ age: 1e999 }).replace('null', '1e999'), status: 422, type: 'validation', fields: ['/age'] },
  // Not an object
  ...['[]', `[{"name":"${M}","age":32,"city":"x"}]`, 'null', `"${M}"`, '42', 'true'].map(
    (body): Case => ({ name: `root ${body.slice(0, 20)}`, body, status: 422, type: 'validation', fields: [''] }),
  ),
  // Wrong types
  { name: 'age as string', body: rec({ age: '32' }), status: 422, type: 'validation', fields: ['/age'] },
  { name: 'age as hex string', body: rec({ age: '0x20' }), status: 422, type: 'validation', fields: ['/age'] },
  { name: 'age fractional', body: rec({ age: 32.5 }), status: 422, type: 'validation', fields: ['/age'] },
  { name: 'age negative', body: rec({ age: -1 }), status: 422, type: 'validation', fields: ['/age'] },
  { name: 'age too high', body: rec({ age: 131 }), status: 422, type: 'validation', fields: ['/age'] },
  { name: 'age boolean', body: rec({ age: true }), status: 422, type: 'validation', fields: ['/age'] },
  { name: 'age null', body: rec({ age: null }), status: 422, type: 'validation', fields: ['/age'] },
  { name: 'name number', body: rec({ name: 12345 }), status: 422, type: 'validation', fields: ['/name'] },
  { name: 'name array', body: rec({ name: [M] }), status: 422, type: 'validation', fields: ['/name'] },
  { name: 'city object', body: rec({ city: { v: M } }), status: 422, type: 'validation', fields: ['/city'] },
  { name: 'everything wrong', body: JSON.stringify({ name: 1, age: 'x', city: null }), status: 422, type: 'validation', fields: ['/name', '/age', '/city'] },
  // Text rules
  { name: 'empty name', body: rec({ name: '' }), status: 422, type: 'validation', fields: ['/name'] },
  { name: 'untrimmed name', body: rec({ name: ` ${M}` }), status: 422, type: 'validation', fields: ['/name'] },
  { name: 'white-space city', body: rec({ city: '   ' }), status: 422, type: 'validation', fields: ['/city'] },
  { name: 'newline in name', body: rec({ name: `${M}\nx` }), status: 422, type: 'validation', fields: ['/name'] },
  { name: 'NUL in city', body: rec({ city: `${M}\u0000` }), status: 422, type: 'validation', fields: ['/city'] },
  { name: 'lone surrogate', body: `{"name":"${M}\\ud800","age":32,"city":"x"}`, status: 422, type: 'validation', fields: ['/name'] },
  { name: 'huge string (10 000 chars)', body: rec({ name: M.repeat(1000) }), status: 422, type: 'validation', fields: ['/name'] },
  // Missing / extra properties
  { name: 'missing age', body: JSON.stringify({ name: M, city: M }), status: 422, type: 'validation', fields: ['/age'] },
  { name: 'empty object', body: '{}', status: 422, type: 'validation', fields: ['/name', '/age', '/city'] },
  { name: 'extra property (its name is not echoed)', body: rec({ [`${M}Key`]: 1 }), status: 422, type: 'validation', fields: [''] },
  { name: '__proto__ key', body: `{"__proto__":{"isAdmin":true},"name":"${M}","age":32,"city":"x"}`, status: 422, type: 'validation', fields: ['/__proto__'] },
  { name: 'constructor key', body: rec({ constructor: { prototype: { x: M } } }), status: 422, type: 'validation', fields: ['/constructor'] },
  { name: 'nested __proto__', body: `{"name":{"__proto__":{"x":"${M}"}},"age":32,"city":"x"}`, status: 422, type: 'validation', fields: ['/name'] },
  // Deep nesting (within the 16 KiB limit): refused before parsing beyond 32 levels
  { name: 'deep arrays', body: '['.repeat(8000) + ']'.repeat(8000), status: 422, type: 'validation', fields: [''] },
  { name: 'deep objects', body: `${'{"a":'.repeat(2700)}"${M}"${'}'.repeat(2700)}`, status: 422, type: 'validation', fields: [''] },
  { name: 'deep value', body: `{"name":${'['.repeat(5000)}${']'.repeat(5000)},"age":32,"city":"x"}`, status: 422, type: 'validation', fields: [''] },
  {
    name: 'deep value, brackets in strings do not count',
    body: `{"name":"${'['.repeat(200)}","age":32,"city":{"a":{"b":"${M}"}}}`,
    status: 422,
    type: 'validation',
    fields: ['/name', '/city'],
  },
  { name: 'unbalanced closing brackets', body: `{"name":"${M}"}]]]]`, status: 400, type: 'malformed-json' },
  // Content type
  { name: 'text/plain', body: rec({}), contentType: 'text/plain', status: 415, type: 'unsupported-media-type' },
  { name: 'missing content type', body: rec({}), contentType: null, status: 415, type: 'unsupported-media-type' },
  { name: 'form encoded', body: `name=${M}&age=32&city=x`, contentType: 'application/x-www-form-urlencoded', status: 415, type: 'unsupported-media-type' },
  {
    name: 'multipart',
    body: `--b\r\ncontent-disposition: form-data; name="name"\r\n\r\n${M}\r\n--b--`,
    contentType: 'multipart/form-data; boundary=b',
    status: 415,
    type: 'unsupported-media-type',
  },
  { name: 'application/jsonx', body: rec({}), contentType: 'application/jsonx', status: 415, type: 'unsupported-media-type' },
  // Size (content-length path; the chunked path needs a real socket, below)
  { name: 'over the limit', body: rec({ name: M.repeat(2000) }), status: 413, type: 'payload-too-large' },
];

let t: TestApp;
beforeAll(() => {
  t = buildTestApp();
});
afterAll(() => t.close());

async function send(c: Case): Promise<Response> {
  const headers: Record<string, string> = {};
  const type = c.contentType === undefined ? J : c.contentType;
  if (type !== null) headers['content-type'] = type;
  return t.request('/submit_data', { method: 'POST', headers, body: c.body });
}

describe('bad input corpus on POST /submit_data', () => {
  for (const c of CORPUS) {
    test(`${c.name} -> ${c.status} ${c.type}`, async () => {
      const res = await send(c);
      const text = await res.text();
      expect(res.status).toBe(c.status);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      const problem = JSON.parse(text) as { type: string; title: string; status: number; detail: string; errors?: Array<{ field: string; rule: string }> };
      expect(problem).toMatchObject({ type: `urn:pipewatch:problem:${c.type}`, status: c.status });
      expect(problem.title.length).toBeGreaterThan(0);
      expect(problem.detail.length).toBeGreaterThan(0);
      if (c.fields) expect([...new Set(problem.errors?.map((e) => e.field))].sort()).toEqual([...c.fields].sort());
      for (const e of problem.errors ?? []) expect(e.rule.length).toBeGreaterThan(0);
      // Never the submitted values, not even in part.
      expect(text).not.toContain(M);
      expect(text).not.toContain('isAdmin');
    });
  }

  test('400 vs 422 vs 415 vs 413 bodies name the problem, not the data', async () => {
    const res = await postJson(t, { name: 'Ravi', age: 'thirty-two', city: 'Delhi' });
    expect(await res.json()).toEqual({
      type: 'urn:pipewatch:problem:validation',
      title: 'Request body is invalid',
      status: 422,
      detail: 'Invalid field(s): /age.',
      errors: [{ field: '/age', rule: 'must be an integer from 0 to 130' }],
    });
  });

  test('500 random mutations of a valid record never produce a 5xx', async () => {
    const seed = rec({});
    let seedValue = 42;
    const rand = (n: number) => {
      seedValue = (seedValue * 1103515245 + 12345) % 2 ** 31;
      return seedValue % n;
    };
    const alphabet = '{}[]":,\\ 0123456789-+.eE\u0000\n\ttruefalsnul\u00e9\u0900\ud800';
    const seen = new Map<number, number>();
    for (let i = 0; i < 500; i++) {
      const chars = [...seed];
      for (let k = 0, n = 1 + rand(4); k < n; k++) {
        const at = rand(chars.length + 1);
        const op = rand(3);
        if (op === 0) chars.splice(at, 1);
        else if (op === 1) chars.splice(at, 0, alphabet[rand(alphabet.length)]!);
        else chars.splice(at, 1, alphabet[rand(alphabet.length)]!);
      }
      const res = await send({ name: 'fuzz', body: chars.join(''), status: 0, type: '' });
      seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
      expect(res.status).toBeLessThan(500);
      if (res.status !== 202) expect(await res.text()).not.toContain(M);
    }
    expect([...seen.keys()].every((s) => [202, 400, 422].includes(s))).toBe(true);
  });
});

describe('routes and methods', () => {
  test('unknown paths are 404 problem+json, however odd', async () => {
    for (const path of [
      '/nope',
      '/submit_data/extra',
      '/SUBMIT_DATA',
      '/%00',
      '/..%2f..%2fetc%2fpasswd',
      `/${'a'.repeat(4000)}`,
      '/submissions',
      '/docs/assets/',
      '/metrics/x',
    ]) {
      const res = await t.request(path);
      expect({ path: path.slice(0, 40), status: res.status }).toEqual({ path: path.slice(0, 40), status: 404 });
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect((await res.json()) as object).toMatchObject({ type: 'urn:pipewatch:problem:not-found' });
    }
  });

  test('a known path with the wrong method is 405 with Allow', async () => {
    for (const [method, path, allow] of [
      ['GET', '/submit_data', 'POST'],
      ['PUT', '/submit_data', 'POST'],
      ['DELETE', '/submit_data', 'POST'],
      ['PATCH', '/submit_data', 'POST'],
      ['OPTIONS', '/submit_data', 'POST'],
      ['POST', '/healthz', 'GET, HEAD'],
      ['DELETE', '/submissions/abc', 'GET, HEAD'],
      ['POST', '/metrics', 'GET, HEAD'],
      ['PROPFIND', '/readyz', 'GET, HEAD'],
    ] as const) {
      const res = await t.request(path, { method });
      expect({ method, path, status: res.status, allow: res.headers.get('allow') }).toEqual({ method, path, status: 405, allow });
      expect(res.headers.get('content-type')).toBe('application/problem+json');
    }
  });
});

describe('body limit on a real socket', () => {
  let server: Server<undefined>;
  let real: TestApp;
  beforeAll(() => {
    real = buildTestApp({ bodyLimitBytes: 1024 });
    server = listen(real.app, { hostname: '127.0.0.1', port: 0, bodyLimitBytes: 1024 });
  });
  afterAll(async () => {
    await server.stop(true);
    await real.close();
  });

  const big = (bytes: number) => `{"name":"${M.repeat(Math.ceil(bytes / M.length))}","age":32,"city":"x"}`;

  test('over the limit with a content-length: 413 problem+json, before the body is read', async () => {
    const res = await fetch(`http://127.0.0.1:${server.port}/submit_data`, { method: 'POST', headers: { 'content-type': J }, body: big(5000) });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.text()).not.toContain(M);
  });

  for (const total of [5000, 8_000_000]) {
    test(`over the limit, chunked (${total} bytes, no content-length): 413 problem+json`, async () => {
      const chunk = new TextEncoder().encode(big(16 * 1024));
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent >= total) return controller.close();
          sent += chunk.byteLength;
          controller.enqueue(chunk);
        },
      });
      const res = await fetch(`http://127.0.0.1:${server.port}/submit_data`, { method: 'POST', headers: { 'content-type': J }, body });
      expect(res.status).toBe(413);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(await res.text()).not.toContain(M);
    });
  }

  test('a chunked body within the limit is accepted; the server still serves afterwards', async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const part of ['{"name":"Ravi",', '"age":32,', '"city":"Delhi"}']) controller.enqueue(new TextEncoder().encode(part));
        controller.close();
      },
    });
    const res = await fetch(`http://127.0.0.1:${server.port}/submit_data`, { method: 'POST', headers: { 'content-type': J }, body });
    expect(res.status).toBe(202);
    expect((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status).toBe(200);
  });
});
