import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { listen } from '../src/server';
import { buildTestApp, sampleValue, type TestApp } from './support/http-app';
import { removeDataDir, startService, type RunningService } from './support/service';

/** Writes raw bytes on a fresh connection; resolves with everything read until the server closes (or `ms`). */
function rawExchange(port: number, bytes: string, ms = 2_000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => resolve({ text, closed: false }), ms);
    Bun.connect({
      hostname: '127.0.0.1',
      port,
      socket: {
        open: (socket) => void socket.write(bytes),
        data: (_socket, chunk) => void (text += chunk.toString()),
        close: () => {
          clearTimeout(timer);
          resolve({ text, closed: true });
        },
        error: (_socket, error) => reject(error),
      },
    }).catch(reject);
  });
}

const RECORD = '{"name":"Ravi","age":32,"city":"Delhi"}';
const post = (headers = '') =>
  `POST /submit_data HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${RECORD.length}\r\n${headers}\r\n${RECORD}`;

describe('input that once yielded a 5xx', () => {
  let t: TestApp;
  beforeAll(() => {
    t = buildTestApp();
  });
  afterAll(() => t.close());

  test('documentation assets named like Object.prototype members are 404, not 500', async () => {
    for (const name of ['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', '__defineGetter__']) {
      const res = await t.request(`/docs/assets/${name}`);
      expect({ name, status: res.status }).toEqual({ name, status: 404 });
      expect(((await res.json()) as { type: string }).type).toBe('urn:pipewatch:problem:not-found');
    }
  });
});

describe('on a real process', () => {
  let service: RunningService;
  beforeAll(async () => {
    service = await startService({ env: { QUEUE_DRIVER: 'memory', PROCESSING_DELAY_MIN_MS: '0', PROCESSING_DELAY_MAX_MS: '1' } });
  });
  afterAll(async () => {
    await service.stop('SIGKILL');
    removeDataDir(service.dataDir);
  });
  const metric = async (series: string) => {
    const text = await (await fetch(`${service.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line ? Number(line.slice(series.length + 1)) : 0;
  };

  // Upstream behaviour (Bun 1.4.5's uWS parser answers before any JavaScript runs): when this
  // test fails, Bun changed; update the README's operations section and map them to 400 if possible.
  test('Bun itself answers 505 to request lines it cannot parse; the service never sees them', async () => {
    const before = await metric('http_requests_total{method="GET",route="__unmatched__",status="404"}');
    for (const line of [
      'GET /a b HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET / HTTP/1.1\nHost: x\n\n',
      'GET / HTTP/0.9\r\n\r\n',
      'GET\0 / HTTP/1.1\r\n\r\n',
    ]) {
      const { text, closed } = await rawExchange(service.port, line);
      expect({ line, head: text.split('\r\n')[0], closed }).toEqual({ line, head: 'HTTP/1.1 505 HTTP Version Not Supported', closed: true });
    }
    expect(await metric('http_requests_total{method="GET",route="__unmatched__",status="404"}')).toBe(before);
  });

  test('two POSTs pipelined in one write: Bun 1.4.5 answers neither; neither is stored, and they are recorded as 499, not as a sent 202', async () => {
    const sent202 = await metric('http_requests_total{method="POST",route="/submit_data",status="202"}');
    const unsent = await metric('http_requests_total{method="POST",route="/submit_data",status="499"}');
    const enqueued = await metric('pipewatch_jobs_enqueued_total');
    const { text, closed } = await rawExchange(service.port, post() + post());
    // Upstream behaviour (oven-sh/bun #33664, #35036, #38128): zero bytes, connection closed.
    // When this fails, Bun delivers pipelined answers: update the README's operations section.
    expect({ text, closed }).toEqual({ text: '', closed: true });
    // The queue leaves out of its commit a submission whose connection is already gone: nothing is
    // stored that the client was never told about, so its retry does not duplicate the record.
    expect(await metric('pipewatch_jobs_enqueued_total')).toBe(enqueued);
    expect(await metric('http_requests_total{method="POST",route="/submit_data",status="202"}')).toBe(sent202);
    expect(await metric('http_requests_total{method="POST",route="/submit_data",status="499"}')).toBe(unsent + 1);
    for (let i = 0; i < 40 && !service.logs().some((l) => l.status === 499); i++) await Bun.sleep(25);
    expect(service.logs().filter((l) => l.msg === 'request' && l.status === 202 && l.route === '/submit_data')).toHaveLength(0);
    expect(service.logs().filter((l) => String(l.msg).startsWith('submission committed but its connection closed'))).toEqual([]);
    // One request per write is answered as usual on the same kind of connection.
    const single = await rawExchange(service.port, post('Connection: close\r\n'));
    expect(single.text).toStartWith('HTTP/1.1 202 Accepted');
  });
});

describe('a slow body cut by the idle timeout', () => {
  test('is recorded as 408 request-timeout, not as 400 malformed JSON', async () => {
    const t = buildTestApp();
    const server = listen(t.app, { hostname: '127.0.0.1', port: 0, bodyLimitBytes: 16_384, idleTimeoutSeconds: 1 });
    try {
      const labels = (status: string) => ({ method: 'POST', route: '/submit_data', status });
      // Half the body, then silence: Bun closes the connection after its idle timeout (1 s; Bun's timer ticks make it ~4 s).
      const { text, closed } = await rawExchange(server.port!, post().slice(0, -10), 15_000);
      expect({ text, closed }).toEqual({ text: '', closed: true });
      for (let i = 0; i < 40 && (await sampleValue(t.metrics, 'http_requests_total', labels('408'))) === 0; i++) await Bun.sleep(25);
      expect(await sampleValue(t.metrics, 'http_requests_total', labels('408'))).toBe(1);
      expect(await sampleValue(t.metrics, 'http_requests_total', labels('400'))).toBe(0);
      expect(t.logs.filter((l) => l.msg === 'request').map((l) => l.status)).toEqual([408]);
    } finally {
      server.stop(true);
      await t.close();
    }
  }, 30_000);
});

describe('the open-file limit', () => {
  test('a soft limit below the hard one is raised to it at start (Bun does it; the start-up line says the limit)', async () => {
    const hard = Number(Bun.spawnSync(['bash', '-c', 'ulimit -Hn']).stdout.toString().trim());
    if (!(hard > 300)) return; // nothing to raise on this machine
    const service = await startService({
      command: ['bash', '-c', `ulimit -Sn 256 && exec ${process.execPath} src/main.ts`],
      env: { QUEUE_DRIVER: 'memory' },
    });
    try {
      const soft = /^Max open files\s+(\d+)/m.exec(await Bun.file(`/proc/${service.pid}/limits`).text())?.[1];
      expect(Number(soft)).toBe(hard);
      expect(service.logs().find((l) => l.msg === 'pipewatch listening')?.open_files_limit).toBe(hard);
    } finally {
      await service.stop('SIGKILL');
      removeDataDir(service.dataDir);
    }
  });
});
