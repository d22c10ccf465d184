import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Subprocess } from 'bun';

/**
 * Test harness for Debian's real Prometheus: own temp dir, free loopback port, given scrape
 * targets and rule files, short intervals. Used by the monitoring end-to-end test and by the
 * load tests' instrumentation cross-check. Missing binaries fail loudly, never skip.
 */

const INSTALL_HINT = 'install it with `apt-get install prometheus` (Debian/Ubuntu; it ships promtool too) or run `bash test/support/install-system-deps.sh`';

/** Absolute path of a Prometheus binary (`prometheus` or `promtool`), or a clear error saying how to install it. */
export function requireBinary(name: 'prometheus' | 'promtool'): string {
  const found = Bun.which(name) ?? Bun.which(name, { PATH: '/usr/bin:/usr/local/bin:/bin' });
  if (!found) throw new Error(`\`${name}\` is not on PATH: the monitoring tests run a real Prometheus; ${INSTALL_HINT}`);
  return found;
}

export interface ScrapeTarget {
  /** Prometheus job name, e.g. `pipewatch`. */
  job: string;
  /** host:port to scrape, e.g. `127.0.0.1:41234` (a URL such as `http://127.0.0.1:41234` is accepted too). */
  address: string;
  metricsPath?: string;
  /** Extra target labels (e.g. `{ instance: 'pipewatch-1' }` to override the address-derived instance). */
  labels?: Record<string, string>;
}

export interface PrometheusOptions {
  targets?: ScrapeTarget[];
  /** Also scrape Prometheus itself as job `prometheus` (as the local stack does). */
  scrapeSelf?: boolean;
  /** Rule files to load: each is copied into the temp dir, so callers may pass committed files. */
  ruleFiles?: string[];
  /** Rule files given as YAML text, written into the temp dir (file name => content). */
  ruleTexts?: Record<string, string>;
  /** Defaults to 1 s, the tests' "real time". */
  scrapeIntervalSeconds?: number;
  /** Rule evaluation interval; defaults to 1 s. */
  evaluationIntervalSeconds?: number;
  /** Extra command-line flags, e.g. `--query.lookback-delta=30s`. */
  extraArgs?: string[];
  startTimeoutMs?: number;
}

export interface PromSample {
  metric: Record<string, string>;
  /** [unix seconds, value as text] */
  value: [number, string];
}

export interface PromSeries {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

export interface PromRule {
  name: string;
  query: string;
  type: 'recording' | 'alerting';
  health: 'ok' | 'err' | 'unknown';
  lastError?: string;
  state?: 'inactive' | 'pending' | 'firing';
  duration?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  alerts?: PromAlert[];
}

export interface PromRuleGroup {
  name: string;
  file: string;
  interval: number;
  rules: PromRule[];
}

export interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing' | 'inactive';
  activeAt: string;
  value: string;
}

export interface PromTarget {
  labels: Record<string, string>;
  scrapePool: string;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
  lastScrape: string;
}

export interface RunningPrometheus {
  /** e.g. http://127.0.0.1:39091 */
  url: string;
  port: number;
  pid: number;
  dir: string;
  configFile: string;
  /** Instant query; throws with Prometheus's error text when the query is invalid. */
  query: (promql: string, time?: number) => Promise<PromSample[]>;
  /** Range query over [start, end] (unix seconds) with the given step (seconds). */
  queryRange: (promql: string, start: number, end: number, stepSeconds: number) => Promise<PromSeries[]>;
  rules: () => Promise<PromRuleGroup[]>;
  alerts: () => Promise<PromAlert[]>;
  targets: () => Promise<PromTarget[]>;
  /** Polls `check` every `intervalMs` until it returns a truthy value, or throws after `timeoutMs` naming `what`. */
  waitFor: <T>(what: string, check: () => Promise<T | undefined | null | false>, timeoutMs?: number, intervalMs?: number) => Promise<T>;
  /** Waits until every active target reports health `up`. */
  waitForTargetsUp: (timeoutMs?: number) => Promise<PromTarget[]>;
  /** Prometheus's own log (stderr) so far. */
  output: () => string;
  /** SIGTERM by PID, SIGKILL after 10 s, then removes the temp dir. */
  stop: () => Promise<void>;
  process: Subprocess;
}

