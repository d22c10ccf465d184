// The baseline: the least a Bun JSON endpoint can do. Parses the body, answers 202 with an id.
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: Number(process.env.PORT ?? 0),
  reusePort: false,
  async fetch(request) {
    if (request.method !== 'POST') return new Response('not found', { status: 404 });
    await request.json();
    return Response.json({ id: crypto.randomUUID(), status: 'queued' }, { status: 202 });
  },
});
console.log(JSON.stringify({ msg: 'pipewatch listening', port: server.port }));
process.on('SIGTERM', () => {
  server.stop(true);
  process.exit(0);
});
