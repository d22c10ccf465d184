import { afterAll, describe, expect, test } from 'bun:test';
import { buildTestApp, postJson } from './support/http-app';

const t = buildTestApp();
afterAll(() => t.close());

const SEED = { name: 'Ravi', age: 32, city: 'Delhi' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('POST /submit_data', () => {
  test('accepts the seed record with 202, {id, status} and a Location to its status', async () => {
    const res = await postJson(t, SEED);
    expect(res.status).toBe(202);
    expect(res.headers.get('content-type')).toStartWith('application/json');
    const body = (await res.json()) as { id: string; status: string };
    expect(body).toEqual({ id: expect.stringMatching(UUID), status: 'queued' });
    expect(res.headers.get('location')).toBe(`/submissions/${body.id}`);
  });

  test('accepts Devanagari and Tamil names and cities, and boundary ages', async () => {
    for (const record of [
      { name: 'रवि कुमार', age: 0, city: 'दिल्ली' },
      { name: 'சுப்பிரமணியன்', age: 130, city: 'சென்னை' },
      { name: 'ਗੁਰਪ੍ਰੀਤ ਸਿੰਘ', age: 45, city: 'ਅੰਮ੍ਰਿਤਸਰ' },
      { name: "Anne-Marie O'Neil", age: 1, city: 'Saint-Étienne' },
      { name: 'x'.repeat(100), age: 99, city: 'y' },
    ]) {
      const res = await postJson(t, record);
      expect({ record, status: res.status }).toEqual({ record, status: 202 });
    }
  });

  test('accepts a JSON content type with parameters', async () => {
    expect((await postJson(t, SEED, { 'content-type': 'application/json; charset=utf-8' })).status).toBe(202);
    expect((await postJson(t, SEED, { 'content-type': 'Application/JSON' })).status).toBe(202);
  });
});

describe('GET /submissions/{id}', () => {
  test('reports the processing status of an accepted submission until it finishes', async () => {
    const { id } = (await (await postJson(t, SEED)).json()) as { id: string };
    let status: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) {
      const res = await t.request(`/submissions/${id}`);
      expect(res.status).toBe(200);
      status = (await res.json()) as Record<string, unknown>;
      expect(['queued', 'processing', 'succeeded', 'failed']).toContain(status.status as string);
      if (status.status === 'succeeded') break;
      await Bun.sleep(20);
    }
    expect(status).toMatchObject({ id, status: 'succeeded', attempts: 1, nextAttemptAt: null, lastError: null });
    for (const key of ['createdAt', 'updatedAt', 'finishedAt']) expect(Number.isNaN(Date.parse(status[key] as string))).toBe(false);
    // The status resource holds no personal data.
    expect(JSON.stringify(status)).not.toContain('Ravi');
    expect(JSON.stringify(status)).not.toContain('Delhi');
  });

  test('answers 404 problem+json for unknown, malformed and overlong ids', async () => {
    for (const id of ['0193a5c2-7d1e-7cc4-9a53-2f4e0c8b1f10', 'abc', 'x'.repeat(5000), encodeURIComponent("' OR 1=1 --")]) {
      const res = await t.request(`/submissions/${id}`);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      const text = await res.text();
      expect(JSON.parse(text)).toMatchObject({ type: 'urn:pipewatch:problem:not-found', status: 404 });
      expect(text).not.toContain(id.slice(0, 20));
    }
  });
});

describe('health', () => {
  test('/healthz is 200 always; /readyz is 200 when ready and 503 while starting or draining', async () => {
    expect(await (await t.request('/healthz')).json()).toEqual({ status: 'ok' });
    expect((await t.request('/readyz')).status).toBe(200);
    t.state.ready = false;
    const starting = await t.request('/readyz');
    expect(starting.status).toBe(503);
    expect(await starting.json()).toEqual({ status: 'starting' });
    t.state.draining = true;
    const draining = await t.request('/readyz');
    expect(draining.status).toBe(503);
    expect(await draining.json()).toEqual({ status: 'draining' });
    // While draining every response asks keep-alive clients to reconnect; liveness stays 200.
    const live = await t.request('/healthz');
    expect(live.status).toBe(200);
    expect(live.headers.get('connection')).toBe('close');
    expect((await postJson(t, SEED)).headers.get('connection')).toBe('close');
    t.state.ready = true;
    t.state.draining = false;
    expect((await t.request('/healthz')).headers.get('connection')).toBeNull();
  });
});