function hostPort(address: string): string {
  return address.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
}

/** prometheus.yml for the given targets, as YAML text (JSON is valid YAML). */
export function scrapeConfig(options: PrometheusOptions, ruleFiles: string[], selfAddress?: string): string {
  const scrape = Math.max(1, options.scrapeIntervalSeconds ?? 1);
  const evaluation = Math.max(1, options.evaluationIntervalSeconds ?? 1);
  const jobs = new Map<string, { job_name: string; metrics_path: string; static_configs: Array<{ targets: string[]; labels?: Record<string, string> }> }>();
  const all = [...(options.targets ?? [])];
  if (selfAddress) all.push({ job: 'prometheus', address: selfAddress });
  for (const target of all) {
    const key = `${target.job}\u0000${target.metricsPath ?? '/metrics'}`;
    const job = jobs.get(key) ?? { job_name: target.job, metrics_path: target.metricsPath ?? '/metrics', static_configs: [] };
    job.static_configs.push({ targets: [hostPort(target.address)], ...(target.labels ? { labels: target.labels } : {}) });
    jobs.set(key, job);
  }
  const config = {
    global: { scrape_interval: `${scrape}s`, scrape_timeout: `${scrape}s`, evaluation_interval: `${evaluation}s` },
    rule_files: ruleFiles,
    scrape_configs: [...jobs.values()],
  };
  return JSON.stringify(config, null, 2);
}

/**
 * Starts `prometheus` on 127.0.0.1 with port 0 (the kernel picks a free port, read back from its
 * "Listening on" log line) and a fresh temp dir, then waits for /-/ready. With `scrapeSelf`, the
 * config is rewritten with the now-known port and reloaded by SIGHUP.
 */
