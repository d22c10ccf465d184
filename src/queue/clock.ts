/** The engine's time source: milliseconds since the epoch. */
export type Clock = () => number;

/**
 * The wall clock as it read when the queue started, advanced by the monotonic clock since
 * (performance.now()). Every time the engine computes or compares — retry due times, lease
 * deadlines, job ages, retention cut-offs — comes from here, so a step of the system clock while
 * the process runs (NTP correcting a wrong clock, an operator's `date -s`) moves none of them:
 * a step back no longer holds retries for the size of the step or reads the oldest job's age as
 * 0, and a step forward no longer prunes every finished job at once. The price: the times shown
 * in the status resource drift from the system clock by the size of such a step until the next
 * start. Times written by an earlier process under a clock that has since stepped are repaired
 * by the engine's housekeeping (`JobStore.clampDue`, and the age gauge's "seen since" floor).
 */
export function monotonicClock(): Clock {
  const origin = Date.now() - performance.now();
  return () => Math.round(origin + performance.now());
}
