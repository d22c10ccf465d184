import type { Logger } from '../log';
import type { Metrics, QueueGaugeSnapshot } from '../metrics';
import { retryDelayMs } from './backoff';
import { ProcessingFailure, type Processor } from './pipeline';
import type { ClaimedJob, JobStore, Settle } from './store';
import { FAILURE_REASONS, QueueUnavailableError, type JobState, type JobStatus, type Queue, type QueueStats, type Submission } from './types';

export interface EngineOptions {
  concurrency: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  capacity: number;
  leaseMs: number;
  retentionMaxAgeMs: number;
  retentionMaxFinished: number;
  process: Processor;
  random?: () => number;
}

/** One tick's enqueues, committed together; every enqueue of the tick waits on the same promise. */
interface Batch {
  ids: string[];
  records: Submission[];
  /** performance.now() of each enqueue, for the commit-latency histogram. */
  arrivals: number[];
  committed: PromiseWithResolvers<void>;
}

interface Running {
  job: ClaimedJob;
  startedAt: number;
  leaseUntil: number;
  /** Set once the attempt has been settled (finished, timed out or released); later answers are ignored. */
  done: boolean;
}

/** Rows deleted per retention transaction: keeps each one to a few milliseconds. */
const PRUNE_BATCH = 1000;
/** After a failed commit, wait this long before trying again instead of spinning. */
const COMMIT_RETRY_MS = 100;
/** Retry-After when the queue is draining for a restart. */
const DRAINING_RETRY_AFTER_S = 5;
/** Retry-After when a commit failed (disk full, I/O error): an operator has to act first. */
const STORAGE_RETRY_AFTER_S = 30;

/**
 * The queue itself, over any JobStore. Everything that writes goes through `flush`, which runs
 * once per event-loop tick (setImmediate) and puts that tick's enqueues, finished attempts and
 * new leases into ONE transaction: that is the group commit. An enqueue's promise resolves only
 * after that transaction committed.
 */
export class JobQueue implements Queue {
  private readonly counts: Record<JobState, number>;
  private batch: Batch | undefined;
  private settles: Settle[] = [];
  private readonly running = new Map<number, Running>();
  private flushScheduled = false;
  /** Earliest time a queued job may be due; Infinity when nothing is queued. */
  private dueAt = Infinity;
  private dueTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private maintenanceTimer: ReturnType<typeof setInterval> | undefined;
  private lastPruneAt = 0;
  private started = false;
  private stopping = false;
  private closed = false;
  private stopped: Promise<void> | undefined;
  private idle: PromiseWithResolvers<void> | undefined;
  private readonly random: () => number;
  private readonly drain = new DrainRate();
  private readonly unwatchGauges: () => void;
  /** Until the store keeps its own id (the async store contract), one per process. */
  private readonly queueId = crypto.randomUUID();
  private readonly runFlush = () => this.flush();

  constructor(
    private readonly store: JobStore,
    private readonly options: EngineOptions,
    private readonly deps: { metrics: Metrics; log: Logger },
  ) {
    this.random = options.random ?? Math.random;
    const recovered = store.recoverInterrupted(Date.now(), options.maxAttempts, FAILURE_REASONS.interrupted);
    this.counts = store.countByState();
    const { metrics, log } = deps;
    if (recovered.requeued + recovered.failed > 0) {
      // The previous process died with these attempts running: each counts as a failed attempt.
      metrics.jobOutcomes.inc({ outcome: 'retried' }, recovered.requeued);
      metrics.jobOutcomes.inc({ outcome: 'failed' }, recovered.failed);
      log.warn({ requeued: recovered.requeued, dead_lettered: recovered.failed }, 'recovered jobs interrupted by an unclean stop');
    }
    if (this.counts.queued > 0) this.dueAt = store.nextRunAt() ?? Infinity;
    metrics.jobsInFlight.set(0);
    this.unwatchGauges = metrics.watchQueue(this);
  }

  enqueue(record: Submission): Promise<string> {
    if (this.stopping) return Promise.reject(new QueueUnavailableError('draining', DRAINING_RETRY_AFTER_S));
    const pending = this.batch?.ids.length ?? 0;
    if (this.counts.queued + this.counts.processing + pending >= this.options.capacity) {
      return Promise.reject(new QueueUnavailableError('capacity', this.retryAfterSeconds()));
    }
    let batch = this.batch;
    if (!batch) {
      batch = this.batch = { ids: [], records: [], arrivals: [], committed: Promise.withResolvers<void>() };
      this.scheduleFlush();
    }
    const id = Bun.randomUUIDv7();
    batch.ids.push(id);
    batch.records.push(record);
    batch.arrivals.push(performance.now());
    return batch.committed.promise.then(() => id);
  }