export async function startPrometheus(options: PrometheusOptions = {}): Promise<RunningPrometheus> {
  const binary = requireBinary('prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'pipewatch-prometheus-'));
  const rulesDir = join(dir, 'rules');
  mkdirSync(rulesDir);
  const ruleFiles: string[] = [];
  for (const file of options.ruleFiles ?? []) {
    const target = join(rulesDir, `${ruleFiles.length}-${basename(file)}`);
    copyFileSync(file, target);
    ruleFiles.push(target);
  }
  for (const [name, text] of Object.entries(options.ruleTexts ?? {})) {
    const target = join(rulesDir, `${ruleFiles.length}-${basename(name)}`);
    writeFileSync(target, text);
    ruleFiles.push(target);
  }
  const configFile = join(dir, 'prometheus.yml');
  // With scrapeSelf the full config (rules included) is loaded by a reload once the port is known;
  // loading rules only then avoids restarting rule groups mid-run ("out of order sample" on ALERTS).
  writeFileSync(configFile, scrapeConfig(options, options.scrapeSelf ? [] : ruleFiles));

  const proc = Bun.spawn(
    [
      binary,
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      '--web.listen-address=127.0.0.1:0',
      '--storage.tsdb.retention.time=1h',
      ...(options.extraArgs ?? []),
    ],
    { cwd: dir, stdout: 'pipe', stderr: 'pipe', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir } },
  );

  let log = '';
  let onText: (() => void) | undefined;
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      log += decoder.decode(chunk, { stream: true });
      onText?.();
    }
  };
  const pumps = Promise.all([pump(proc.stdout), pump(proc.stderr)]);
  const exited = proc.exited.then(async (code) => {
    await pumps.catch(() => {});
    return code;
  });

  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      // A cleared timer rather than Bun.sleep, so a stopped Prometheus does not keep the test process alive.
      const kill = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(kill);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const timeoutMs = options.startTimeoutMs ?? 20_000;
  let port: number;
  try {
    port = await new Promise<number>((resolvePort, rejectPort) => {
      const timer = setTimeout(() => rejectPort(new Error(`prometheus did not listen within ${timeoutMs} ms:\n${log}`)), timeoutMs);
      const check = () => {
        const match = /msg="Listening on" address=127\.0\.0\.1:(\d+)/.exec(log);
        if (match) {
          clearTimeout(timer);
          resolvePort(Number(match[1]));
        }
      };
      onText = check;
      check();
      void exited.then((code) => {
        clearTimeout(timer);
        rejectPort(new Error(`prometheus exited with ${code} before listening:\n${log}`));
      });
    });
  } catch (error) {
    await stop();
    throw error;
  }
  onText = undefined;
  const url = `http://127.0.0.1:${port}`;

  const api = async <T>(path: string, params: Record<string, string> = {}): Promise<T> => {
    const response = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params),
    });
    const body = (await response.json()) as { status: string; data: T; error?: string; errorType?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path} ${JSON.stringify(params)}: ${body.errorType}: ${body.error}`);
    return body.data;
  };
  const get = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}${path}`);
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error}`);
    return body.data;
  };

  const waitFor = async <T>(what: string, check: () => Promise<T | undefined | null | false>, waitMs = 30_000, intervalMs = 250): Promise<T> => {
    const deadline = Date.now() + waitMs;
    let lastError: unknown;
    for (;;) {
      try {
        const result = await check();
        if (result) return result;
      } catch (error) {
        lastError = error;
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${waitMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
      }
      if (proc.exitCode !== null) throw new Error(`prometheus exited while waiting for ${what}:\n${log}`);
      await Bun.sleep(intervalMs);
    }
  };

  const running: RunningPrometheus = {
    url,
    port,
    pid: proc.pid,
    dir,
    configFile,
    process: proc,
    output: () => log,
    stop,
    waitFor,
    query: async (promql, time) => {
      const data = await api<{ resultType: string; result: unknown }>('/api/v1/query', {
        query: promql,
        ...(time === undefined ? {} : { time: String(time) }),
      });
      if (data.resultType === 'scalar') {
        const [ts, value] = data.result as [number, string];
        return [{ metric: {}, value: [ts, value] }];
      }
      return data.result as PromSample[];
    },
    queryRange: async (promql, start, end, step) =>
      (await api<{ result: PromSeries[] }>('/api/v1/query_range', { query: promql, start: String(start), end: String(end), step: String(step) })).result,
    rules: async () => (await get<{ groups: PromRuleGroup[] }>('/api/v1/rules')).groups,
    alerts: async () => (await get<{ alerts: PromAlert[] }>('/api/v1/alerts')).alerts,
    targets: async () => (await get<{ activeTargets: PromTarget[] }>('/api/v1/targets?state=active')).activeTargets,
    waitForTargetsUp: (waitMs = 30_000) =>
      waitFor(
        'every scrape target to be up',
        async () => {
          const targets = await running.targets();
          return targets.length > 0 && targets.every((t) => t.health === 'up') ? targets : undefined;
        },
        waitMs,
      ),
  };

  try {
    await waitFor('prometheus /-/ready', async () => (await fetch(`${url}/-/ready`)).ok, timeoutMs);
    if (options.scrapeSelf) {
      writeFileSync(configFile, scrapeConfig(options, ruleFiles, `127.0.0.1:${port}`));
      proc.kill('SIGHUP');
      await waitFor(
        'the config reload adding the prometheus job',
        async () => {
          const { yaml } = await get<{ yaml: string }>('/api/v1/status/config');
          return yaml.includes('job_name: prometheus');
        },
        timeoutMs,
      );
      if (ruleFiles.length) {
        await waitFor('the rule files to be loaded', async () => (await running.rules()).length > 0, timeoutMs);
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return running;
}

export interface PromtoolResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs `promtool` with the given arguments (e.g. `['check', 'rules', file]`). */
export async function promtool(args: string[], cwd?: string): Promise<PromtoolResult> {
  const proc = Bun.spawn([requireBinary('promtool'), ...args], { cwd, stdout: 'pipe', stderr: 'pipe' });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { exitCode, stdout, stderr };
}

/** The numeric value of an instant-query sample. */
export function sampleValue(sample: PromSample): number {
  return Number(sample.value[1]);
}
