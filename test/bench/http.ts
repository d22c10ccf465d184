/**
 * Benchmark (not a test): POST /submit_data on the full service (validation, metrics, access log,
 * durable enqueue) next to a bare Bun.serve JSON handler, measured in the same run.
 * Server pinned to core 0, wrk on core 1, 50 connections. Prints a markdown table with, per
 * target, throughput and latency, the RSS after the run, the peak size of the SQLite WAL during
 * it, and the /metrics render time with every series present.
 *
 *   bun run bench:http [seconds per round=10] [rounds=3]
 *
 * Optional rows (skipped, and said so, when not set up):
 *   PIPEWATCH_BENCH_BEFORE=/path/to/other/checkout   the same targets' sqlite row from another build, for before/after in one run
 *   PIPEWATCH_BENCH_DATABASE_URL=postgres://…        the Postgres driver against that database (default: a
 *                                                    throw-away PostgreSQL on this machine, fsync on)
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startPostgres } from '../support/postgres';

const ROOT = resolve(import.meta.dir, '../..');
const SECONDS = Number(process.argv[2] ?? 10);
const ROUNDS = Number(process.argv[3] ?? 3);
/** CPUs the server may use (default one core, 0; `0,1` lets a worker thread run beside the event loop; wrk stays on 1). */
const SERVER_CPUS = process.env.PIPEWATCH_BENCH_SERVER_CPUS ?? '0';
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
  /** Why this row is not measured in this run, if it is not. */
  skip?: string;
}
let sinkUrl: string | undefined;
const main = (root: string) => [process.execPath, join(root, 'src/main.ts')];
// Capacity high enough that a long run measures acceptance, not 503 backpressure.
const LOAD = { LOG_LEVEL: 'info', QUEUE_CAPACITY: '100000000' };
const BEFORE = process.env.PIPEWATCH_BENCH_BEFORE;
// Without a database given, the Postgres row runs on a throw-away PostgreSQL on this machine
// (test/support/postgres.ts, fsync on: the 202s are as durable as in production).
const pgCluster = process.env.PIPEWATCH_BENCH_DATABASE_URL
  ? undefined
  : await startPostgres({ fsync: true }).catch((error: Error) => {
      console.error(`postgres row: no local PostgreSQL (${error.message.split('\n')[0]})`);
      return undefined;
    });
const DATABASE_URL = process.env.PIPEWATCH_BENCH_DATABASE_URL ?? (pgCluster ? pgCluster.url(await pgCluster.createDatabase('bench_http')) : undefined);
const targets: Target[] = [
  { name: 'bare `Bun.serve` JSON handler', command: [process.execPath, join(ROOT, 'test/bench/bare-server.ts')], env: {} },
  { name: 'pipewatch `POST /submit_data` (sqlite, default config)', command: main(ROOT), env: { QUEUE_DRIVER: 'sqlite', ...LOAD } },
  // The sqlite store on a thread of its own (SQLITE_THREAD=worker; issue 12 lever): what the round trip per call costs.
  {
    name: 'pipewatch, sqlite on its own thread (`SQLITE_THREAD=worker`)',
    command: main(ROOT),
    env: { QUEUE_DRIVER: 'sqlite', SQLITE_THREAD: 'worker', ...LOAD },
  },
  // Where the time goes: the same service without durability, without its access line, and its
  // parts without the framework (reference-server.ts: body reader, schema, queue, metrics, access line).
  { name: 'pipewatch, memory queue (not durable)', command: main(ROOT), env: { QUEUE_DRIVER: 'memory', ...LOAD } },
  { name: 'pipewatch (sqlite), access log off (`LOG_LEVEL=warn`)', command: main(ROOT), env: { QUEUE_DRIVER: 'sqlite', ...LOAD, LOG_LEVEL: 'warn' } },
  {
    name: 'reference: the same parts (sqlite) in a bare `Bun.serve` handler, no framework',
    command: [process.execPath, join(ROOT, 'test/bench/reference-server.ts')],
    env: { QUEUE_DRIVER: 'sqlite', ...LOAD },
  },
  // The Postgres driver (issue 10): its database is the caller's, given by URL.
  {
    name: 'pipewatch, postgres queue',
    command: main(ROOT),
    env: { QUEUE_DRIVER: 'postgres', DATABASE_URL: DATABASE_URL ?? '', ...LOAD },
    skip: DATABASE_URL ? undefined : 'no PostgreSQL: install postgresql or set PIPEWATCH_BENCH_DATABASE_URL',
  },
  // Tracing (issue 13): the row above is tracing off (the default). On, spans go to a sink on
  // loopback that reads and drops them (see below), so the rows measure the service's own cost.
  { name: 'pipewatch (sqlite), tracing on, sampled 0.1', command: main(ROOT), env: { QUEUE_DRIVER: 'sqlite', ...LOAD, ...tracingOn('0.1') } },
  { name: 'pipewatch (sqlite), tracing on, sampled 1.0', command: main(ROOT), env: { QUEUE_DRIVER: 'sqlite', ...LOAD, ...tracingOn('1.0') } },
  {
    name: `before: ${BEFORE ? describeCheckout(BEFORE) : 'another build'} (sqlite)`,
    command: main(BEFORE ?? ROOT),
    env: { QUEUE_DRIVER: 'sqlite', ...LOAD },
    skip: BEFORE ? undefined : 'set PIPEWATCH_BENCH_BEFORE',
  },
];

