/**
 * Delay before retry number `attempt` (1 = the retry after the first failed attempt):
 * exponential backoff with "full jitter", a uniformly random wait between 0 and
 * min(maxMs, baseMs * 2^(attempt - 1)). Full jitter spreads a burst of failures over the whole
 * window, so retries do not arrive in synchronised waves.
 */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}
