import type { Logger } from '../log';
import type { AttemptSpan, EnqueueSpan, JobTracer } from '../tracing/queue';
import type { Metrics, QueueGaugeSnapshot, QueueGaugeSource } from '../metrics';
import { retryDelayMs } from './backoff';
import { monotonicClock, type Clock } from './clock';
import { ProcessingFailure, type Processor } from './pipeline';
import type { ClaimedJob, CommitRequest, CommitResult, JobStore, NewJob, Renewal, Settle } from './store';
import {
  FAILURE_REASONS,
  QueueUnavailableError,
  SubmissionAbortedError,
  type JobState,
  type JobStatus,
  type Queue,
  type QueueStats,
  type Submission,
} from './types';

export interface EngineOptions {
  concurrency: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  capacity: number;
  /** The longest one attempt may run (LEASE_MS): past it the attempt is given up and retried. */
  leaseMs: number;
  retentionMaxAgeMs: number;
  retentionMaxFinished: number;
  process: Processor;
  random?: () => number;
  /** Shared stores: how often to look for due work while workers are free. */
  pollMs?: number;
  /** Shared stores: how long a stored lease lasts before it must be renewed (at most leaseMs). */
  sharedLeaseMs?: number;
  /** The engine's time source; see clock.ts for why it is monotonic. */
  clock?: Clock;
  /** The group-commit coalescing window (default COALESCE_MS). */
  coalesceMs?: number;
  /** Present only while tracing is on: PRODUCER spans for enqueues, CONSUMER spans for attempts. */
  tracer?: JobTracer;
}

/** One tick's enqueues, committed together; every enqueue of the tick waits on the same promise. */
interface Batch {
  jobs: NewJob[];
  /** The request signal of each enqueue (undefined: none given). */
  signals: Array<AbortSignal | undefined>;
  /** Jobs left out of the commit because their request was already gone (by id). */
  dropped: Set<string>;
  /** performance.now() of each enqueue, for the commit-latency histogram. */
  arrivals: number[];
  /** The PRODUCER span of each job (tracing on only). */
  spans: EnqueueSpan[];
  committed: PromiseWithResolvers<void>;
  /** Jobs it held when a flush last looked at it (see COALESCE_MS). */
  seen: number;
}

interface Running {
  job: ClaimedJob;
  /** performance.now() when it started, for the processing histogram. */
  startedAt: number;
  /** Engine time past which the attempt is given up (LEASE_MS). */
  deadline: number;
  /** Engine time at which the store's lease ends unless renewed (shared stores renew it). */
  leaseUntil: number;
  /** Set once the attempt has been settled (finished, timed out, released or lost); later answers are ignored. */
  done: boolean;
  /** Its CONSUMER span (tracing on only). */
  span: AttemptSpan | undefined;
}

/** Rows deleted per retention transaction: keeps each one to a few milliseconds. */
const PRUNE_BATCH = 1000;
/** Expired leases a shared store recovers per call. */
const RECOVER_BATCH = 1000;
/** After a failed commit, wait this long before trying again instead of spinning. */
const COMMIT_RETRY_MS = 100;
/** Retry-After when the queue is draining for a restart. */
const DRAINING_RETRY_AFTER_S = 5;
/** Retry-After when a commit failed and the store knows no better (disk full, I/O error): an operator may have to act. */
const STORAGE_RETRY_AFTER_S = 30;
/** A shared store's lease is renewed in steps of this much (at most LEASE_MS), so a dead instance's jobs wait this long, not LEASE_MS. */
const SHARED_LEASE_MS = 10_000;
/** Default poll interval for due work on a shared store. */
const POLL_MS = 200;
/** Housekeeping (retention, clock-step repair, shared figures) runs about this often. */
const HOUSEKEEPING_MS = 1000;
/** At most one `queue commit failed` error line per this long; the rest are counted in the next one. */
const ERROR_LOG_INTERVAL_MS = 10_000;
/**
 * Group-commit coalescing, after PostgreSQL's commit_delay: while the batch still grew since the
 * last loop turn, its commit waits one more turn, for at most this long after its first enqueue.
 * Requests whose bodies arrive together then share one commit (one WAL write, one fsync with
 * SQLITE_SYNCHRONOUS=FULL, one round trip to PostgreSQL) instead of splitting over two or three:
 * with 50 connections, 49.5 rows a commit instead of 35. A lone request waits one loop turn.
 * Measured in bench:http (README): p99 down, throughput unchanged.
 */