/** An OTLP/HTTP sink for the tracing rows: accepts and drops every export (not pinned: it shares the machine with wrk). */
function spanSink() {
  const sink = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch: async (req) => {
      await req.arrayBuffer();
      return new Response(null, { status: 200 });
    },
  });
  sink.unref(); // the bench ends when its rows are done
  return `http://127.0.0.1:${sink.port}`;
}
function tracingOn(ratio: string): Record<string, string> {
  sinkUrl ??= spanSink();
  return {
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: ratio,
  };
}

function describeCheckout(dir: string): string {
  const commit = Bun.spawnSync(['git', '-C', dir, 'rev-parse', '--short', 'HEAD']).stdout.toString().trim();
  return commit || dir;
}

interface Result {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** Server CPU time (user + system) per request in the measured round: less sensitive to a loaded machine than req/s. */
  cpuUs: number;
  /** After the measured round, before stopping. */
  rssMiB: number;
  /** Largest size of queue.sqlite-wal seen during the measured round (0: no WAL). */
  walPeakMiB: number;
  /** Server-side /metrics render time (pipewatch_metrics_scrape_duration_seconds), median of 5, every series present. */
  renderMs: number | undefined;
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
  const proc = Bun.spawn(['taskset', '-c', SERVER_CPUS, ...target.command], {
    cwd: target.command[1]?.endsWith('src/main.ts') ? resolve(target.command[1], '../..') : ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir, ...target.env },
    // Logs go to a file, as a container runtime would take them; not to /dev/null, which is free.
    stdout: Bun.file(join(work, `${target.name.replace(/\W+/g, '-')}.log`)),
    stderr: 'inherit',
  });
  const url = `http://127.0.0.1:${port}/healthz`;
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`${target.name} exited with ${proc.exitCode}`);
    if (i > 200) throw new Error(`${target.name} did not answer within 10 s`);
    if (
      await fetch(url).then(
        (r) => r.ok || r.status === 404,
        () => false,
      )
    )
      break;
    await Bun.sleep(50);
  }
  return { proc, port };
}