  status(id: string): JobStatus | undefined {
    return this.closed ? undefined : this.store.status(id);
  }

  stats(): QueueStats {
    const oldest = this.closed || this.counts.queued + this.counts.processing === 0 ? null : this.store.oldestUnfinishedCreatedAt();
    return {
      depth: { ...this.counts },
      oldestUnfinishedAgeSeconds: oldest === null ? 0 : Math.max(0, (Date.now() - oldest) / 1000),
      capacity: this.options.capacity,
    };
  }

  start(): void {
    if (this.started || this.stopping) return;
    this.started = true;
    const every = Math.min(1000, Math.max(50, Math.floor(this.options.leaseMs / 4)));
    this.maintenanceTimer = setInterval(() => this.maintain(), every);
    this.maintenanceTimer.unref?.();
    this.scheduleFlush();
  }

  stop(graceMs: number): Promise<void> {
    this.stopped ??= this.drainAndStop(graceMs);
    return this.stopped;
  }

  close(): void {
    if (this.closed) return;
    if (!this.stopping) {
      this.stopping = true;
      this.flush();
    }
    this.clearTimers();
    this.closed = true;
    this.batch?.committed.reject(new QueueUnavailableError('draining', DRAINING_RETRY_AFTER_S));
    this.batch = undefined;
    this.unwatchGauges();
    this.store.close();
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
    const cutOff = this.running.size;
    const now = Date.now();
    for (const run of this.running.values()) {
      run.done = true;
      this.settles.push({ kind: 'release', seq: run.job.seq, attempts: run.job.attempts, now });
    }
    this.running.clear();
    this.deps.metrics.jobsInFlight.set(0);
    this.flush();
    this.clearTimers();
    log.info({ cut_off: cutOff, queued: this.counts.queued }, cutOff > 0 ? 'queue stopped; attempts past the grace period were queued again' : 'queue stopped');
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    setImmediate(this.runFlush);
  }

  /** The group commit: one transaction for everything this tick produced. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    const batch = this.batch;
    this.batch = undefined;
    const settles = this.settles;
    this.settles = [];
    const now = Date.now();
    const free = this.started && !this.stopping ? this.options.concurrency - this.running.size : 0;
    const mayClaim = free > 0 && (this.dueAt <= now || (batch !== undefined && batch.ids.length > 0));
    if (!batch && settles.length === 0 && !mayClaim) {
      this.armDueTimer(now);
      return;
    }

    let applied: boolean[] = [];
    let claimed: ClaimedJob[] = [];
    let nextDue: number | null = null;
    try {
      this.store.transaction(() => {
        if (batch) this.store.insert(batch.ids, batch.records, now);
        applied = settles.map((s) => this.store.settle(s));
        if (mayClaim) {
          claimed = this.store.claim(now, now + this.options.leaseMs, free);
          if (claimed.length < free) nextDue = this.store.nextRunAt();
        }
      });
    } catch (error) {
      this.commitFailed(error, batch, settles);
      return;
    }

    if (batch) this.committed(batch);
    for (let i = 0; i < settles.length; i++) if (applied[i]) this.settled(settles[i]!);
    if (mayClaim) {
      // A short claim saw every due job; a full one may have left more behind.
      this.dueAt = claimed.length < free ? (nextDue ?? Infinity) : now;
    } else {
      if (batch) this.dueAt = Math.min(this.dueAt, now);
      for (const s of settles) if (s.kind === 'retry') this.dueAt = Math.min(this.dueAt, s.runAt);
      else if (s.kind === 'release') this.dueAt = Math.min(this.dueAt, s.now);
    }
    for (const job of claimed) this.run(job, now);
    this.armDueTimer(now);
  }

  private committed(batch: Batch): void {
    const { metrics } = this.deps;
    const end = performance.now();
    for (const arrival of batch.arrivals) metrics.enqueueCommitSeconds.observe((end - arrival) / 1000);
    this.counts.queued += batch.ids.length;
    metrics.jobsEnqueued.inc(batch.ids.length);
    batch.committed.resolve();
  }

  private commitFailed(error: unknown, batch: Batch | undefined, settles: Settle[]): void {
    // Nothing of this tick was written. The enqueues are refused (the client gets an error, not a
    // 202); finished attempts are kept and written with the next commit.
    const code = (error as { code?: string }).code ?? (error instanceof Error ? error.name : 'unknown');
    this.deps.log.error({ code, enqueues: batch?.ids.length ?? 0, settles: settles.length }, 'queue commit failed');
    batch?.committed.reject(new QueueUnavailableError('storage', STORAGE_RETRY_AFTER_S));
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
    metrics.queueWait.observe(Math.max(0, now - job.availableAt) / 1000);
    const run: Running = { job, startedAt: performance.now(), leaseUntil: now + this.options.leaseMs, done: false };
    this.running.set(job.seq, run);
    metrics.jobsInFlight.set(this.running.size);
    this.options.process(job.record).then(
      () => this.finish(run, null),
      (error: unknown) => this.finish(run, error instanceof ProcessingFailure ? error.code : FAILURE_REASONS.processingFailed),
    );
  }

  /** An attempt ended (reason null: success). Its settle joins the next group commit. */
  private finish(run: Running, reason: string | null): void {
    if (run.done) return;
    run.done = true;
    const { metrics, log } = this.deps;
    const { job } = run;
    this.running.delete(job.seq);
    metrics.jobsInFlight.set(this.running.size);
    metrics.processingSeconds.observe((performance.now() - run.startedAt) / 1000);
    const now = Date.now();
    let settle: Settle;
    if (reason === null) {
      settle = { kind: 'succeeded', seq: job.seq, attempts: job.attempts, now };
    } else {
      metrics.processingErrors.inc();
      settle =
        job.attempts >= this.options.maxAttempts
          ? { kind: 'failed', seq: job.seq, attempts: job.attempts, now, reason }
          : { kind: 'retry', seq: job.seq, attempts: job.attempts, now, reason, runAt: now + retryDelayMs(job.attempts, this.options.retryBaseMs, this.options.retryMaxMs, this.random) };
    }
    this.settles.push(settle);
    // Ids and reason codes only: the record is personal data.
    if (settle.kind === 'failed') log.warn({ job_id: job.id, attempts: job.attempts, reason }, 'job dead-lettered');
    else log.debug({ job_id: job.id, attempt: job.attempts, outcome: settle.kind, reason: reason ?? undefined }, 'job attempt finished');
    this.scheduleFlush();
    if (this.idle && this.running.size === 0) this.idle.resolve();
  }

