import { afterAll, expect, test } from 'bun:test';
import { removeDataDir, startService, submit, type RunningService } from './support/service';

const GRACE_MS = 8000;
const DRAIN_MS = 1500;
const started: RunningService[] = [];
afterAll(async () => {
  for (const s of started) await s.stop('SIGKILL');
  if (started[0]) removeDataDir(started[0].dataDir);
});

/** Opens a raw connection and sends a POST's headers and half its body; `finish()` sends the rest and reads the answer. */
async function halfSentRequest(port: number) {
  const body = '{"name":"Ravi","age":32,"city":"Delhi"}';
  let response = '';
  let closed!: () => void;
  const done = new Promise<void>((resolve) => (closed = resolve));
  const socket = await Bun.connect({
    hostname: '127.0.0.1',
    port,
    socket: {
      data(_s, chunk) {
        response += chunk.toString();
      },
      close: () => closed(),
      error: () => closed(),
    },
  });
  socket.write(`POST /submit_data HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`);
  return {
    finish: async () => {
      socket.write(body.slice(10));
      await Promise.race([done, Bun.sleep(5000)]);
      return response;
    },
  };
}

test('SIGTERM mid-load: readiness 503 while draining, no accepted request lost or cut, exit 0 within the grace', async () => {
  const service = await startService({
    env: {
      SHUTDOWN_GRACE_MS: String(GRACE_MS),
      SHUTDOWN_DRAIN_MS: String(DRAIN_MS),
      LOG_LEVEL: 'info',
      PROCESSING_DELAY_MIN_MS: '0',
      PROCESSING_DELAY_MAX_MS: '5',
    },
  });
  started.push(service);

  const accepted: string[] = [];
  const statuses = new Map<number, number>();
  const errors = new Map<string, number>();
  const errorTimes: number[] = [];
  let drainingResponses = 0;
  let stopLoad = false;
  let t0 = Infinity;
  const loader = async () => {
    while (!stopLoad) {
      try {
        const res = await submit(service.url);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.headers.get('connection') === 'close') drainingResponses++;
        if (res.status === 202) accepted.push(((await res.json()) as { id: string }).id);
        else await res.arrayBuffer();
      } catch (error) {
        const code = String((error as { code?: string }).code ?? (error as Error).name);
        errors.set(code, (errors.get(code) ?? 0) + 1);
        errorTimes.push(performance.now() - t0);
        if (code === 'ECONNREFUSED' || code === 'ECONNRESET') return; // the listener is closed: this loader is done
      }
    }
  };
  const loaders = Array.from({ length: 8 }, loader);
  await Bun.sleep(700); // mid-load
  const half = await halfSentRequest(service.port);
  const acceptedBeforeSignal = accepted.length;

  t0 = performance.now();
  process.kill(service.pid, 'SIGTERM');
  await Bun.sleep(300);
  const readiness = await fetch(`${service.url}/readyz`);
  const readinessBody = await readiness.json();
  const liveness = (await fetch(`${service.url}/healthz`)).status;

  // Let the listener close, then complete the request that was in flight all along.
  await Bun.sleep(DRAIN_MS + 300);
  const refusedAfterClose = await fetch(`${service.url}/healthz`).then(
    () => 'answered',
    (e: { code?: string }) => e.code,
  );
  const halfResponse = await half.finish();

  const code = await service.exited;
  const exitMs = performance.now() - t0;
  stopLoad = true;
  await Promise.all(loaders);

  expect(readiness.status).toBe(503);
  expect(readinessBody).toEqual({ status: 'draining' });
  expect(liveness).toBe(200);
  expect(refusedAfterClose).toBe('ECONNREFUSED');
  expect(halfResponse).toStartWith('HTTP/1.1 202');
  expect(code).toBe(0);
  expect(exitMs).toBeLessThan(GRACE_MS);
  expect(accepted.length).toBeGreaterThan(acceptedBeforeSignal); // traffic kept being served while draining
  expect(drainingResponses).toBeGreaterThan(0);
  // Every answer was a 202. Failures are only connections the server never took: refused once the
  // listener is closed, or reset when it closes with them still in the kernel's accept queue.
  expect([...statuses.keys()]).toEqual([202]);
  expect([...errors.keys()].filter((c) => c !== 'ECONNREFUSED' && c !== 'ECONNRESET')).toEqual([]);
  expect(errorTimes.filter((ms) => ms < DRAIN_MS - 50)).toEqual([]);
  // ...and none of them was processed: the server answered exactly what the clients received (+1: the half-sent request).
  const answered = service.logs().filter((l) => l.msg === 'request' && l.route === '/submit_data' && l.status === 202).length;
  expect(answered).toBe(accepted.length + 1);
  expect(service.logs().some((l) => l.msg === 'stopped')).toBe(true);

  // Every accepted submission is still there after a restart on the same data dir.
  const again = await startService({ dataDir: service.dataDir, env: { PROCESSING_DELAY_MIN_MS: '0', PROCESSING_DELAY_MAX_MS: '1' } });
  started.push(again);
  const missing: string[] = [];
  for (let i = 0; i < accepted.length; i += 50) {
    const batch = accepted.slice(i, i + 50);
    const codes = await Promise.all(batch.map(async (id) => (await fetch(`${again.url}/submissions/${id}`)).status));
    for (const [k, id] of batch.entries()) if (codes[k] !== 200) missing.push(id);
  }
  expect({ accepted: accepted.length > 50, missing }).toEqual({ accepted: true, missing: [] });
  expect(await again.stop('SIGTERM')).toBe(0);
}, 40_000);
