import { Database } from 'bun:sqlite';
import { join } from 'node:path';
import { REPO_ROOT } from './service';

/** Queue settings that make tests fast: no simulated delay, no failures, short backoff and leases. */
export const FAST_QUEUE_ENV: Record<string, string> = {
  FAILURE_RATE: '0',
  PROCESSING_DELAY_DISTRIBUTION: 'fixed',
  PROCESSING_DELAY_MIN_MS: '0',
  PROCESSING_DELAY_MAX_MS: '0',
  RETRY_BASE_MS: '10',
  RETRY_MAX_MS: '50',
  SHUTDOWN_DRAIN_MS: '0',
};

export interface JobRow {
  id: string;
  state: number;
  attempts: number;
  last_error: string | null;
  finished_at: number | null;
}

export const STATE = { queued: 0, processing: 1, succeeded: 2, failed: 3 } as const;

/** Reads the queue file of a STOPPED service (so every commit is in it and nothing changes under the test). */
export function readJobs(dataDir: string): Map<string, JobRow> {
  const db = new Database(join(dataDir, 'queue.sqlite'), { readonly: true });
  try {
    const rows = db.query<JobRow, []>('SELECT id, state, attempts, last_error, finished_at FROM jobs').all();
    return new Map(rows.map((row) => [row.id, row]));
  } finally {
    db.close();
  }
}

/** Polls until `check` returns a value other than undefined/false, or fails after timeoutMs. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
}

export interface JobStatusBody {
  id: string;
  status: 'queued' | 'processing' | 'succeeded' | 'failed';
  attempts: number;
  lastError: string | null;
  finishedAt: string | null;
  nextAttemptAt: string | null;
}

export async function jobStatus(baseUrl: string, id: string): Promise<JobStatusBody | undefined> {
  const res = await fetch(`${baseUrl}/submissions/${id}`);
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`GET /submissions/${id} answered ${res.status}`);
  return (await res.json()) as JobStatusBody;
}

/** Waits until every id is succeeded or failed; returns their final statuses. */
export async function waitUntilFinal(baseUrl: string, ids: Iterable<string>, timeoutMs = 30_000): Promise<Map<string, JobStatusBody>> {
  const pending = new Set(ids);
  const final = new Map<string, JobStatusBody>();
  await waitFor(
    `${pending.size} jobs to finish`,
    async () => {
      for (const id of [...pending]) {
        const status = await jobStatus(baseUrl, id);
        if (status && (status.status === 'succeeded' || status.status === 'failed')) {
          final.set(id, status);
          pending.delete(id);
        }
      }
      return pending.size === 0;
    },
    timeoutMs,
  );
  return final;
}

/**
 * One sample's value from a Prometheus text exposition, e.g. sample(text, 'pipewatch_queue_jobs{state="queued"}').
 * The `queue` label (the queue's opaque id) is ignored unless `series` names it.
 */
export function sample(exposition: string, series: string): number | undefined {
  for (const raw of exposition.split('\n')) {
    const line = series.includes('queue="') ? raw : raw.replace(/\{queue="[^"]*"\}/, '').replace(/queue="[^"]*",?/, '');
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

export async function scrape(metricsUrl: string): Promise<string> {
  return (await fetch(`${metricsUrl}/metrics`)).text();
}

/** Runs `bun src/main.ts` to its exit (for start-up failures): exit code and output. */
export async function runToExit(env: Record<string, string>, timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = Bun.spawn([process.execPath, join(REPO_ROOT, 'src/main.ts')], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}
