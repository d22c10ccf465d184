import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { removeDataDir, startService, type RunningService } from './support/service';

/** Resident set size of a process, from /proc (Linux). */
function rssMiB(pid: number): number {
  const kib = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return kib / 1024;
}

/**
 * Issue 9 item 2: clients that pipeline requests and never read the answers. Each request used to
 * leave one deferred closure (Elysia's onAfterResponse) holding its whole context; 20 such
 * connections took the process from ~65 MiB to over 1 GiB. Bounded: 20 connections, at most
 * 25,000 requests each, at most ~20 s of writing.
 */
describe('unread pipelined requests', () => {
  let service: RunningService;
  beforeAll(async () => {
    service = await startService({ env: { QUEUE_DRIVER: 'memory' } });
  });
  afterAll(async () => {
    await service.stop('SIGKILL');
    removeDataDir(service.dataDir);
  });

  test('20 connections flooding GET /healthz without reading keep RSS bounded', async () => {
    const before = rssMiB(service.pid);
    const request = Buffer.from('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const PER_CONNECTION = 50_000;
    const CHUNK = 500; // requests per write
    const chunk = Buffer.concat(Array.from({ length: CHUNK }, () => request));
    let peak = before;
    let total = 0;
    const deadline = performance.now() + 20_000;
    const sockets = await Promise.all(
      Array.from({ length: 20 }, () =>
        Bun.connect({
          hostname: '127.0.0.1',
          port: service.port,
          socket: {
            // Never read: the answers pile up on the server side.
            data() {},
            drain(socket) {
              (socket.data as { wake?: () => void } | undefined)?.wake?.();
            },
          },
        }),
      ),
    );
    await Promise.all(
      sockets.map(async (socket) => {
        let sent = 0;
        let offset = 0;
        while (sent < PER_CONNECTION && performance.now() < deadline) {
          const written = socket.write(chunk.subarray(offset));
          offset += Math.max(0, written);
          if (offset >= chunk.byteLength) {
            offset = 0;
            sent += CHUNK;
            continue;
          }
          // The kernel buffers are full: the server has stopped reading this connection.
          await Bun.sleep(20);
          peak = Math.max(peak, rssMiB(service.pid));
        }
        total += sent;
      }),
    );
    for (let i = 0; i < 60; i++) {
      peak = Math.max(peak, rssMiB(service.pid));
      await Bun.sleep(50);
    }
    for (const socket of sockets) socket.end();
    // A normal client still gets its answer.
    const health = await fetch(`${service.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
    expect(health.status).toBe(200);
    console.log(`${total} requests, RSS before ${before.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB`);
    expect(peak - before).toBeLessThan(150);
  }, 60_000);
});
