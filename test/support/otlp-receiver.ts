/**
 * A test OTLP/HTTP trace receiver on a loopback port: `POST /v1/traces` with protobuf
 * (`application/x-protobuf`) or JSON bodies, decoded into one flat span shape for assertions.
 * The protobuf decoder reads the wire format of opentelemetry-proto's ExportTraceServiceRequest
 * (trace/v1/trace.proto, common/v1/common.proto), only the fields tests look at. Every raw body
 * is kept too, so a test can search the exact bytes the service sent.
 */

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, unknown>;
  events: Array<{ name: string; attributes: Record<string, unknown> }>;
  links: Array<{ traceId: string; spanId: string; attributes: Record<string, unknown> }>;
  /** OTLP StatusCode: 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string };
  resource: Record<string, unknown>;
  scope: string;
}

export const SPAN_KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

export interface OtlpReceiver {
  url: string;
  spans: ReceivedSpan[];
  /** Every request body as received (protobuf or JSON bytes). */
  bodies: Uint8Array[];
  contentTypes: string[];
  headers: Headers[];
  /** Answer the next `n` export requests with 503 (the exporter should retry). */
  failNext(n: number): void;
  /** Resolves once `predicate` holds for the spans received so far, or rejects after `timeoutMs`. */
  waitFor(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  stop(): void;
}

export function startOtlpReceiver(): OtlpReceiver {
  const spans: ReceivedSpan[] = [];
  const bodies: Uint8Array[] = [];
  const contentTypes: string[] = [];
  const headers: Headers[] = [];
  let failures = 0;
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request) {
      if (request.method !== 'POST' || new URL(request.url).pathname !== '/v1/traces') return new Response('not found', { status: 404 });
      const body = new Uint8Array(await request.arrayBuffer());
      const type = request.headers.get('content-type') ?? '';
      bodies.push(body);
      contentTypes.push(type);
      headers.push(request.headers);
      if (failures > 0) {
        failures--;
        return new Response('try again', { status: 503 });
      }
      if (type.startsWith('application/json')) {
        spans.push(...fromJson(JSON.parse(new TextDecoder().decode(body))));
        return Response.json({});
      }
      spans.push(...fromProtobuf(body));
      return new Response(new Uint8Array(0), { headers: { 'content-type': 'application/x-protobuf' } });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    spans,
    bodies,
    contentTypes,
    headers,
    failNext: (n) => void (failures = n),
    async waitFor(predicate, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(spans)) {
        if (Date.now() > deadline)
          throw new Error(`OTLP receiver: condition not met within ${timeoutMs} ms (${spans.length} spans: ${spans.map((s) => s.name).join(', ')})`);
        await Bun.sleep(50);
      }
      return spans;
    },
    stop: () => void server.stop(true),
  };
}

// ---------- protobuf wire format ----------

type Field = { no: number; wire: number; value: bigint | Uint8Array };

function* fields(buf: Uint8Array): Generator<Field> {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buf[pos++];
      if (byte === undefined) throw new Error('truncated varint');
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const no = key >>> 3;
    const wire = key & 7;
    if (wire === 0) yield { no, wire, value: varint() };
    else if (wire === 1) {
      yield { no, wire, value: view.getBigUint64(pos, true) };
      pos += 8;
    } else if (wire === 2) {
      const len = Number(varint());
      yield { no, wire, value: buf.subarray(pos, pos + len) };
      pos += len;
    } else if (wire === 5) {
      yield { no, wire, value: BigInt(view.getUint32(pos, true)) };
      pos += 4;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function anyValue(buf: Uint8Array): unknown {
  for (const f of fields(buf)) {
    if (f.no === 1) return text(f.value as Uint8Array);
    if (f.no === 2) return f.value !== 0n;
    if (f.no === 3) return Number(BigInt.asIntN(64, f.value as bigint));
    if (f.no === 4) {
      const d = new DataView(new ArrayBuffer(8));
      d.setBigUint64(0, f.value as bigint, true);
      return d.getFloat64(0, true);
    }
    if (f.no === 5) return [...fields(f.value as Uint8Array)].filter((v) => v.no === 1).map((v) => anyValue(v.value as Uint8Array));
    if (f.no === 7) return hex(f.value as Uint8Array);
  }
  return undefined;
}

function keyValue(buf: Uint8Array, into: Record<string, unknown>): void {
  let key = '';
  let value: unknown;
  for (const f of fields(buf)) {
    if (f.no === 1) key = text(f.value as Uint8Array);
    if (f.no === 2) value = anyValue(f.value as Uint8Array);
  }
  into[key] = value;
}

function fromProtobuf(body: Uint8Array): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of fields(body)) {
    if (rs.no !== 1) continue;
    const resource: Record<string, unknown> = {};
    const scopes: Uint8Array[] = [];
    for (const f of fields(rs.value as Uint8Array)) {
      if (f.no === 1) for (const a of fields(f.value as Uint8Array)) if (a.no === 1) keyValue(a.value as Uint8Array, resource);
      if (f.no === 2) scopes.push(f.value as Uint8Array);
    }
    for (const ss of scopes) {
      let scope = '';
      for (const f of fields(ss)) {
        if (f.no === 1) for (const s of fields(f.value as Uint8Array)) if (s.no === 1) scope = text(s.value as Uint8Array);
        if (f.no === 2) out.push({ ...protobufSpan(f.value as Uint8Array), resource, scope });
      }
    }
  }
  return out;
}