  /** Periodic: give up attempts that outlived their lease, and prune finished jobs. */
  private maintain(): void {
    if (this.closed) return;
    const now = Date.now();
    for (const run of this.running.values()) if (run.leaseUntil <= now) this.finish(run, FAILURE_REASONS.leaseExpired);
    if (now - this.lastPruneAt >= 1000) this.prune(now);
  }

  private prune(now: number): void {
    this.lastPruneAt = now;
    const finished = this.counts.succeeded + this.counts.failed;
    const excess = Math.max(0, finished - this.options.retentionMaxFinished);
    try {
      const pruned = this.store.prune(now - this.options.retentionMaxAgeMs, excess, PRUNE_BATCH);
      this.counts.succeeded -= pruned.succeeded;
      this.counts.failed -= pruned.failed;
      // More to delete (e.g. retention was just lowered): another small transaction shortly,
      // letting requests and workers in between, rather than one huge one now.
      if (pruned.succeeded + pruned.failed === PRUNE_BATCH && !this.closed) {
        setTimeout(() => !this.closed && this.prune(Date.now()), 10).unref?.();
      }
    } catch (error) {
      this.deps.log.error({ code: (error as { code?: string }).code ?? 'unknown' }, 'retention pruning failed');
    }
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

  /** What the global gauges show, asked by the metrics at each scrape. A single-owner store always leads. */
  gauges(): QueueGaugeSnapshot {
    return { queueId: this.queueId, leader: true, ...this.stats() };
  }

  /** How long a refused client should wait: the time the workers need to free 1% of the capacity. */
  private retryAfterSeconds(): number {
    const perSecond = this.drain.perSecond();
    if (perSecond <= 0) return 5;
    const room = Math.max(this.options.concurrency, Math.ceil(this.options.capacity / 100));
    return Math.min(60, Math.max(1, Math.ceil(room / perSecond)));
  }
}

/** Jobs finished per second over the last ~10 s, in one-second buckets. */
class DrainRate {
  private readonly buckets = new Float64Array(10);
  private second = 0;

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
    const now = Math.floor(Date.now() / 1000);
    if (now === this.second) return;
    const steps = Math.min(10, now - this.second);
    for (let i = 1; i <= steps; i++) this.buckets[(this.second + i) % 10] = 0;
    this.second = now;
  }
}