const COALESCE_MS = 0.3;

/**
 * The queue itself, over any JobStore. Everything that writes goes through `flush`, which runs
 * once per event-loop tick (setImmediate; a turn or two later while enqueues keep arriving, see
 * COALESCE_MS) and puts that tick's enqueues, finished attempts, lease renewals and new leases
 * into ONE `store.commit`: that is the group commit. An enqueue's promise
 * resolves only after that commit resolved. At most one commit is in flight; work that arrives
 * meanwhile goes into the next one.
 */
export class JobQueue implements Queue, QueueGaugeSource {
  /** Jobs per state: kept here for single-owner stores; for shared ones, the last poll plus what this instance did since. */
  private counts: Record<JobState, number> = { queued: 0, processing: 0, succeeded: 0, failed: 0 };
  private oldest: { createdAt: number; seenAt: number } | null = null;
  private leader = true;
  private batch: Batch | undefined;
  private settles: Settle[] = [];
  private readonly running = new Map<number, Running>();
  private commitInFlight: Promise<void> | undefined;
  /** Enqueues inside the commit in flight: part of the backlog for backpressure until it resolves. */
  private enqueuesInFlight = 0;
  private flushAgain = false;
  private flushScheduled = false;
  /** Earliest engine time a queued job may be due; Infinity when nothing is queued. */
  private dueAt = Infinity;
  private dueTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private maintenanceTimer: ReturnType<typeof setInterval> | undefined;
  private lastHousekeepingAt = -Infinity;
  private housekeeping: Promise<void> | undefined;
  private started = false;
  private stopping = false;
  private closed = false;
  private stopped: Promise<void> | undefined;
  private idle: PromiseWithResolvers<void> | undefined;
  private readonly random: () => number;
  private readonly clock: Clock;
  private readonly shared: boolean;
  private readonly storeLeaseMs: number;
  private readonly pollMs: number;
  private readonly coalesceMs: number;
  private readonly drain: DrainRate;
  private readonly commitErrors: RateLimitedLog;
  private readonly housekeepingErrors: RateLimitedLog;
  private unwatchGauges: () => void = () => {};
  /** Outside any request's context: one group commit serves many requests. */
  private readonly runFlush: () => void;

  /** Opens the queue on an open store: recovery (single-owner stores) and the first count happen here. */
  static async open(store: JobStore, options: EngineOptions, deps: { metrics: Metrics; log: Logger }): Promise<JobQueue> {
    const queue = new JobQueue(store, options, deps);
    await queue.resume();
    return queue;
  }

  private constructor(
    private readonly store: JobStore,
    private readonly options: EngineOptions,
    private readonly deps: { metrics: Metrics; log: Logger },
  ) {
    this.random = options.random ?? Math.random;
    this.clock = options.clock ?? monotonicClock();
    this.shared = store.ownership === 'shared';
    this.storeLeaseMs = this.shared ? Math.min(options.leaseMs, options.sharedLeaseMs ?? SHARED_LEASE_MS) : options.leaseMs;
    this.pollMs = options.pollMs ?? POLL_MS;
    this.coalesceMs = options.coalesceMs ?? COALESCE_MS;
    this.drain = new DrainRate(this.clock);
    this.commitErrors = new RateLimitedLog(this.clock, ERROR_LOG_INTERVAL_MS);
    this.housekeepingErrors = new RateLimitedLog(this.clock, ERROR_LOG_INTERVAL_MS);
    const flush = () => this.flush();
    this.runFlush = options.tracer ? options.tracer.detached(flush) : flush;
  }

