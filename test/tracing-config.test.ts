import { describe, expect, test } from 'bun:test';
import { ConfigError, loadConfig } from '../src/config';
import { tracingOptions } from '../src/tracing/options';

const options = (env: Record<string, string>) => tracingOptions(loadConfig(env));

describe('OTEL_* settings', () => {
  test('off by default; the OTLP defaults of the specification otherwise', () => {
    const o = options({});
    expect(o.exporter).toBe('none');
    expect(o.url).toBe('http://localhost:4318/v1/traces');
    expect(o.protocol).toBe('http/protobuf');
    expect(o.sampler).toBe('parentbased_always_on');
    expect(o.ratio).toBe(1);
    expect(o.resource).toEqual({ 'service.name': 'pipewatch' });
  });

  test('base endpoint gets /v1/traces, the traces endpoint is used as given', () => {
    expect(options({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).url).toBe('http://collector:4318/v1/traces');
    expect(options({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:1', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://b/custom' }).url).toBe('https://b/custom');
  });

  test('headers and resource attributes are percent-decoded key=value lists; OTEL_SERVICE_NAME wins', () => {
    const o = options({
      OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Bearer%20abc, x-tenant=t1',
      OTEL_RESOURCE_ATTRIBUTES: 'service.name=other,deployment.environment.name=prod%2Deu',
      OTEL_SERVICE_NAME: 'pw',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
    });
    expect(o.headers).toEqual({ authorization: 'Bearer abc', 'x-tenant': 't1' });
    expect(o.resource).toEqual({ 'service.name': 'pw', 'deployment.environment.name': 'prod-eu' });
    expect(o.ratio).toBe(0.1);
  });

  const bad: Array<[Record<string, string>, string]> = [
    [{ OTEL_TRACES_EXPORTER: 'jaeger' }, 'invalid OTEL_TRACES_EXPORTER="jaeger": must be one of none, otlp, console'],
    [{ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'invalid OTEL_EXPORTER_OTLP_PROTOCOL="grpc": must be one of http/protobuf, http/json'],
    [
      { OTEL_TRACES_SAMPLER: 'ratio' },
      'invalid OTEL_TRACES_SAMPLER="ratio": must be one of parentbased_always_on, parentbased_always_off, parentbased_traceidratio, always_on, always_off, traceidratio',
    ],
    [{ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' }, 'invalid OTEL_TRACES_SAMPLER_ARG="1.5": must be a number from 0 to 1'],
    [
      { OTEL_TRACES_SAMPLER_ARG: '0.5' },
      'invalid OTEL_TRACES_SAMPLER_ARG: only used by the traceidratio samplers, but OTEL_TRACES_SAMPLER=parentbased_always_on',
    ],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'invalid OTEL_EXPORTER_OTLP_ENDPOINT="collector:4318": must be an http:// or https:// URL'],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' }, 'invalid OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="not a url": must be an http:// or https:// URL'],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://user:pw@collector' },
      'invalid OTEL_EXPORTER_OTLP_ENDPOINT: must not hold credentials (put them in OTEL_EXPORTER_OTLP_HEADERS)',
    ],
    [{ OTEL_RESOURCE_ATTRIBUTES: 'novalue' }, 'invalid OTEL_RESOURCE_ATTRIBUTES: "novalue" must be key=value with a key of letters, digits or . _ -'],
    [{ OTEL_EXPORTER_OTLP_TIMEOUT: '5s' }, 'invalid OTEL_EXPORTER_OTLP_TIMEOUT="5s": must be an integer from 100 to 120000'],
  ];
  for (const [env, message] of bad) {
    test(`${JSON.stringify(env)} -> ${message}`, () => {
      expect(() => loadConfig(env)).toThrow(new ConfigError(message));
    });
  }

  test('a malformed header list is named without quoting the header (it holds credentials)', () => {
    for (const headers of ['Authorization Bearer s3cret', 'Authorization=Bearer%zzs3cret']) {
      let message = '';
      try {
        loadConfig({ OTEL_EXPORTER_OTLP_HEADERS: headers });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toStartWith('invalid OTEL_EXPORTER_OTLP_HEADERS: entry 1 ');
      expect(message).not.toContain('s3cret');
    }
  });

  test('a real process with a bad OTEL value exits 1 with one line', async () => {
    const proc = Bun.spawn(['bun', 'src/main.ts'], {
      env: { ...process.env, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', QUEUE_DRIVER: 'memory', PORT: '0' },
      stdout: 'pipe',
      stderr: 'pipe',
    });
    expect(await proc.exited).toBe(1);
    expect((await new Response(proc.stderr).text()).trim()).toBe(
      'pipewatch: invalid OTEL_EXPORTER_OTLP_PROTOCOL="grpc": must be one of http/protobuf, http/json',
    );
  });
});
