import type { Config } from '../config';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import { createMemoryQueue } from './memory';
import type { Queue } from './types';

export * from './types';

/** The data dir or queue file cannot be used; the message says what to fix. */
export class QueueStartError extends Error {
  override name = 'QueueStartError';
}

/** Picks the queue driver named by QUEUE_DRIVER. */
export function createQueue(config: Config, deps: { metrics: Metrics; log: Logger }): Queue {
  // TODO(durable queue issue): the sqlite driver; until then both drivers are the in-memory placeholder.
  return createMemoryQueue({ capacity: config.QUEUE_CAPACITY, metrics: deps.metrics });
}
