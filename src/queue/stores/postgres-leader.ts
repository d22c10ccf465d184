import type { PgDb } from './postgres-db';

/**
 * Which instance of a shared queue exports the queue's global gauges: the holder of a short lease
 * in a row of `pipewatch_leader`, renewed every `ttlMs / 3`. A row with a TTL, never a session
 * advisory lock: Bun.SQL reconnects silently, and a session lock would vanish with its connection
 * while this instance still believed it led. Expiry is judged by the database's clock only, so
 * instances with skewed clocks agree. The holder considers itself leader until `ttlMs` after it
 * sent its last successful renewal (measured on its own monotonic clock), so during a hand-over two
 * instances may both export for a moment; monitoring dedupes with `max by (queue, ...)`.
 */
export interface LeaderLeaseOptions {
  /** This instance, e.g. host + pid + random. */
  holder: string;
  ttlMs?: number;
  /** Told each time this instance gains or loses the lease. */
  onChange?: (leading: boolean) => void;
}

const LEASE_NAME = 'gauges';

export class LeaderLease {
  private leadingUntil = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  private wasLeading = false;
  readonly ttlMs: number;

  constructor(
    private readonly db: PgDb,
    private readonly options: LeaderLeaseOptions,
  ) {
    this.ttlMs = options.ttlMs ?? 5_000;
  }

  isLeader(): boolean {
    return performance.now() < this.leadingUntil;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** One attempt to take or renew the lease; true when this instance holds it now. */
  async tryAcquire(): Promise<boolean> {
    const sentAt = performance.now();
    try {
      const rows = await this.db.run('lease', (sql) =>
        sql.unsafe(
          `INSERT INTO pipewatch_leader (name, holder, expires_at)
           VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3::float8 / 1000))
           ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
           WHERE pipewatch_leader.holder = EXCLUDED.holder OR pipewatch_leader.expires_at < clock_timestamp()
           RETURNING holder`,
          [LEASE_NAME, this.options.holder, this.ttlMs],
        ),
      );
      this.leadingUntil = (rows as unknown[]).length > 0 ? sentAt + this.ttlMs : 0;
    } catch {
      // Unreachable: keep leading only until the lease we last got runs out.
    }
    this.notify();
    return this.isLeader();
  }

  /** Gives the lease up (graceful stop) so another instance takes over at its next renewal. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    if (this.leadingUntil > 0) {
      this.leadingUntil = 0;
      await this.db
        .run('lease', (sql) => sql.unsafe('DELETE FROM pipewatch_leader WHERE name = $1 AND holder = $2', [LEASE_NAME, this.options.holder]))
        .catch(() => {});
    }
    this.notify();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tryAcquire().then(() => {
        this.running = undefined;
        this.schedule(Math.max(50, Math.floor(this.ttlMs / 3)));
      });
    }, delayMs);
    this.timer.unref?.();
  }

  private notify(): void {
    const leading = this.isLeader();
    if (leading !== this.wasLeading) {
      this.wasLeading = leading;
      this.options.onChange?.(leading);
    }
  }
}