describe('request ids', () => {
  test('an incoming x-request-id is honoured and echoed, on success and on errors', async () => {
    for (const [path, init] of [
      ['/healthz', {}],
      ['/submit_data', { method: 'POST', body: '{', headers: { 'content-type': 'application/json' } }],
      ['/no/such/route', {}],
    ] as const) {
      const res = await t.request(path, { ...init, headers: { ...(init as { headers?: Record<string, string> }).headers, 'x-request-id': 'req-42.a:b_c' } });
      expect(res.headers.get('x-request-id')).toBe('req-42.a:b_c');
    }
  });

  test('one is generated when missing or unusable (too long, odd characters), and logged with the request', async () => {
    const ids = new Set<string>();
    for (const incoming of [undefined, 'x'.repeat(200), 'has space', '<script>', '']) {
      const res = await t.request('/healthz', { headers: incoming === undefined ? {} : { 'x-request-id': incoming } });
      const id = res.headers.get('x-request-id') ?? '';
      expect(id).toMatch(UUID);
      ids.add(id);
    }
    expect(ids.size).toBe(5);
    await Bun.sleep(5);
    const logged = t.logs.filter((l) => l.msg === 'request').map((l) => l.request_id);
    for (const id of ids) expect(logged).toContain(id);
  });
});

describe('OpenAPI and Swagger UI', () => {
  test('/docs/json documents every route with its schemas and examples', async () => {
    const res = await t.request('/docs/json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as any;
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths).sort()).toEqual(['/healthz', '/metrics', '/readyz', '/submissions/{id}', '/submit_data']);
    const post = doc.paths['/submit_data'].post;
    const schema = post.requestBody.content['application/json'].schema;
    expect(schema).toMatchObject({ type: 'object', additionalProperties: false, required: ['name', 'age', 'city'] });
    expect(schema.properties.age).toMatchObject({ type: 'integer', minimum: 0, maximum: 130 });
    expect(schema.properties.age.anyOf).toBeUndefined(); // not Elysia's string-coercing t.Integer
    expect(schema.examples).toEqual([SEED]);
    expect(Object.keys(post.responses).sort()).toEqual(['202', '400', '413', '415', '422', '503']);
    expect(doc.paths['/submissions/{id}'].get.parameters[0]).toMatchObject({ name: 'id', in: 'path' });
    // One name for one thing: both answers call the job's state `status`, with the same four values.
    const accepted = post.responses['202'].content['application/json'].schema;
    const resource = doc.paths['/submissions/{id}'].get.responses['200'].content['application/json'].schema;
    expect(resource.properties.state).toBeUndefined();
    expect(resource.properties.status).toEqual(accepted.properties.status);
    expect(resource.properties.status.enum).toEqual(['queued', 'processing', 'succeeded', 'failed']);
  });

  test("/docs is Swagger UI loading only this service's own assets", async () => {
    const res = await t.request('/docs');
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('SwaggerUIBundle');
    expect(html).not.toMatch(/https?:\/\//); // no CDN, no external host of any kind
    expect(html).toContain('"validatorUrl":null');
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.sort()).toEqual(['/docs/assets/swagger-ui-bundle.js', '/docs/assets/swagger-ui.css']);
    for (const asset of assets) {
      const a = await t.request(asset);
      expect(a.status).toBe(200);
      expect((await a.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    }
    expect((await t.request('/docs/assets/swagger-ui-bundle.js')).headers.get('content-type')).toStartWith('text/javascript');
    expect((await t.request('/docs/assets/../../package.json')).status).toBe(404);
    expect((await t.request('/docs/assets/nope.js')).status).toBe(404);
  });
});

describe('/metrics', () => {
  test('serves the Prometheus text format; not at all when a separate metrics port serves it', async () => {
    const res = await t.request('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toStartWith('text/plain; version=0.0.4');
    expect(await res.text()).toContain('# TYPE http_requests_total counter');
    const apiOnly = buildTestApp({ serveMetrics: false });
    expect((await apiOnly.request('/metrics')).status).toBe(404);
    await apiOnly.close();
  });
});

describe('hot path', () => {
  test('string formats are checked by lean regexes, not the zod/valibot checks @elysiajs/openapi installs', async () => {
    const { FormatRegistry } = await import('@sinclair/typebox');
    const { LEAN_FORMATS } = await import('../src/http/formats');
    for (const [name, check] of Object.entries(LEAN_FORMATS)) expect(FormatRegistry.Get(name)).toBe(check);
    expect(LEAN_FORMATS.uuid!('0193a5c2-7d1e-7cc4-9a53-2f4e0c8b1f10')).toBe(true);
    expect(LEAN_FORMATS.uuid!('0193a5c2-7d1e-7cc4-9a53-2f4e0c8b1f1')).toBe(false);
    expect(LEAN_FORMATS['date-time']!(new Date().toISOString())).toBe(true);
    expect(LEAN_FORMATS['date-time']!('2026-13-45T99:00:00Z')).toBe(false);
  });
});