function protobufSpan(buf: Uint8Array): Omit<ReceivedSpan, 'resource' | 'scope'> {
  const span: Omit<ReceivedSpan, 'resource' | 'scope'> = {
    traceId: '',
    spanId: '',
    parentSpanId: '',
    traceState: '',
    name: '',
    kind: 0,
    startNs: 0n,
    endNs: 0n,
    attributes: {},
    events: [],
    links: [],
    status: { code: 0, message: '' },
  };
  for (const f of fields(buf)) {
    const b = f.value as Uint8Array;
    switch (f.no) {
      case 1:
        span.traceId = hex(b);
        break;
      case 2:
        span.spanId = hex(b);
        break;
      case 3:
        span.traceState = text(b);
        break;
      case 4:
        span.parentSpanId = hex(b);
        break;
      case 5:
        span.name = text(b);
        break;
      case 6:
        span.kind = Number(f.value);
        break;
      case 7:
        span.startNs = f.value as bigint;
        break;
      case 8:
        span.endNs = f.value as bigint;
        break;
      case 9:
        keyValue(b, span.attributes);
        break;
      case 11: {
        const event = { name: '', attributes: {} as Record<string, unknown> };
        for (const e of fields(b)) {
          if (e.no === 2) event.name = text(e.value as Uint8Array);
          if (e.no === 3) keyValue(e.value as Uint8Array, event.attributes);
        }
        span.events.push(event);
        break;
      }
      case 13: {
        const link = { traceId: '', spanId: '', attributes: {} as Record<string, unknown> };
        for (const l of fields(b)) {
          if (l.no === 1) link.traceId = hex(l.value as Uint8Array);
          if (l.no === 2) link.spanId = hex(l.value as Uint8Array);
          if (l.no === 4) keyValue(l.value as Uint8Array, link.attributes);
        }
        span.links.push(link);
        break;
      }
      case 15:
        for (const s of fields(b)) {
          if (s.no === 2) span.status.message = text(s.value as Uint8Array);
          if (s.no === 3) span.status.code = Number(s.value);
        }
        break;
    }
  }
  return span;
}

// ---------- OTLP JSON ----------

type JsonAny = {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: JsonAny[] };
  bytesValue?: string;
};
type JsonKv = { key: string; value: JsonAny };

function jsonValue(v: JsonAny): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(jsonValue);
  return v.bytesValue;
}

const jsonAttributes = (kvs: JsonKv[] | undefined) => Object.fromEntries((kvs ?? []).map((kv) => [kv.key, jsonValue(kv.value)]));

function fromJson(body: { resourceSpans?: any[] }): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const resource = jsonAttributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? '',
          traceState: s.traceState ?? '',
          name: s.name,
          kind: s.kind,
          startNs: BigInt(s.startTimeUnixNano),
          endNs: BigInt(s.endTimeUnixNano),
          attributes: jsonAttributes(s.attributes),
          events: (s.events ?? []).map((e: any) => ({ name: e.name, attributes: jsonAttributes(e.attributes) })),
          links: (s.links ?? []).map((l: any) => ({ traceId: l.traceId, spanId: l.spanId, attributes: jsonAttributes(l.attributes) })),
          status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
          resource,
          scope: ss.scope?.name ?? '',
        });
      }
    }
  }
  return out;
}
