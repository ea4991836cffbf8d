/**
 * Circuit breaker shared by every isolate: one Durable Object per provider.
 * closed → (N consecutive failures) → open for `openMs` → half-open: one probe at a time →
 * success closes, failure re-opens. State is kept in SQLite so a restart remembers an open circuit.
 */
import { DurableObject } from "cloudflare:workers";

export type BreakerState = "closed" | "open" | "half_open";
export interface BreakerDecision {
  allowed: boolean;
  state: BreakerState;
  retryAfterSec: number;
}

interface Row extends Record<string, SqlStorageValue> {
  state: string;
  failures: number;
  opened_at: number;
  probe_until: number;
}

export class CircuitBreaker extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS breaker (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL, failures INTEGER NOT NULL, opened_at INTEGER NOT NULL, probe_until INTEGER NOT NULL)",
    );
    ctx.storage.sql.exec("INSERT OR IGNORE INTO breaker VALUES (1, 'closed', 0, 0, 0)");
  }

  private read(): Row {
    return this.ctx.storage.sql.exec<Row>("SELECT state, failures, opened_at, probe_until FROM breaker WHERE id = 1").one();
  }

  private write(r: Row): void {
    this.ctx.storage.sql.exec(
      "UPDATE breaker SET state = ?, failures = ?, opened_at = ?, probe_until = ? WHERE id = 1",
      r.state,
      r.failures,
      r.opened_at,
      r.probe_until,
    );
  }

  /** May a call go out now? In half-open only one probe is let through (until it reports or its slot expires). */
  async acquire(openMs: number, probeTimeoutMs = 10_000): Promise<BreakerDecision> {
    const now = Date.now();
    const r = this.read();
    if (r.state === "open") {
      const remaining = r.opened_at + openMs - now;
      if (remaining > 0) return { allowed: false, state: "open", retryAfterSec: Math.ceil(remaining / 1000) };
      this.write({ ...r, state: "half_open", probe_until: now + probeTimeoutMs });
      return { allowed: true, state: "half_open", retryAfterSec: 0 };
    }
    if (r.state === "half_open") {
      if (r.probe_until > now) return { allowed: false, state: "half_open", retryAfterSec: Math.ceil((r.probe_until - now) / 1000) };
      this.write({ ...r, probe_until: now + probeTimeoutMs });
      return { allowed: true, state: "half_open", retryAfterSec: 0 };
    }
    return { allowed: true, state: "closed", retryAfterSec: 0 };
  }

  async record(success: boolean, threshold: number): Promise<BreakerState> {
    const r = this.read();
    const now = Date.now();
    if (success) {
      this.write({ state: "closed", failures: 0, opened_at: 0, probe_until: 0 });
      return "closed";
    }
    const failures = r.failures + 1;
    if (r.state === "half_open" || failures >= threshold) {
      this.write({ state: "open", failures, opened_at: now, probe_until: 0 });
      return "open";
    }
    this.write({ ...r, failures });
    return r.state as BreakerState;
  }
}
