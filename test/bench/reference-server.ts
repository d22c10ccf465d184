/**
 * A bench row, not a product: POST /submit_data made of pipewatch's own parts (body reader,
 * TypeBox schema, durable queue, RED metrics, access line, request id) called straight from a
 * `Bun.serve` handler, with no framework in between. Set beside the real service and the bare
 * handler it shows what the framework costs and what the parts cost (issue 12: where the time goes).
 * Only the happy path is faithful: any failure is a bare status code.
 */
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { buildInfo } from '../../src/build-info';
import { loadConfig } from '../../src/config';
import { ProblemError } from '../../src/http/problem';
import { accessLogger, createLogger } from '../../src/log';
import { createMetrics } from '../../src/metrics';
import { createQueue } from '../../src/queue';
import { readJsonBody } from '../../src/routes/json-body';
import { SubmissionBody } from '../../src/routes/submissions';

const config = loadConfig();
const log = createLogger(config.LOG_LEVEL);
const access = accessLogger(log);
const metrics = createMetrics(buildInfo);
const queue = await createQueue(config, { metrics, log });
const body = TypeCompiler.Compile(SubmissionBody);

const server = Bun.serve({
  hostname: config.HOST,
  port: config.PORT,
  reusePort: false,
  routes: {
    '/healthz': () => Response.json({ status: 'ok' }),
    '/submit_data': {
      async POST(request) {
        const start = performance.now();
        const requestId = request.headers.get('x-request-id') ?? crypto.randomUUID();
        let status = 202;
        let answer: Response;
        try {
          const record = await readJsonBody(request, config.BODY_LIMIT_BYTES);
          if (!body.Check(record) || !record.name.isWellFormed() || !record.city.isWellFormed()) throw new ProblemError('validation', 'invalid');
          const id = await queue.enqueue(record, { signal: request.signal });
          answer = Response.json({ id, status: 'queued' }, { status, headers: { 'x-request-id': requestId, location: `/submissions/${id}` } });
        } catch (error) {
          status = error instanceof ProblemError ? 422 : 503;
          answer = new Response(null, { status });
        }
        if (request.signal.aborted) status = 499;
        const seconds = (performance.now() - start) / 1000;
        metrics.httpRed.series('POST', '/submit_data', status).record(seconds);
        access({ method: 'POST', route: '/submit_data', status, durationMs: Math.round(seconds * 1e6) / 1e3, requestId });
        return answer;
      },
    },
  },
  fetch: () => new Response(null, { status: 404 }),
});
queue.start();
log.info({ port: server.port }, 'pipewatch reference listening');
process.on('SIGTERM', async () => {
  server.stop(true);
  await queue.stop(1000);
  await queue.close();
  process.exit(0);
});
