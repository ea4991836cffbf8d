/**
 * Circuit breaker shared by every isolate: one Durable Object per provider, and per outbound webhook
 * endpoint (where it also caps the calls in flight: `admit` / `release`).
 * closed → (N consecutive failures) → open for `openMs` → half-open: one probe at a time →
 * success closes, failure re-opens. State is kept in SQLite so a restart remembers an open circuit.
 * The database's object also carries the load-shedding gate's slow-database signal (`slowSignal`).
 */
import { DurableObject } from "cloudflare:workers";
import { type MetricEvent, writeEvent } from "../src/lib/metrics.ts";

export type BreakerState = "closed" | "open" | "half_open";
export interface BreakerDecision {
  allowed: boolean;
  state: BreakerState;
  retryAfterSec: number;
}

export interface Admission {
  /** Granted slots (give each back with `release`). */
  slots: number[];
  state: BreakerState;
  /** When the ones not granted may try again. */
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
    // Concurrency slots (outbound webhooks): one row per call in flight, expiring in case its worker died.
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS slots (id INTEGER PRIMARY KEY AUTOINCREMENT, expires_at INTEGER NOT NULL)");
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

  /**
   * Breaker and concurrency cap in one call (outbound webhooks, one object per endpoint): up to `want`
   * slots, no more than `cap` in flight at once and only one probe while half-open. Each slot is held
   * until `release` or for `leaseMs` (its worker may die). What is not granted waits `retryAfterSec`.
   */
  async admit(want: number, o: { openMs: number; cap: number; leaseMs: number }): Promise<Admission> {
    const now = Date.now();
    this.ctx.storage.sql.exec("DELETE FROM slots WHERE expires_at <= ?", now);
    const gate = await this.acquire(o.openMs, o.leaseMs);
    if (!gate.allowed) return { slots: [], state: gate.state, retryAfterSec: Math.max(1, gate.retryAfterSec) };
    const active = this.ctx.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM slots").one().n;
    const room = gate.state === "half_open" ? 1 : Math.max(0, o.cap - active);
    const slots: number[] = [];
    for (let i = 0; i < Math.min(want, room); i++) {
      slots.push(
        this.ctx.storage.sql.exec<{ id: number }>("INSERT INTO slots (expires_at) VALUES (?) RETURNING id", now + o.leaseMs).one().id,
      );
    }
    return { slots, state: gate.state, retryAfterSec: 1 };
  }

  /**
   * Gives slots back and counts what their calls said about the receiver: one success closes the
   * breaker (the receiver answers); otherwise each failure counts toward `threshold`.
   */
  async release(slots: number[], outcome: { ok: number; failed: number }, threshold: number): Promise<BreakerState> {
    for (const slot of slots) this.ctx.storage.sql.exec("DELETE FROM slots WHERE id = ?", slot);
    if (outcome.ok > 0) return this.record(true, threshold);
    let state = this.read().state as BreakerState;
    for (let i = 0; i < outcome.failed && state !== "open"; i++) state = await this.record(false, threshold);
    return state;
  }

  /**
   * The slow-database signal, kept by the database's object (`DATABASE_BREAKER`): one round trip both
   * raises it (`raiseUntil` > 0, an isolate whose origin p95 is over the threshold) and reads it (the
   * latest "slow until", ms). Every isolate of every location syncs with it at most once a
   * SHED_SIGNAL_SYNC_MS, off the request path (src/lib/load-shed.ts).
   */
  async slowSignal(raiseUntil: number): Promise<number> {
    this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS slow_signal (id INTEGER PRIMARY KEY CHECK (id = 1), until INTEGER NOT NULL)");
    if (raiseUntil > 0) {
      this.ctx.storage.sql.exec(
        "INSERT INTO slow_signal VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET until = max(until, excluded.until)",
        raiseUntil,
      );
    }
    return this.ctx.storage.sql.exec<{ until: number }>("SELECT until FROM slow_signal WHERE id = 1").toArray()[0]?.until ?? 0;
  }

  async record(success: boolean, threshold: number): Promise<BreakerState> {
    const r = this.read();
    const now = Date.now();
    if (success) {
      if (r.state !== "closed") this.transition("breaker_closed", r.state);
      this.write({ state: "closed", failures: 0, opened_at: 0, probe_until: 0 });
      return "closed";
    }
    const failures = r.failures + 1;
    if (r.state === "half_open" || failures >= threshold) {
      if (r.state !== "open") this.transition("breaker_opened", r.state);
      this.write({ state: "open", failures, opened_at: now, probe_until: 0 });
      return "open";
    }
    this.write({ ...r, failures });
    return r.state as BreakerState;
  }

  /** The stored state, read without moving it (`GET /metrics`): an open breaker reads "open" until a call probes it. */
  async status(): Promise<{ state: BreakerState; failures: number; openedAt: number }> {
    const r = this.read();
    return { state: r.state as BreakerState, failures: r.failures, openedAt: r.opened_at };
  }

  /** Opening and closing are counted here, where they happen (calls are serialised: each transition once). */
  private transition(event: Extract<MetricEvent, "breaker_opened" | "breaker_closed">, from: string): void {
    const ctx = { dataset: this.env.METRICS, release: this.env.RELEASE ?? "dev", colo: "-", source: "do" as const };
    writeEvent(ctx, event, { detail: this.ctx.id.name ?? this.ctx.id.toString(), detail2: from });
  }
}
