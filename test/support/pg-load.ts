import { SEED_RECORD } from './service';

/**
 * A bounded stream of real POST /submit_data requests against a changing set of instances, for
 * the multi-instance and fault tests: it records every answer, so a test can check that each
 * `202` id reached a final state and that nothing but the documented answers came back.
 */
export interface Answer {
  /** Index of the instance asked. */
  target: number;
  /** HTTP status, or 0 for a connection error (instance gone), or -1 for no answer in time. */
  status: number;
  id?: string;
  retryAfter?: string | null;
  /** `type` of a problem+json body (e.g. …/queue-unavailable) and its detail. */
  problem?: string;
  detail?: string;
  ms: number;
}

export interface LoadOptions {
  /** Base URLs to spread requests over; read before each request, so tests may swap entries. */
  targets: () => Array<string | undefined>;
  /** Requests in flight at once. */
  concurrency: number;
  /** Stop after this many requests. */
  total: number;
  /** Also stop as soon as this returns true (checked before each request). */
  until?: () => boolean;
  /** A request that takes longer counts as a hang (status -1). */
  timeoutMs?: number;
  /** Pause between one request's answer and the next on the same lane. */
  pauseMs?: number;
  onAnswer?: (answer: Answer, sent: number) => void;
}

export async function runLoad(options: LoadOptions): Promise<Answer[]> {
  const answers: Answer[] = [];
  let sent = 0;
  const lane = async (laneNo: number) => {
    while (sent < options.total && !options.until?.()) {
      const n = sent++;
      const targets = options.targets();
      let index = (n + laneNo) % targets.length;
      for (let i = 0; i < targets.length && !targets[index]; i++) index = (index + 1) % targets.length;
      const base = targets[index];
      const started = performance.now();
      let answer: Answer;
      if (!base) {
        answer = { target: index, status: 0, ms: 0 };
        await Bun.sleep(10);
      } else {
        try {
          const res = await fetch(`${base}/submit_data`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(SEED_RECORD),
            signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
          });
          const text = await res.text();
          let body: Record<string, unknown> = {};
          try {
            body = JSON.parse(text) as Record<string, unknown>;
          } catch {}
          answer = {
            target: index,
            status: res.status,
            id: typeof body.id === 'string' && res.status === 202 ? body.id : undefined,
            retryAfter: res.headers.get('retry-after'),
            problem: typeof body.type === 'string' ? body.type : undefined,
            detail: typeof body.detail === 'string' ? body.detail : undefined,
            ms: performance.now() - started,
          };
        } catch (error) {
          const timedOut = (error as Error).name === 'TimeoutError';
          answer = { target: index, status: timedOut ? -1 : 0, ms: performance.now() - started };
        }
      }
      answers.push(answer);
      options.onAnswer?.(answer, n);
      if (options.pauseMs) await Bun.sleep(options.pauseMs);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, i) => lane(i)));
  return answers;
}

/** Polls `check` until it returns true or `timeoutMs` passes; returns whether it became true. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (performance.now() > deadline) return false;
    await Bun.sleep(everyMs);
  }
}

/** Tally of answer statuses, e.g. { "202": 580, "503": 12, "0": 8 } (for assertion messages). */
export function tally(answers: Answer[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of answers) out[a.status] = (out[a.status] ?? 0) + 1;
  return out;
}
