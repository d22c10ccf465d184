import { Type, type Static } from '@sinclair/typebox';

/** The contract between the HTTP layer and whatever processes submissions in the background. */

/** A citizen record as accepted by POST /submit_data. Personal data: never logged, never a label. */
export interface Submission {
  name: string;
  age: number;
  city: string;
}

/** The state of a job, one name in both answers: the 202 body and the status resource say `status`. */
export const JobStateSchema = Type.Union([Type.Literal('queued'), Type.Literal('processing'), Type.Literal('succeeded'), Type.Literal('failed')], {
  description: 'queued (waiting, incl. retry backoff), processing (leased by a worker), succeeded, or failed (dead-lettered after MAX_ATTEMPTS)',
});

/** What GET /submissions/{id} reports. Holds no personal data. */
export const JobStatusSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  status: JobStateSchema,
  attempts: Type.Integer({ minimum: 0 }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  nextAttemptAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'When the job may next run (retry backoff); null unless queued.',
  }),
  finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()], {
    description:
      'A fixed reason code for the most recent failed attempt (kept after a later success): processing_failed, lease_expired or interrupted; never record data.',
  }),
});
export type JobStatus = Static<typeof JobStatusSchema>;
export type JobState = Static<typeof JobStateSchema>;
export const JOB_STATES: readonly JobState[] = JobStateSchema.anyOf.map((literal) => literal.const);

/** The reason codes `lastError` can hold. */
export const FAILURE_REASONS = {
  /** The simulated pipeline reported a failure (FAILURE_RATE). */
  processingFailed: 'processing_failed',
  /** The attempt ran past its lease (LEASE_MS) and was given up. */
  leaseExpired: 'lease_expired',
  /** The process died (crash, SIGKILL, power loss) while the attempt ran; found on the next start. */
  interrupted: 'interrupted',
} as const;
export type FailureReason = (typeof FAILURE_REASONS)[keyof typeof FAILURE_REASONS];

export interface QueueStats {
  depth: Record<JobState, number>;
  /** Seconds since the oldest unfinished job was enqueued; 0 when there is none. */
  oldestUnfinishedAgeSeconds: number;
  capacity: number;
  /** The store's stable id: the `queue` label of the global gauges. */
  queueId: string;
  /** Does this instance export the global gauges (always, for a single-owner store)? */
  leader: boolean;
}

/**
 * Thrown by enqueue when the backlog is at capacity, the queue is draining, or the store could
 * not commit (e.g. disk full): nothing was accepted, the client should retry later.
 */
export class QueueUnavailableError extends Error {
  override name = 'QueueUnavailableError';
  constructor(
    readonly reason: 'capacity' | 'draining' | 'storage',
    readonly retryAfterSeconds: number,
  ) {
    super(
      reason === 'capacity'
        ? 'the processing queue is full'
        : reason === 'draining'
          ? 'the service is shutting down'
          : 'the processing queue cannot store submissions right now',
    );
  }
}

/** The submission's request was gone (connection closed) before its commit: it was not stored. */
export class SubmissionAbortedError extends Error {
  override name = 'SubmissionAbortedError';
  constructor() {
    super('the connection closed before the submission was stored; nothing was stored');
  }
}

/** The data dir or queue file cannot be used; the one-line message names DATA_DIR and what to fix. */
export class QueueStartError extends Error {
  override name = 'QueueStartError';
}

export interface Queue {
  /**
   * Resolves with the job id once the submission is as durable as the driver promises (sqlite: its
   * row is committed). `trace` is stored beside the job in the same commit (see NewJob). Rejects with QueueUnavailableError when full, draining or unable to commit,
   * and with SubmissionAbortedError (nothing stored) when `signal` (the request's) was aborted before the commit.
   */
  enqueue(submission: Submission, options?: { trace?: string | null; signal?: AbortSignal }): Promise<string>;
  /** undefined for an unknown id. Rejects when the store cannot be read (a database away). */
  status(id: string): Promise<JobStatus | undefined>;
  /** A snapshot kept in memory (no I/O): counts, oldest job age, capacity, for gauges and readiness. */
  stats(): QueueStats;
  /** False while the store cannot be reached (a database away): readiness says not ready. */
  healthy?(): boolean;
  /** Starts the workers. */
  start(): void;
  /** Stops taking new jobs and new work; waits up to graceMs for running attempts, then leaves the rest queued. */
  stop(graceMs: number): Promise<void>;
  /** Releases files, connections and timers. After stop(). */
  close(): Promise<void>;
}
