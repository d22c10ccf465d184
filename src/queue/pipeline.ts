import { FAILURE_REASONS, type Submission } from './types';

/**
 * The simulated processing pipeline: what the seed's background task did to a record (wait a
 * random while, fail now and then). It reads nothing from the record and logs nothing.
 */

export type DelayDistribution = 'uniform' | 'exponential' | 'fixed';

export interface PipelineOptions {
  distribution: DelayDistribution;
  minMs: number;
  maxMs: number;
  /** Probability (0..1) that one attempt fails. */
  failureRate: number;
  /** Source of randomness in [0, 1); injectable so the distributions can be checked. */
  random?: () => number;
}

/** Which attempt of which job is running: ids and the stored trace context, never record data. */
export interface AttemptInfo {
  id: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** The trace context stored with the job at enqueue (null when untraced). */
  trace: string | null;
}

/** One processing attempt. Resolves on success, rejects with a ProcessingFailure otherwise. */
export type Processor = (record: Submission, attempt: AttemptInfo) => Promise<void>;

/** A failed attempt; `code` is the fixed reason code stored as the job's lastError. */
export class ProcessingFailure extends Error {
  override name = 'ProcessingFailure';
  constructor(readonly code: string) {
    super(`processing attempt failed: ${code}`);
  }
}

/**
 * One simulated delay in milliseconds.
 * - uniform: anywhere from min to max, like the seed (10 to 100 ms);
 * - exponential: min plus an exponential tail with mean (max - min) / 4, capped at max: mostly
 *   fast with a few slow attempts, like a real dependency;
 * - fixed: always min.
 */
export function processingDelayMs(options: PipelineOptions, random: () => number = Math.random): number {
  const { minMs, maxMs } = options;
  switch (options.distribution) {
    case 'fixed':
      return minMs;
    case 'uniform':
      return minMs + random() * (maxMs - minMs);
    case 'exponential': {
      const mean = (maxMs - minMs) / 4;
      // 1 - random() is in (0, 1], so the logarithm is finite.
      return Math.min(maxMs, minMs - mean * Math.log(1 - random()));
    }
  }
}

export function createSimulatedPipeline(options: PipelineOptions): Processor {
  const random = options.random ?? Math.random;
  // One shared failure object: attempts fail often (10% by default) and need no stack trace.
  const failure = new ProcessingFailure(FAILURE_REASONS.processingFailed);
  const outcome = (resolve: () => void, reject: (error: unknown) => void) => (random() < options.failureRate ? reject(failure) : resolve());

  return () => {
    const delay = processingDelayMs(options, random);
    // Zero delay skips the timer entirely, so worker throughput measures the queue, not setTimeout.
    if (delay <= 0) return random() < options.failureRate ? Promise.reject(failure) : Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      setTimeout(() => outcome(resolve, reject), delay);
    });
  };
}
