/**
 * Rate limiter: one Durable Object per (policy, subject) key — never a global singleton.
 * Sliding-window counter (the previous window weighted by how much of it still overlaps).
 * A DO runs one request at a time and SQLite storage calls are synchronous, so
 * concurrent hits on one key are counted exactly. An alarm deletes idle state.
 */
import { DurableObject } from "cloudflare:workers";

export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window resets (RateLimit `t`) or until a retry may succeed (Retry-After). */
  resetSec: number;
  retryAfterSec: number;
}

export class RateLimiter extends DurableObject<Env> {
  private windowStart = 0;
  private current = 0;
  private previous = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS win (id INTEGER PRIMARY KEY CHECK (id = 1), start INTEGER NOT NULL, cur INTEGER NOT NULL, prev INTEGER NOT NULL)",
    );
    const row = ctx.storage.sql
      .exec<{ start: number; cur: number; prev: number }>("SELECT start, cur, prev FROM win WHERE id = 1")
      .toArray()[0];
    if (row) {
      this.windowStart = row.start;
      this.current = row.cur;
      this.previous = row.prev;
    }
  }

  /** Counts `cost` against `limit` per `windowSec` unless that would exceed it. */
  async hit(limit: number, windowSec: number, cost = 1): Promise<RateLimitDecision> {
    const now = Date.now();
    const windowMs = windowSec * 1000;
    const start = now - (now % windowMs);
    if (start !== this.windowStart) {
      this.previous = start - this.windowStart === windowMs ? this.current : 0;
      this.current = 0;
      this.windowStart = start;
    }
    const elapsed = (now - start) / windowMs;
    const weightedPrev = this.previous * (1 - elapsed);
    const used = Math.floor(weightedPrev) + this.current;
    const resetSec = Math.max(1, Math.ceil((start + windowMs - now) / 1000));
    if (used + cost > limit) {
      // When will enough of the previous window have slid out (or this one ended)?
      let retryAfterSec = resetSec;
      if (this.previous > 0 && this.current + cost <= limit) {
        const needed = (used + cost - limit) / this.previous; // fraction of a window
        retryAfterSec = Math.max(1, Math.min(resetSec, Math.ceil(needed * windowSec)));
      }
      return { allowed: false, limit, remaining: 0, resetSec, retryAfterSec };
    }
    this.current += cost;
    this.ctx.storage.sql.exec(
      "INSERT INTO win (id, start, cur, prev) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET start = excluded.start, cur = excluded.cur, prev = excluded.prev",
      this.windowStart,
      this.current,
      this.previous,
    );
    // Idle keys cost nothing: forget them two windows after the last hit.
    await this.ctx.storage.setAlarm(now + 2 * windowMs);
    return { allowed: true, limit, remaining: Math.max(0, limit - used - cost), resetSec, retryAfterSec: 0 };
  }

  override async alarm(): Promise<void> {
    this.windowStart = 0;
    this.current = 0;
    this.previous = 0;
    this.ctx.storage.sql.exec("DELETE FROM win");
  }
}