  private async resume(): Promise<void> {
    const { store, options } = this;
    const { metrics } = this.deps;
    if (!this.shared) {
      // Only this process uses the data: every attempt still `processing` belongs to a process
      // that died. (A shared store's are reclaimed only once their lease ends: see housekeep.)
      let requeued = 0;
      const deadLettered: string[] = [];
      for (;;) {
        const batch = await store.recover({
          leaseEndedBy: Number.MAX_SAFE_INTEGER,
          now: this.clock(),
          maxAttempts: options.maxAttempts,
          reason: FAILURE_REASONS.interrupted,
          limit: RECOVER_BATCH,
        });
        requeued += batch.requeued;
        deadLettered.push(...batch.deadLettered);
        if (batch.requeued + batch.deadLettered.length < RECOVER_BATCH) break;
      }
      this.recovered(requeued, deadLettered, 'recovered jobs interrupted by an unclean stop');
    }
    const stats = await store.stats();
    this.counts = { ...stats.depth };
    this.leader = stats.leader;
    this.observeOldest(stats.oldestUnfinishedCreatedAt);
    this.dueAt = this.shared ? this.clock() : (stats.nextRunAt ?? Infinity);
    store.onWake?.(() => {
      this.dueAt = Math.min(this.dueAt, this.clock());
      this.scheduleFlush();
    });
    metrics.jobsInFlight.set(0);
    this.unwatchGauges = metrics.watchQueue(this);
  }

  enqueue(record: Submission, options: { trace?: string | null; signal?: AbortSignal } = {}): Promise<string> {
    if (this.stopping) return Promise.reject(new QueueUnavailableError('draining', DRAINING_RETRY_AFTER_S));
    const pending = (this.batch?.jobs.length ?? 0) + this.enqueuesInFlight;
    if (this.counts.queued + this.counts.processing + pending >= this.options.capacity) {
      return Promise.reject(new QueueUnavailableError('capacity', this.retryAfterSeconds()));
    }
    let batch = this.batch;
    if (!batch) {
      batch = this.batch = { jobs: [], signals: [], dropped: new Set(), arrivals: [], spans: [], committed: Promise.withResolvers<void>(), seen: 0 };
      this.scheduleFlush();
    }
    const id = Bun.randomUUIDv7();
    const span = this.options.tracer?.enqueue();
    if (span) batch.spans.push(span);
    batch.jobs.push({ id, record, trace: span?.trace ?? options.trace ?? null });
    batch.signals.push(options.signal);
    batch.arrivals.push(performance.now());
    const { dropped } = batch;
    return batch.committed.promise.then(() => {
      if (dropped.has(id)) throw new SubmissionAbortedError();
      return id;
    });
  }

  async status(id: string): Promise<JobStatus | undefined> {
    return this.closed ? undefined : this.store.status(id);
  }

  healthy(): boolean {
    return !this.closed && (this.store.healthy?.() ?? true);
  }

  stats(): QueueStats {
    const unfinished = this.counts.queued + this.counts.processing;
    let age = 0;
    if (!this.closed && unfinished > 0 && this.oldest) {
      const now = this.clock();
      // Since it was created, or at least since this process first saw it: a job created under a
      // clock that stood ahead of this one (a step back across a restart) still shows its wait.
      age = Math.max(0, now - this.oldest.createdAt, now - this.oldest.seenAt) / 1000;
    }
    return {
      depth: { ...this.counts },
      oldestUnfinishedAgeSeconds: age,
      capacity: this.options.capacity,
      queueId: this.store.queueId,
      leader: this.leader,
    };
  }

  start(): void {
    if (this.started || this.stopping) return;
    this.started = true;
    const every = Math.max(20, Math.min(this.shared ? Math.min(this.pollMs, this.storeLeaseMs / 4) : 1000, Math.floor(this.options.leaseMs / 4)));
    this.maintenanceTimer = setInterval(() => this.maintain(), every);
    this.maintenanceTimer.unref?.();
    this.scheduleFlush();
  }

