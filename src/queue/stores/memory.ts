import {
  toJobStatus,
  type ClaimedJob,
  type CommitRequest,
  type CommitResult,
  type JobStore,
  type PruneRequest,
  type PruneResult,
  type RecoverRequest,
  type RecoveryResult,
  type Settle,
  type StoreStats,
  type StoredJob,
} from '../store';
import type { JobStatus, Submission } from '../types';

interface MemoryJob extends StoredJob {
  seq: number;
  record: Submission;
  trace: string | null;
}

/**
 * The non-durable driver, for development and tests: the same queue semantics as sqlite, held
 * in this process's memory. Everything in it is lost when the process stops.
 * Memory is bounded like the file: QUEUE_CAPACITY caps unfinished jobs, retention finished ones.
 */
export async function openMemoryStore(): Promise<JobStore> {
  return new MemoryStore();
}

class MemoryStore implements JobStore {
  readonly ownership = 'single' as const;
  readonly durability = 'nothing' as const;
  /** Random per process: a memory queue lives and dies with it. */
  readonly queueId = crypto.randomUUID();
  private seq = 0;
  private readonly byId = new Map<string, MemoryJob>();
  /** Unfinished jobs in enqueue order (a Map keeps insertion order): its first entry is the oldest. */
  private readonly unfinished = new Map<number, MemoryJob>();
  private due = new DueHeap();
  /** Finished jobs in the order they finished, for retention; `finishedHead` is the oldest kept. */
  private finished: MemoryJob[] = [];
  private finishedHead = 0;

  async commit(request: CommitRequest): Promise<CommitResult> {
    const { now } = request;
    for (const { id, record, trace } of request.enqueue) {
      const job: MemoryJob = {
        seq: ++this.seq,
        id,
        record,
        trace,
        state: 'queued',
        attempts: 0,
        createdAt: now,
        updatedAt: now,
        runAt: now,
        finishedAt: null,
        lastError: null,
      };
      this.byId.set(id, job);
      this.unfinished.set(job.seq, job);
      this.due.push(job);
    }
    const applied = request.settles.map((s) => this.settle(s));
    const renewed = request.renew.map(({ seq, attempts }) => {
      const job = this.leased(seq, attempts);
      if (job) job.runAt = request.leaseUntil;
      return job !== undefined;
    });
    const claimed: ClaimedJob[] = [];
    while (claimed.length < request.claim) {
      const job = this.due.peek();
      if (!job || job.runAt > now) break;
      this.due.pop();
      const availableAt = job.runAt;
      job.state = 'processing';
      job.attempts++;
      job.runAt = request.leaseUntil;
      job.updatedAt = now;
      claimed.push({ seq: job.seq, id: job.id, record: job.record, trace: job.trace, attempts: job.attempts, availableAt });
    }
    return { applied, renewed, claimed, nextRunAt: this.due.peek()?.runAt ?? null };
  }

  async recover(request: RecoverRequest): Promise<RecoveryResult> {
    const result: RecoveryResult = { requeued: 0, deadLettered: [] };
    for (const job of [...this.unfinished.values()]) {
      if (result.requeued + result.deadLettered.length >= request.limit) break;
      if (job.state !== 'processing' || job.runAt > request.leaseEndedBy) continue;
      job.lastError = request.reason;
      job.updatedAt = request.now;
      if (job.attempts >= request.maxAttempts) {
        this.finish(job, 'failed', request.now);
        result.deadLettered.push(job.id);
      } else {
        this.requeue(job, request.now);
        result.requeued++;
      }
    }
    return result;
  }

  async clampDue({ latest, now }: { latest: number; now: number }): Promise<number> {
    let moved = 0;
    for (const job of this.unfinished.values()) {
      if (job.state === 'queued' && job.runAt > latest) {
        job.runAt = now;
        moved++;
      }
    }
    if (moved > 0) {
      // Keys changed under the heap: rebuild it (rare: only after a clock step).
      const heap = new DueHeap();
      for (const job of this.unfinished.values()) if (job.state === 'queued') heap.push(job);
      this.due = heap;
    }
    return moved;
  }

