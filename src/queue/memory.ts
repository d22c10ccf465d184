import type { Metrics } from '../metrics';
import { JOB_STATES, QueueUnavailableError, type JobStatus, type Queue, type QueueStats, type Submission } from './types';

/**
 * Placeholder in-process queue: NOT durable, processes immediately and always succeeds.
 * The durable queue issue replaces it with the real drivers.
 */
export function createMemoryQueue(options: { capacity: number; metrics: Metrics }): Queue {
  const jobs = new Map<string, JobStatus>();
  let draining = false;
  const { metrics } = options;

  return {
    async enqueue(_submission: Submission) {
      if (draining) throw new QueueUnavailableError('draining', 5);
      const unfinished = [...jobs.values()].filter((j) => j.state === 'queued' || j.state === 'processing').length;
      if (unfinished >= options.capacity) throw new QueueUnavailableError('capacity', 1);
      const id = crypto.randomUUID();
      const now = new Date().toISOString();
      jobs.set(id, { id, state: 'succeeded', attempts: 1, createdAt: now, updatedAt: now, nextAttemptAt: null, finishedAt: now, lastError: null });
      metrics.jobsEnqueued.inc();
      return id;
    },
    status: (id) => jobs.get(id),
    stats(): QueueStats {
      const depth = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as QueueStats['depth'];
      for (const job of jobs.values()) depth[job.state]++;
      return { depth, oldestUnfinishedAgeSeconds: 0, capacity: options.capacity };
    },
    start() {},
    async stop() {
      draining = true;
    },
    close() {},
  };
}