  stop(graceMs: number): Promise<void> {
    this.stopped ??= this.drainAndStop(graceMs);
    return this.stopped;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (!this.stopping) {
      // Commit what was accepted and finished; running attempts keep their leases (a crash-like
      // close: the next start recovers them).
      this.stopping = true;
      await this.quiesce();
    }
    this.clearTimers();
    this.closed = true;
    for (const span of this.batch?.spans ?? []) span.refused('draining');
    this.batch?.committed.reject(new QueueUnavailableError('draining', DRAINING_RETRY_AFTER_S));
    this.batch = undefined;
    this.unwatchGauges();
    await this.housekeeping?.catch(() => {});
    await this.store.close();
  }

  private async drainAndStop(graceMs: number): Promise<void> {
    this.stopping = true;
    const { log } = this.deps;
    // Commit what was accepted and what finished; no new leases from here on.
    this.flush();
    if (this.running.size > 0) {
      // Keep part of the grace period for releasing the rest and the final commit.
      const wait = Math.max(0, graceMs - Math.min(500, graceMs / 4));
      this.idle = Promise.withResolvers<void>();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([this.idle.promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, wait)))]);
      clearTimeout(timer);
    }
    // Give the rest back at once, uncounted: another instance (or the next start) takes them
    // without waiting for the lease to end.
    const cutOff = this.running.size;
    const now = this.clock();
    for (const run of this.running.values()) {
      run.done = true;
      run.span?.end({ kind: 'released' });
      this.settles.push({ kind: 'release', seq: run.job.seq, attempts: run.job.attempts, now });
    }
    this.running.clear();
    this.deps.metrics.jobsInFlight.set(0);
    await this.quiesce();
    this.clearTimers();
    log.info({ cut_off: cutOff, queued: this.counts.queued }, cutOff > 0 ? 'queue stopped; attempts past the grace period were queued again' : 'queue stopped');
  }

  /** Commits everything pending; a store that keeps failing gets a few tries, then the leases are left to expire. */
  private async quiesce(): Promise<void> {
    for (let failures = 0; failures < 3; ) {
      if (this.commitInFlight) {
        await this.commitInFlight;
        continue;
      }
      if (!this.batch && this.settles.length === 0) return;
      const before = this.settles.length + (this.batch?.jobs.length ?? 0);
      this.flush();
      await this.commitInFlight;
      if (this.settles.length >= before && before > 0) failures++;
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    setImmediate(this.runFlush);
  }

  /** The group commit: one store.commit for everything this tick produced. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    if (this.commitInFlight) {
      this.flushAgain = true;
      return;
    }
    if (this.batch && this.stillGrowing(this.batch)) {
      this.scheduleFlush();
      return;
    }
    const now = this.clock();
    const free = this.started && !this.stopping ? this.options.concurrency - this.running.size : 0;
    const renewing = this.shared ? this.renewalsDue(now) : [];
    const claim = free > 0 && (this.dueAt <= now || this.batch !== undefined) ? free : 0;
    if (!this.batch && this.settles.length === 0 && renewing.length === 0 && claim === 0) {
      this.armDueTimer(now);
      return;
    }
    const batch = this.batch && this.withoutAbandoned(this.batch);
    this.batch = undefined;
    const request: CommitRequest = {
      now,
      enqueue: batch?.jobs ?? [],
      settles: this.settles,
      renew: renewing.map((run): Renewal => ({ seq: run.job.seq, attempts: run.job.attempts })),
      claim,
      leaseUntil: now + this.storeLeaseMs,
    };
    this.settles = [];
    this.enqueuesInFlight = request.enqueue.length;
    this.commitInFlight = this.store
      .commit(request)
      .then(
        (result) => this.committed(request, batch, renewing, result),
        (error: unknown) => this.commitFailed(error, batch, request.settles),
      )
      .finally(() => {
        this.commitInFlight = undefined;
        this.enqueuesInFlight = 0;
        if (this.flushAgain) {
          this.flushAgain = false;
          this.scheduleFlush();
        }
      });
  }

  /** See COALESCE_MS (real time, not the engine clock: it counts loop turns). Never while stopping: a drain commits what it has at once. */
  private stillGrowing(batch: Batch): boolean {
    const growing = !this.stopping && batch.jobs.length > batch.seen && performance.now() - batch.arrivals[0]! < this.coalesceMs;
    batch.seen = batch.jobs.length;
    return growing;
  }

  /**
   * Leaves out the submissions whose request is already gone (the client closed the connection,
   * or Bun 1.4.5 closed it under pipelined requests): their 202 could never be sent, and a client
   * that retries would otherwise have its record stored twice.
   */
  private withoutAbandoned(batch: Batch): Batch {
    if (!batch.signals.some((signal) => signal?.aborted)) return batch;
    const kept: Batch = { ...batch, jobs: [], signals: [], arrivals: [], spans: [] };
    batch.jobs.forEach((job, i) => {
      // With tracing on every job has its PRODUCER span at the same index.
      const span = batch.spans[i];
      if (batch.signals[i]?.aborted) {
        batch.dropped.add(job.id);
        span?.refused('aborted');
        return;
      }
      kept.jobs.push(job);
      kept.signals.push(batch.signals[i]);
      kept.arrivals.push(batch.arrivals[i]!);
      if (span) kept.spans.push(span);
    });
    return kept;
  }

  private committed(request: CommitRequest, batch: Batch | undefined, renewing: Running[], result: CommitResult): void {
    const { metrics, log } = this.deps;
    const { now } = request;
    this.commitErrors.recovered(log, 'queue commits succeed again');
    if (batch) {
      const end = performance.now();
      for (const arrival of batch.arrivals) metrics.enqueueCommitSeconds.observe((end - arrival) / 1000);
      if (this.counts.queued + this.counts.processing === 0) this.oldest = null;
      this.counts.queued += batch.jobs.length;
      if (!this.oldest) this.oldest = { createdAt: now, seenAt: now };
      metrics.jobsEnqueued.inc(batch.jobs.length);
      for (const [i, span] of batch.spans.entries()) span.committed(batch.jobs[i]!.id, batch.jobs.length);
      batch.committed.resolve();
    }
    for (const [i, s] of request.settles.entries()) if (result.applied[i]) this.settled(s);
    renewing.forEach((run, i) => {
      if (result.renewed[i]) run.leaseUntil = Math.max(run.leaseUntil, request.leaseUntil);
      else if (!run.done) this.lost(run);
    });

    if (result.nextRunAt !== undefined) {
      // The store knows the next due time exactly.
      this.dueAt = result.nextRunAt ?? Infinity;
    } else {
      // A shared store: poll. A full claim may have left more due work behind.
      if (request.claim > 0) this.dueAt = result.claimed.length === request.claim ? now : now + this.pollMs;
      if (batch) this.dueAt = Math.min(this.dueAt, now);
      for (const s of request.settles) this.dueAt = Math.min(this.dueAt, s.kind === 'retry' ? s.runAt : s.kind === 'release' ? now : Infinity);
    }
    if (this.counts.queued + this.counts.processing === 0) this.oldest = null;
    for (const job of result.claimed) this.run(job, now);
    this.armDueTimer(now);
  }

  private commitFailed(error: unknown, batch: Batch | undefined, settles: readonly Settle[]): void {
    // Nothing of this tick was written (or its outcome is unknown). The enqueues are refused (the
    // client gets a 503, not a 202); finished attempts are kept and written with the next commit.
    const code = errorCode(error);
    this.commitErrors.error(this.deps.log, { code, enqueues: batch?.jobs.length ?? 0, settles: settles.length }, 'queue commit failed');
    for (const span of batch?.spans ?? []) span.refused('storage');
    batch?.committed.reject(new QueueUnavailableError('storage', this.store.retryAfterSeconds?.(error) ?? STORAGE_RETRY_AFTER_S));
    this.settles = settles.concat(this.settles);
    if (!this.retryTimer && !this.closed) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.scheduleFlush();
      }, COMMIT_RETRY_MS);
    }
  }

  /** Counters and outcome metrics, only after the settle is committed. */
  private settled(s: Settle): void {
    const { metrics } = this.deps;
    this.counts.processing--;
    switch (s.kind) {
      case 'succeeded':
      case 'failed': // finished either way: it leaves the backlog with its attempt count
        this.counts[s.kind]++;
        metrics.jobOutcomes.inc({ outcome: s.kind });
        metrics.jobAttempts.observe(s.attempts);
        this.drain.add(1);
        break;
      case 'retry':
        this.counts.queued++;
        metrics.jobOutcomes.inc({ outcome: 'retried' });
        break;
      case 'release':
        this.counts.queued++;
        break;
    }
  }

  private run(job: ClaimedJob, now: number): void {
    const { metrics } = this.deps;
    this.counts.queued--;
    this.counts.processing++;
    const waitedMs = Math.max(0, now - job.availableAt);
    metrics.queueWait.observe(waitedMs / 1000);
    const span = this.options.tracer?.attempt({ id: job.id, attempt: job.attempts, trace: job.trace, queueWaitMs: waitedMs });
    const run: Running = { job, startedAt: performance.now(), deadline: now + this.options.leaseMs, leaseUntil: now + this.storeLeaseMs, done: false, span };
    this.running.set(job.seq, run);
    metrics.jobsInFlight.set(this.running.size);
    const attempt = () =>
      this.options.process(job.record, { id: job.id, attempt: job.attempts, trace: job.trace }).then(
        () => this.finish(run, null),
        (error: unknown) => this.finish(run, error instanceof ProcessingFailure ? error.code : FAILURE_REASONS.processingFailed),
      );
    if (span) span.within(attempt);
    else attempt();
  }

  /** An attempt ended (reason null: success). Its settle joins the next group commit. */
  private finish(run: Running, reason: string | null): void {
    if (run.done) return;
    if (run.span) run.span.within(() => this.finishAttempt(run, reason, run.span!));
    else this.finishAttempt(run, reason, undefined);
  }

  private finishAttempt(run: Running, reason: string | null, span: AttemptSpan | undefined): void {
    run.done = true;
    const { metrics, log } = this.deps;
    const { job } = run;
    this.running.delete(job.seq);
    metrics.jobsInFlight.set(this.running.size);
    // A sampled attempt's trace id rides along as the exemplar (shown on OpenMetrics scrapes only).
    metrics.processingSeconds.observe({ value: (performance.now() - run.startedAt) / 1000, exemplarLabels: span?.exemplar() ?? {} });
    const now = this.clock();
    let settle: Settle;
    if (reason === null) {
      settle = { kind: 'succeeded', seq: job.seq, attempts: job.attempts, now };
    } else {
      metrics.processingErrors.inc();
      settle =
        job.attempts >= this.options.maxAttempts
          ? { kind: 'failed', seq: job.seq, attempts: job.attempts, now, reason }
          : {
              kind: 'retry',
              seq: job.seq,
              attempts: job.attempts,
              now,
              reason,
              runAt: now + retryDelayMs(job.attempts, this.options.retryBaseMs, this.options.retryMaxMs, this.random),
            };
    }
    this.settles.push(settle);
    span?.end(
      settle.kind === 'succeeded'
        ? settle
        : settle.kind === 'retry'
          ? { kind: 'retry', reason: settle.reason, delayMs: settle.runAt - now }
          : { kind: 'failed', reason: settle.reason },
    );
    // Ids and reason codes only: the record is personal data.
    if (settle.kind === 'failed') log.warn({ job_id: job.id, attempts: job.attempts, reason }, 'job dead-lettered');
    else log.debug({ job_id: job.id, attempt: job.attempts, outcome: settle.kind, reason: reason ?? undefined }, 'job attempt finished');
    this.scheduleFlush();
    this.checkIdle();
  }

  /** A shared store's lease could not be renewed: another instance may run the job now; this attempt's answer is dropped. */
  private lost(run: Running): void {
    run.done = true;
    run.span?.end({ kind: 'lost' });
    this.running.delete(run.job.seq);
    this.counts.processing--;
    this.deps.metrics.jobsInFlight.set(this.running.size);
    this.deps.log.warn({ job_id: run.job.id, attempt: run.job.attempts }, 'job lease lost; this attempt is abandoned');
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.idle && this.running.size === 0) this.idle.resolve();
  }

  /** Attempts whose store lease ends within half a lease step (shared stores). */
  private renewalsDue(now: number): Running[] {
    const due: Running[] = [];
    for (const run of this.running.values()) if (run.leaseUntil - now < this.storeLeaseMs / 2 && run.deadline > now) due.push(run);
    return due;
  }

  /** Periodic: give up attempts past LEASE_MS, renew shared leases, and about once a second the housekeeping. */
  private maintain(): void {
    if (this.closed) return;
    const now = this.clock();
    for (const run of this.running.values()) if (run.deadline <= now) this.finish(run, FAILURE_REASONS.leaseExpired);
    if (this.shared && this.renewalsDue(now).length > 0) this.scheduleFlush();
    if (this.shared && this.dueAt <= now) this.scheduleFlush();
    if (!this.housekeeping && now - this.lastHousekeepingAt >= HOUSEKEEPING_MS) {
      this.lastHousekeepingAt = now;
      this.housekeeping = this.housekeep(now).finally(() => (this.housekeeping = undefined));
    }
  }

  private async housekeep(now: number): Promise<void> {
    const { store, options } = this;
    const { log } = this.deps;
    try {
      // No backoff puts a job further out than RETRY_MAX_MS: a later run_at was computed under a
      // clock that has since stepped back, and would otherwise hold the job for the whole step.
      const moved = await store.clampDue({ latest: now + options.retryMaxMs, now });
      if (moved > 0) {
        log.warn({ jobs: moved }, 'queued jobs were due later than any backoff allows (the clock stepped back); they are due now');
        this.dueAt = Math.min(this.dueAt, now);
        this.scheduleFlush();
      }
      if (this.shared) {
        const recovered = await store.recover({
          leaseEndedBy: now,
          now,
          maxAttempts: options.maxAttempts,
          reason: FAILURE_REASONS.leaseExpired,
          limit: RECOVER_BATCH,
        });
        this.recovered(recovered.requeued, recovered.deadLettered, 'recovered jobs whose lease expired (an instance died or stalled)');
        if (recovered.requeued > 0) this.dueAt = Math.min(this.dueAt, now);
        const stats = await store.stats();
        this.counts = { ...stats.depth };
        this.leader = stats.leader;
        this.observeOldest(stats.oldestUnfinishedCreatedAt);
      } else if (this.counts.queued + this.counts.processing > 0) {
        this.observeOldest(await store.oldestUnfinishedCreatedAt());
      }
      await this.prune();
      this.housekeepingErrors.recovered(log, 'queue housekeeping succeeds again');
    } catch (error) {
      // A shared queue's figures could not be refreshed and this instance cannot renew its leader
      // lease either: stop exporting frozen figures as if they were live (the gauges show a gap).
      if (this.shared) this.leader = false;
      this.housekeepingErrors.error(log, { code: errorCode(error) }, 'queue housekeeping (retention, lease recovery, figures) failed');
    }
  }

  private async prune(): Promise<void> {
    for (let rounds = 0; rounds < 100 && !this.closed; rounds++) {
      const finished = this.counts.succeeded + this.counts.failed;
      const excess = Math.max(0, finished - this.options.retentionMaxFinished);
      const pruned = await this.store.prune({ excess, finishedBefore: this.clock() - this.options.retentionMaxAgeMs, limit: PRUNE_BATCH });
      this.counts.succeeded = Math.max(0, this.counts.succeeded - pruned.succeeded);
      this.counts.failed = Math.max(0, this.counts.failed - pruned.failed);
      if (pruned.succeeded + pruned.failed < PRUNE_BATCH) return;
      // More to delete (e.g. retention was just lowered): another small transaction shortly,
      // letting requests and workers in between, rather than one huge one now.
      await Bun.sleep(10);
    }
  }

  /** Metrics and log lines for jobs given up by recovery: each counts as a failed attempt. */
  private recovered(requeued: number, deadLettered: readonly string[], message: string): void {
    if (requeued + deadLettered.length === 0) return;
    const { metrics, log } = this.deps;
    metrics.jobOutcomes.inc({ outcome: 'retried' }, requeued);
    metrics.jobOutcomes.inc({ outcome: 'failed' }, deadLettered.length);
    log.warn({ requeued, dead_lettered: deadLettered.length }, message);
    // By id, like every other dead letter (ids and reason codes only).
    for (const id of deadLettered)
      log.warn({ job_id: id, reason: this.shared ? FAILURE_REASONS.leaseExpired : FAILURE_REASONS.interrupted }, 'job dead-lettered');
  }

  private observeOldest(createdAt: number | null): void {
    if (createdAt === null) this.oldest = null;
    else if (this.oldest?.createdAt !== createdAt) this.oldest = { createdAt, seenAt: this.clock() };
  }

  private armDueTimer(now: number): void {
    if (this.dueTimer) {
      clearTimeout(this.dueTimer);
      this.dueTimer = undefined;
    }
    if (!this.started || this.stopping || this.dueAt === Infinity) return;
    if (this.dueAt <= now) {
      if (this.running.size < this.options.concurrency) this.scheduleFlush();
      return;
    }
    this.dueTimer = setTimeout(() => {
      this.dueTimer = undefined;
      this.scheduleFlush();
    }, this.dueAt - now);
  }

  private clearTimers(): void {
    clearTimeout(this.dueTimer);
    clearTimeout(this.retryTimer);
    clearInterval(this.maintenanceTimer);
    this.dueTimer = this.retryTimer = this.maintenanceTimer = undefined;
  }

  /** What the global gauges show, asked by the metrics at each scrape (no I/O: the snapshot in memory). */
  gauges(): QueueGaugeSnapshot {
    return this.stats();
  }

  /** How long a refused client should wait: the time the workers need to free 1% of the capacity. */
  private retryAfterSeconds(): number {
    const perSecond = this.drain.perSecond();
    if (perSecond <= 0) return 5;
    const room = Math.max(this.options.concurrency, Math.ceil(this.options.capacity / 100));
    return Math.min(60, Math.max(1, Math.ceil(room / perSecond)));
  }
}