  async prune({ excess, finishedBefore, limit }: PruneRequest): Promise<PruneResult> {
    const result = { succeeded: 0, failed: 0 };
    let removed = 0;
    while (removed < limit && this.finishedHead < this.finished.length) {
      const job = this.finished[this.finishedHead]!;
      if (removed >= excess && (job.finishedAt ?? 0) >= finishedBefore) break;
      this.byId.delete(job.id);
      this.finishedHead++;
      removed++;
      if (job.state === 'succeeded') result.succeeded++;
      else result.failed++;
    }
    // Drop the pruned prefix once it dominates, so the array does not grow forever.
    if (this.finishedHead > 1024 && this.finishedHead * 2 > this.finished.length) {
      this.finished = this.finished.slice(this.finishedHead);
      this.finishedHead = 0;
    }
    return result;
  }

  async stats(): Promise<StoreStats> {
    const depth = { queued: 0, processing: 0, succeeded: 0, failed: 0 };
    for (const job of this.byId.values()) depth[job.state]++;
    return { depth, oldestUnfinishedCreatedAt: await this.oldestUnfinishedCreatedAt(), nextRunAt: this.due.peek()?.runAt ?? null, leader: true };
  }

  async oldestUnfinishedCreatedAt(): Promise<number | null> {
    for (const job of this.unfinished.values()) return job.createdAt;
    return null;
  }

  async status(id: string): Promise<JobStatus | undefined> {
    const job = this.byId.get(id);
    return job ? toJobStatus(job) : undefined;
  }

  async close(): Promise<void> {
    this.byId.clear();
    this.unfinished.clear();
    this.finished = [];
    this.due = new DueHeap();
  }

  private leased(seq: number, attempts: number): MemoryJob | undefined {
    const job = this.unfinished.get(seq);
    return job && job.state === 'processing' && job.attempts === attempts ? job : undefined;
  }

  private settle(s: Settle): boolean {
    const job = this.leased(s.seq, s.attempts);
    if (!job) return false;
    job.updatedAt = s.now;
    switch (s.kind) {
      case 'succeeded':
        this.finish(job, 'succeeded', s.now);
        break;
      case 'failed':
        job.lastError = s.reason;
        this.finish(job, 'failed', s.now);
        break;
      case 'retry':
        job.lastError = s.reason;
        this.requeue(job, s.runAt);
        break;
      case 'release':
        job.attempts--;
        this.requeue(job, s.now);
        break;
    }
    return true;
  }

  private requeue(job: MemoryJob, runAt: number): void {
    job.state = 'queued';
    job.runAt = runAt;
    this.due.push(job);
  }

  private finish(job: MemoryJob, state: 'succeeded' | 'failed', now: number): void {
    job.state = state;
    job.finishedAt = now;
    this.unfinished.delete(job.seq);
    this.finished.push(job);
  }
}

/** Binary min-heap of queued jobs by (runAt, seq): the same order as sqlite's jobs_due index. */
class DueHeap {
  private readonly items: MemoryJob[] = [];

  peek(): MemoryJob | undefined {
    return this.items[0];
  }

  push(job: MemoryJob): void {
    const items = this.items;
    items.push(job);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): MemoryJob | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && before(items[left]!, items[smallest]!)) smallest = left;
        if (right < items.length && before(items[right]!, items[smallest]!)) smallest = right;
        if (smallest === i) break;
        [items[i], items[smallest]] = [items[smallest]!, items[i]!];
        i = smallest;
      }
    }
    return top;
  }
}

function before(a: MemoryJob, b: MemoryJob): boolean {
  return a.runAt < b.runAt || (a.runAt === b.runAt && a.seq < b.seq);
}