async function wrk(port: number, seconds: number): Promise<Pick<Result, 'rps' | 'p50' | 'p99' | 'errors'>> {
  const proc = Bun.spawn(
    ['taskset', '-c', '1', 'wrk', '-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-s', lua, `http://127.0.0.1:${port}/submit_data`],
    { stdout: 'pipe' },
  );
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  const ms = (label: string) => {
    const m = new RegExp(`^\\s*${label}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out);
    if (!m) throw new Error(`no ${label}% latency in wrk output:\n${out}`);
    return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2] as 'us' | 'ms' | 's'];
  };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const socketErrors =
    /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/
      .exec(out)
      ?.slice(1)
      .reduce((a, n) => a + Number(n), 0) ?? 0;
  return { rps, p50: ms('50'), p99: ms('99'), errors: non2xx + socketErrors };
}

/** User + system CPU seconds of a process so far (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}

/** Samples the WAL's size every 50 ms until stopped; resolves with the peak in MiB. */
function watchWal(dataDir: string): () => number {
  const wal = join(dataDir, 'queue.sqlite-wal');
  let peak = 0;
  const timer = setInterval(() => {
    if (existsSync(wal)) peak = Math.max(peak, statSync(wal).size);
  }, 50);
  return () => {
    clearInterval(timer);
    if (existsSync(wal)) peak = Math.max(peak, statSync(wal).size);
    return peak / 1048576;
  };
}

/**
 * One request of each kind the service answers, so every RED series exists, then five scrapes;
 * the render time is what the service's own scrape histogram recorded for them.
 */
async function renderTime(port: number): Promise<number | undefined> {
  const base = `http://127.0.0.1:${port}`;
  const first = await fetch(`${base}/metrics`);
  if (first.status !== 200) return undefined; // the bare handler
  await first.text();
  const json = { 'content-type': 'application/json' };
  const kinds: Array<[string, RequestInit?]> = [
    ['/healthz'],
    ['/readyz'],
    ['/nowhere'],
    ['/submissions/unknown'],
    ['/docs/json'],
    ['/healthz', { method: 'DELETE' }],
    ['/submit_data', { method: 'POST', headers: json, body: '{' }],
    ['/submit_data', { method: 'POST', headers: json, body: '{"name":"Ravi"}' }],
    ['/submit_data', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' }],
    ['/submit_data', { method: 'POST', headers: json, body: 'x'.repeat(20_000) }],
  ];
  for (const [path, init] of kinds) await (await fetch(`${base}${path}`, init)).arrayBuffer();
  const durations: number[] = [];
  let last = { sum: 0, count: 0 };
  for (let i = 0; i < 6; i++) {
    const text = await (await fetch(`${base}/metrics`)).text();
    const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
    const now = { sum: read('pipewatch_metrics_scrape_duration_seconds_sum'), count: read('pipewatch_metrics_scrape_duration_seconds_count') };
    // The exposition shows the scrapes before this one: the difference is the previous render.
    if (i > 0 && now.count > last.count) durations.push(((now.sum - last.sum) / (now.count - last.count)) * 1000);
    last = now;
  }
  return median(durations);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const loadBefore = load();
const measured = targets.filter((t) => !t.skip);
const results = new Map<string, Result[]>();
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const target of measured) {
      const dataDir = mkdtempSync(join(work, 'data-'));
      const { proc, port } = await start(target, dataDir);
      await wrk(port, Math.min(3, SECONDS)); // warm-up: JIT, SQLite page cache
      const wal = watchWal(dataDir);
      const cpuBefore = cpuSeconds(proc.pid);
      const run = await wrk(port, SECONDS);
      const cpuUs = ((cpuSeconds(proc.pid) - cpuBefore) / (run.rps * SECONDS)) * 1e6;
      const walPeakMiB = wal();
      const rss = rssMiB(proc.pid);
      const renderMs = await renderTime(port);
      const result = { ...run, cpuUs, rssMiB: rss, walPeakMiB, renderMs };
      proc.kill('SIGTERM');
      await Promise.race([proc.exited, Bun.sleep(15_000)]);
      if (proc.exitCode === null) proc.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
      console.error(
        `round ${round + 1} ${target.name}: ${result.rps.toFixed(0)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms, errors ${result.errors}, CPU ${cpuUs.toFixed(1)} µs/req, RSS ${rss.toFixed(0)} MiB, WAL peak ${walPeakMiB.toFixed(1)} MiB, /metrics ${renderMs?.toFixed(2) ?? '-'} ms`,
      );
      results.set(target.name, [...(results.get(target.name) ?? []), result]);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
  await pgCluster?.destroy();
}

const summary = measured.map((t) => {
  const rs = results.get(t.name)!;
  const m = (pick: (r: Result) => number) => median(rs.map(pick));
  const renders = rs.map((r) => r.renderMs).filter((x): x is number => x !== undefined);
  return {
    name: t.name,
    rps: m((r) => r.rps),
    p50: m((r) => r.p50),
    p99: m((r) => r.p99),
    errors: rs.reduce((a, r) => a + r.errors, 0),
    cpu: m((r) => r.cpuUs),
    rss: m((r) => r.rssMiB),
    wal: Math.max(...rs.map((r) => r.walPeakMiB)),
    render: renders.length > 0 ? median(renders) : undefined,
  };
});
const bare = summary[0]!;
const cpu = (await Bun.file('/proc/cpuinfo').text()).match(/model name\s*:\s*(.*)/)?.[1] ?? 'unknown CPU';
console.log(
  `\n${new Date().toISOString().slice(0, 10)}, ${cpu}, Bun ${Bun.version}; server on core 0, wrk (1 thread, ${CONNECTIONS} connections) on core 1; median of ${ROUNDS} rounds of ${SECONDS} s after a warm-up. Load average before ${loadBefore}, after ${load()}.\n`,
);
console.log('| target | requests/s | p50 | p99 | vs bare | server CPU per request | non-2xx / socket errors | RSS after | WAL peak | `/metrics` render |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const s of summary) {
  const render = s.render === undefined ? '—' : `${s.render.toFixed(2)} ms`;
  console.log(
    `| ${s.name} | ${s.rps.toFixed(0)} | ${s.p50.toFixed(2)} ms | ${s.p99.toFixed(2)} ms | ${((100 * s.rps) / bare.rps).toFixed(0)}% | ${s.cpu.toFixed(1)} µs | ${s.errors} | ${s.rss.toFixed(0)} MiB | ${s.wal > 0 ? `${s.wal.toFixed(1)} MiB` : '—'} | ${render} |`,
  );
}
for (const t of targets.filter((t) => t.skip)) console.log(`| ${t.name} | not measured: ${t.skip} | | | | | | | | |`);