function errorCode(error: unknown): string {
  const { code, errno } = error as { code?: unknown; errno?: unknown };
  if (typeof code === 'string') return code;
  if (typeof errno === 'string') return errno; // Bun.SQL: the SQLSTATE is on errno
  return error instanceof Error ? error.name : 'unknown';
}

/**
 * An error that repeats every tick (disk full: one failed commit per tick) is logged once, then
 * at most once per interval with how many were not logged; its end is logged once as well.
 */
class RateLimitedLog {
  private lastAt = -Infinity;
  private suppressed = 0;
  private failing = false;

  constructor(
    private readonly clock: Clock,
    private readonly intervalMs: number,
  ) {}

  error(log: Logger, fields: Record<string, unknown>, message: string): void {
    this.failing = true;
    const now = this.clock();
    if (now - this.lastAt < this.intervalMs) {
      this.suppressed++;
      return;
    }
    log.error({ ...fields, suppressed: this.suppressed }, message);
    this.lastAt = now;
    this.suppressed = 0;
  }

  recovered(log: Logger, message: string): void {
    if (!this.failing) return;
    this.failing = false;
    log.info({ suppressed: this.suppressed }, message);
    this.suppressed = 0;
    this.lastAt = -Infinity;
  }
}

/** Jobs finished per second over the last ~10 s, in one-second buckets. */
class DrainRate {
  private readonly buckets = new Float64Array(10);
  private second = 0;

  constructor(private readonly clock: Clock) {}

  add(n: number): void {
    this.advance();
    this.buckets[this.second % 10]! += n;
  }

  perSecond(): number {
    this.advance();
    let sum = 0;
    for (let i = 0; i < 10; i++) if (i !== this.second % 10) sum += this.buckets[i]!;
    return sum / 9;
  }

  private advance(): void {
    const now = Math.floor(this.clock() / 1000);
    if (now === this.second) return;
    const steps = Math.min(10, now - this.second);
    for (let i = 1; i <= steps; i++) this.buckets[(this.second + i) % 10] = 0;
    this.second = now;
  }
}
