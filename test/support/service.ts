import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll } from 'bun:test';
import type { Subprocess } from 'bun';

export const REPO_ROOT = resolve(import.meta.dir, '../..');

export interface RunningService {
  /** Base URL of the API, e.g. http://127.0.0.1:41234 */
  url: string;
  port: number;
  /** Base URL of /metrics (the API's own URL unless METRICS_PORT was given). */
  metricsUrl: string;
  pid: number;
  dataDir: string;
  /** Every stdout line so far, parsed as JSON where possible. */
  logs: () => Array<Record<string, unknown>>;
  /** stdout and stderr as text. */
  output: () => string;
  /** Sends a signal and waits for the process to exit; resolves with its exit code. */
  stop: (signal?: 'SIGTERM' | 'SIGINT' | 'SIGKILL') => Promise<number | null>;
  exited: Promise<number>;
  process: Subprocess;
}

export interface StartOptions {
  env?: Record<string, string>;
  /** Reuse a data dir (restart after a crash); otherwise a fresh temp dir is made. */
  dataDir?: string;
  /** Command to run instead of `bun src/main.ts`, e.g. the compiled binary. */
  command?: string[];
  cwd?: string;
  /** How long to wait for the "pipewatch listening" line. */
  startTimeoutMs?: number;
}

/**
 * Starts the real service as a child process on a free loopback port (PORT=0, the port is read
 * from its start-up log line) and waits until it listens. Always stop it with `stop()`:
 * tests kill their servers by PID, never leave them behind.
 */
export async function startService(options: StartOptions = {}): Promise<RunningService> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'pipewatch-test-'));
  const command = options.command ?? [process.execPath, join(REPO_ROOT, 'src/main.ts')];
  const proc = Bun.spawn(command, {
    cwd: options.cwd ?? REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      ...options.env,
    },
    stdout: 'pipe',
    stderr: 'pipe',
  });

  let stdout = '';
  let stderr = '';
  const lines: Array<Record<string, unknown>> = [];
  let onLine: ((line: Record<string, unknown>) => void) | undefined;
  const pump = async (stream: ReadableStream<Uint8Array>, isStdout: boolean) => {
    const decoder = new TextDecoder();
    let pending = '';
    for await (const chunk of stream) {
      const text = decoder.decode(chunk, { stream: true });
      if (!isStdout) {
        stderr += text;
        continue;
      }
      stdout += text;
      pending += text;
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const raw = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(raw) as Record<string, unknown>;
        } catch {
          parsed = { raw };
        }
        lines.push(parsed);
        onLine?.(parsed);
      }
    }
  };
  const pumps = Promise.all([pump(proc.stdout, true), pump(proc.stderr, false)]);
  const exited = proc.exited.then(async (code) => {
    await pumps.catch(() => {});
    return code;
  });

  const listening = await new Promise<Record<string, unknown>>((resolveStart, rejectStart) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      rejectStart(new Error(`service did not start within ${options.startTimeoutMs ?? 15000} ms:\n${stdout}\n${stderr}`));
    }, options.startTimeoutMs ?? 15000);
    const check = (line: Record<string, unknown>) => {
      if (line.msg === 'pipewatch listening') {
        clearTimeout(timer);
        resolveStart(line);
      }
    };
    lines.forEach(check);
    onLine = check;
    void exited.then((code) => {
      clearTimeout(timer);
      rejectStart(new Error(`service exited with ${code} before listening:\n${stdout}\n${stderr}`));
    });
  });
  onLine = undefined;

  const port = Number(listening.port);
  const metricsPort = Number(listening.metrics_port ?? port);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    metricsUrl: `http://127.0.0.1:${metricsPort}`,
    pid: proc.pid,
    dataDir,
    logs: () => lines,
    output: () => `${stdout}\n${stderr}`,
    exited,
    process: proc,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      const code = await Promise.race([exited, Bun.sleep(30_000).then(() => undefined)]);
      if (code === undefined) {
        proc.kill('SIGKILL');
        return await exited;
      }
      return code;
    },
  };
}

/**
 * For a test file that starts several services: returns a `start` that works like startService and
 * registers every service it starts to be killed, and its data dir removed, after the file's tests.
 */
export function serviceFleet(): (options?: StartOptions) => Promise<RunningService> {
  const started: RunningService[] = [];
  afterAll(async () => {
    for (const service of started) await service.stop('SIGKILL');
    for (const dir of new Set(started.map((service) => service.dataDir))) removeDataDir(dir);
  });
  return async (options) => {
    const service = await startService(options);
    started.push(service);
    return service;
  };
}

/** Removes a temp data dir made by startService. */
export function removeDataDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export const SEED_RECORD = { name: 'Ravi', age: 32, city: 'Delhi' } as const;

export function submit(baseUrl: string, body: unknown = SEED_RECORD, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${baseUrl}/submit_data`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
