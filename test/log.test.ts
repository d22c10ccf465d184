import { describe, expect, test } from 'bun:test';
import { Writable } from 'node:stream';
import { accessLogger, createLogger, type LogLevel } from '../src/log';

function capture(level: LogLevel) {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { log: createLogger(level, sink), lines, settled: () => new Promise((resolve) => setImmediate(resolve)) };
}

describe('access log line', () => {
  test('is the line pino itself writes for the same fields: keys, order, level, bindings', async () => {
    const { log, lines, settled } = capture('info');
    const fields = { method: 'POST', route: '/submissions/:id', status: 202, duration_ms: 0.412, request_id: 'req-1.a:b_c' };
    log.info(fields, 'request');
    accessLogger(log)({ method: fields.method, route: fields.route, status: fields.status, durationMs: fields.duration_ms, requestId: fields.request_id });
    const child = log.child({ component: 'api' });
    child.info(fields, 'request');
    accessLogger(child)({ method: 'GET', route: '__unmatched__', status: 404, durationMs: 12, requestId: 'x' });
    await settled();
    expect(lines).toHaveLength(4);
    const withoutTime = (line: string) => line.replace(/"time":"[^"]+"/, '"time":""');
    expect(withoutTime(lines[1]!)).toBe(withoutTime(lines[0]!));
    expect(Object.keys(JSON.parse(lines[3]!))).toEqual(Object.keys(JSON.parse(lines[2]!)));
    expect(JSON.parse(lines[3]!)).toMatchObject({
      level: 'info',
      service: 'pipewatch',
      component: 'api',
      route: '__unmatched__',
      status: 404,
      duration_ms: 12,
    });
    expect(Date.parse(JSON.parse(lines[1]!).time)).toBeGreaterThan(Date.now() - 60_000);
  });

  test('follows the logger level, also when it changes at run time', async () => {
    const { log, lines, settled } = capture('warn');
    const access = accessLogger(log);
    const line = { method: 'GET', route: '/healthz', status: 200, durationMs: 0.1, requestId: 'r' };
    access(line);
    log.level = 'info';
    access(line);
    log.level = 'silent';
    access(line);
    await settled();
    expect(lines).toHaveLength(1);
  });
});
