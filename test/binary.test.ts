import { afterAll, beforeAll, expect, test } from 'bun:test';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, startService, submit, type RunningService } from './support/service';

let dir: string;
let binary: string;
let service: RunningService | undefined;

beforeAll(async () => {
  const build = Bun.spawn([process.execPath, 'run', 'build'], { cwd: REPO_ROOT, stdout: 'pipe', stderr: 'pipe' });
  const [out, err, code] = await Promise.all([new Response(build.stdout).text(), new Response(build.stderr).text(), build.exited]);
  if (code !== 0) throw new Error(`bun run build failed (${code}):\n${out}\n${err}`);
  // A directory with nothing but the binary: no node_modules, no sources, no package.json.
  dir = mkdtempSync(join(tmpdir(), 'pipewatch-binary-'));
  binary = join(dir, 'pipewatch');
  copyFileSync(join(REPO_ROOT, 'dist/pipewatch'), binary);
  Bun.spawnSync(['chmod', '+x', binary]);
}, 120_000);
afterAll(async () => {
  await service?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the binary alone serves the API, /metrics with its build identity, and the full Swagger UI', async () => {
  expect(existsSync(join(dir, 'node_modules'))).toBe(false);
  service = await startService({
    command: [binary],
    cwd: dir,
    dataDir: join(dir, 'data'),
    env: { PROCESSING_DELAY_MIN_MS: '0', PROCESSING_DELAY_MAX_MS: '1' },
  });

  const res = await submit(service.url);
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  expect((await fetch(`${service.url}/submissions/${id}`)).status).toBe(200);
  expect((await submit(service.url, { name: 'Ravi', age: '32', city: 'Delhi' })).status).toBe(422);
  expect(existsSync(join(dir, 'data', 'queue.sqlite'))).toBe(true); // durable queue from the binary too

  const metrics = await (await fetch(`${service.metricsUrl}/metrics`)).text();
  const commit = Bun.spawnSync(['git', 'describe', '--always', '--dirty', '--abbrev=40'], { cwd: REPO_ROOT }).stdout.toString().trim();
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  expect(metrics).toContain(`pipewatch_build_info{version="${pkg.version}",commit="${commit}",bun_version="${Bun.version}"} 1`);
  expect(metrics).toMatch(/^app_requests_total 2$/m);

  const html = await (await fetch(`${service.url}/docs`)).text();
  expect(html).not.toMatch(/https?:\/\//);
  for (const [asset, file] of [
    ['swagger-ui-bundle.js', 'swagger-ui-bundle.js'],
    ['swagger-ui.css', 'swagger-ui.css'],
    ['favicon-32x32.png', 'favicon-32x32.png'],
  ]) {
    const served = new Uint8Array(await (await fetch(`${service.url}/docs/assets/${asset}`)).arrayBuffer());
    const original = new Uint8Array(readFileSync(join(REPO_ROOT, 'node_modules/swagger-ui-dist', file!)));
    expect({ asset, bytes: served.byteLength, same: Buffer.compare(served, original) === 0 }).toEqual({ asset, bytes: original.byteLength, same: true });
  }
  const doc = (await (await fetch(`${service.url}/docs/json`)).json()) as { paths: Record<string, unknown> };
  expect(Object.keys(doc.paths)).toContain('/submit_data');
  expect(await service.stop('SIGTERM')).toBe(0);
  // The WAL checkpoint worker is a second entrypoint of the build: it must start inside the binary too.
  expect(service.logs().filter((line) => String(line.msg).includes('checkpoint worker failed'))).toEqual([]);
});

test('the binary validates its environment like `bun run start`', async () => {
  const proc = Bun.spawn([binary], { cwd: dir, env: { PATH: '/usr/bin:/bin', PORT: '80.5' }, stdout: 'pipe', stderr: 'pipe' });
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  expect({ code, stderr }).toEqual({ code: 1, stderr: 'pipewatch: invalid PORT="80.5": must be an integer from 0 to 65535\n' });
});
