import { toJobStatus, type StoredJob, type ClaimedJob, type JobStore, type PruneResult, type RecoveryResult, type Settle } from '../sync-store';
import type { JobState, JobStatus, Submission } from '../types';

/** `runAt` means: queued, when it may run; processing, when its lease ends. */
interface MemoryJob extends StoredJob {
  seq: number;
  record: Submission;
}

/**
 * The non-durable driver, for development and tests: the same queue semantics as sqlite, held
 * in this process's memory. Everything in it is lost when the process stops.
 * Memory is bounded like the file: QUEUE_CAPACITY caps unfinished jobs, retention finished ones.
 */
export function createMemoryStore(): JobStore {
  return new MemoryStore();
}

class MemoryStore implements JobStore {
  readonly durability = 'nothing' as const;
  private seq = 0;
  private readonly byId = new Map<string, MemoryJob>();
  /** Unfinished jobs in enqueue order (a Map keeps insertion order): its first entry is the oldest. */
  private readonly unfinished = new Map<number, MemoryJob>();
  private readonly due = new DueHeap();
  /** Finished jobs in the order they finished, for retention; `finishedHead` is the oldest kept. */
  private finished: MemoryJob[] = [];
  private finishedHead = 0;

  transaction<T>(fn: () => T): T {
    return fn();
  }

  insert(ids: readonly string[], records: readonly Submission[], now: number): void {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const job: MemoryJob = { seq: ++this.seq, id, record: records[i]!, state: 'queued', attempts: 0, createdAt: now, updatedAt: now, runAt: now, finishedAt: null, lastError: null };
      this.byId.set(id, job);
      this.unfinished.set(job.seq, job);
      this.due.push(job);
    }
  }

  claim(now: number, leaseUntil: number, limit: number): ClaimedJob[] {
    const claimed: ClaimedJob[] = [];
    while (claimed.length < limit) {
      const job = this.due.peek();
      if (!job || job.runAt > now) break;
      this.due.pop();
      const availableAt = job.runAt;
      job.state = 'processing';
      job.attempts++;
      job.runAt = leaseUntil;
      job.updatedAt = now;
      claimed.push({ seq: job.seq, id: job.id, record: job.record, attempts: job.attempts, availableAt });
    }
    return claimed;
  }

  settle(s: Settle): boolean {
    const job = this.unfinished.get(s.seq);
    if (!job || job.state !== 'processing' || job.attempts !== s.attempts) return false;
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

  recoverInterrupted(): RecoveryResult {
    // A new process starts with an empty memory store: nothing can have been interrupted.
    return { requeued: 0, failed: 0 };
  }

  prune(finishedBefore: number, excess: number, limit: number): PruneResult {
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

  countByState(): Record<JobState, number> {
    const counts = { queued: 0, processing: 0, succeeded: 0, failed: 0 };
    for (const job of this.byId.values()) counts[job.state]++;
    return counts;
  }

  nextRunAt(): number | null {
    return this.due.peek()?.runAt ?? null;
  }

  oldestUnfinishedCreatedAt(): number | null {
    for (const job of this.unfinished.values()) return job.createdAt;
    return null;
  }

  status(id: string): JobStatus | undefined {
    const job = this.byId.get(id);
    return job ? toJobStatus(job) : undefined;
  }

  close(): void {
    this.byId.clear();
    this.unfinished.clear();
    this.finished = [];
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
