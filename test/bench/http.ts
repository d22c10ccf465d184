/**
 * Benchmark (not a test): POST /submit_data on the full service (validation, metrics, access log,
 * durable SQLite enqueue) next to a bare Bun.serve JSON handler, measured in the same run.
 * Server pinned to core 0, wrk on core 1, 50 connections. Prints a markdown table.
 *
 *   bun run bench:http [seconds per round=10] [rounds=3]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dir, '../..');
const SECONDS = Number(process.argv[2] ?? 10);
const ROUNDS = Number(process.argv[3] ?? 3);
const CONNECTIONS = 50;

for (const tool of ['wrk', 'taskset']) {
  if (Bun.spawnSync(['which', tool]).exitCode !== 0) {
    console.error(`${tool} is needed: apt-get install -y ${tool === 'wrk' ? 'wrk' : 'util-linux'}`);
    process.exit(1);
  }
}

const work = mkdtempSync(join(tmpdir(), 'pipewatch-bench-'));
const lua = join(work, 'post.lua');
writeFileSync(lua, `wrk.method = "POST"\nwrk.body = '{"name":"Ravi","age":32,"city":"Delhi"}'\nwrk.headers["Content-Type"] = "application/json"\n`);

interface Target {
  name: string;
  command: string[];
  env: Record<string, string>;
}
const targets: Target[] = [
  { name: 'bare `Bun.serve` JSON handler', command: [process.execPath, join(ROOT, 'test/bench/bare-server.ts')], env: {} },
  {
    name: 'pipewatch `POST /submit_data` (sqlite)',
    command: [process.execPath, join(ROOT, 'src/main.ts')],
    // Capacity high enough that a long run measures acceptance, not 503 backpressure.
    env: { QUEUE_DRIVER: 'sqlite', LOG_LEVEL: 'info', QUEUE_CAPACITY: '100000000' },
  },
  // Where the time goes: the same service without durability, and without the access log.
  {
    name: 'pipewatch, memory queue (not durable)',
    command: [process.execPath, join(ROOT, 'src/main.ts')],
    env: { QUEUE_DRIVER: 'memory', LOG_LEVEL: 'info', QUEUE_CAPACITY: '100000000' },
  },
  {
    name: 'pipewatch (sqlite), no access log (LOG_LEVEL=warn)',
    command: [process.execPath, join(ROOT, 'src/main.ts')],
    env: { QUEUE_DRIVER: 'sqlite', LOG_LEVEL: 'warn', QUEUE_CAPACITY: '100000000' },
  },
];

interface Result {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

/** A free loopback port (LOG_LEVEL=warn hides the log line that would tell it). */
function freePort(): number {
  const probe = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

async function start(target: Target, dataDir: string) {
  const port = freePort();
  const proc = Bun.spawn(['taskset', '-c', '0', ...target.command], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir, ...target.env },
    // Logs go to a file, as a container runtime would take them; not to /dev/null, which is free.
    stdout: Bun.file(join(work, `${target.name.replace(/\W+/g, '-')}.log`)),
    stderr: 'inherit',
  });
  const url = `http://127.0.0.1:${port}/healthz`;
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`${target.name} exited with ${proc.exitCode}`);
    if (i > 200) throw new Error(`${target.name} did not answer within 10 s`);
    if (await fetch(url).then((r) => r.ok || r.status === 404, () => false)) break;
    await Bun.sleep(50);
  }
  return { proc, port };
}

async function wrk(port: number, seconds: number): Promise<Result> {
  const proc = Bun.spawn(['taskset', '-c', '1', 'wrk', '-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-s', lua, `http://127.0.0.1:${port}/submit_data`], { stdout: 'pipe' });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  const ms = (label: string) => {
    const m = new RegExp(`^\\s*${label}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out);
    if (!m) throw new Error(`no ${label}% latency in wrk output:\n${out}`);
    return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2] as 'us' | 'ms' | 's'];
  };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)?.slice(1).reduce((a, n) => a + Number(n), 0) ?? 0;
  return { rps, p50: ms('50'), p99: ms('99'), errors: non2xx + socketErrors };
}

const results = new Map<string, Result[]>();
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const target of targets) {
      const dataDir = mkdtempSync(join(work, 'data-'));
      const { proc, port } = await start(target, dataDir);
      await wrk(port, Math.min(3, SECONDS)); // warm-up: JIT, SQLite page cache
      const result = await wrk(port, SECONDS);
      proc.kill('SIGTERM');
      await Promise.race([proc.exited, Bun.sleep(15_000)]);
      if (proc.exitCode === null) proc.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
      console.error(`round ${round + 1} ${target.name}: ${result.rps.toFixed(0)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms, errors ${result.errors}`);
      results.set(target.name, [...(results.get(target.name) ?? []), result]);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summary = targets.map((t) => {
  const rs = results.get(t.name)!;
  return { name: t.name, rps: median(rs.map((r) => r.rps)), p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)), errors: rs.reduce((a, r) => a + r.errors, 0) };
});
const bare = summary[0]!;
const cpu = (await Bun.file('/proc/cpuinfo').text()).match(/model name\s*:\s*(.*)/)?.[1] ?? 'unknown CPU';
console.log(`\n${new Date().toISOString().slice(0, 10)}, ${cpu}, Bun ${Bun.version}; server on core 0, wrk (1 thread, ${CONNECTIONS} connections) on core 1; median of ${ROUNDS} rounds of ${SECONDS} s after a warm-up.\n`);
console.log('| target | requests/s | p50 | p99 | vs bare | non-2xx / socket errors |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const s of summary) {
  console.log(`| ${s.name} | ${s.rps.toFixed(0)} | ${s.p50.toFixed(2)} ms | ${s.p99.toFixed(2)} ms | ${((100 * s.rps) / bare.rps).toFixed(0)}% | ${s.errors} |`);
}
