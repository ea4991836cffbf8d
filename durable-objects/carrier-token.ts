/**
 * A carrier's OAuth access token, shared by every isolate, with single flight: one object per
 * (carrier, credentials), named `<carrier>:<hash of the credentials>` (src/shipping/token-cache.ts).
 *
 * It never sees the credentials. A caller asks for the token; if there is none (or it expired), exactly
 * one caller gets a lease and fetches a new one from the carrier with the Worker's own secret, then hands
 * the token in (`complete`); every other caller meanwhile waits here for that result, at most `waitMs`.
 * A Durable Object handles one event at a time and its SQLite calls are synchronous, so two callers can
 * never both see "no token, no lease": 1,000 concurrent requests cause one token fetch.
 *
 * The token is kept for `expires_in − 60 s` (so it is never used in its last minute), in SQLite, so an
 * evicted object does not fetch again. A 401 from the carrier invalidates it by generation, so a late 401
 * for an older token cannot throw away a fresh one. A lease expires after `leaseMs` (its caller died):
 * its waiters are released to try again, and the next caller takes a new lease.
 */
import { DurableObject } from "cloudflare:workers";

export type TokenGrant =
  | { kind: "token"; token: string; generation: number }
  | { kind: "lease"; lease: string }
  | { kind: "failed"; reason: "wait_timeout" | "lease_expired" | "refresh_failed" | "refresh_refused" };

/** Seconds before `expires_in` runs out that a token stops being handed out. */
export const TOKEN_EXPIRY_MARGIN_SEC = 60;

interface Row extends Record<string, SqlStorageValue> {
  value: string | null;
  generation: number;
  expires_at: number;
}

interface Flight {
  lease: string;
  until: number;
  waiters: ((g: TokenGrant) => void)[];
  timer: ReturnType<typeof setTimeout>;
}

export class CarrierToken extends DurableObject<Env> {
  private flight: Flight | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS token (id INTEGER PRIMARY KEY CHECK (id = 1), value TEXT, generation INTEGER NOT NULL, expires_at INTEGER NOT NULL)",
    );
    ctx.storage.sql.exec("INSERT OR IGNORE INTO token VALUES (1, NULL, 0, 0)");
  }

  private read(): Row {
    return this.ctx.storage.sql.exec<Row>("SELECT value, generation, expires_at FROM token WHERE id = 1").one();
  }

  /** Ends the refresh in flight (if it is `lease`'s, or any when null) and answers everyone waiting on it. */
  private settle(grant: TokenGrant, lease: string | null): void {
    const f = this.flight;
    if (!f || (lease !== null && f.lease !== lease)) return;
    clearTimeout(f.timer);
    this.flight = null;
    for (const resolve of f.waiters) resolve(grant);
  }

  /** The cached token; or the lease to fetch one (one caller at a time); or, while another caller fetches, its result. */
  async token(o: { waitMs: number; leaseMs: number }): Promise<TokenGrant> {
    const now = Date.now();
    const row = this.read();
    if (row.value && row.expires_at > now) return { kind: "token", token: row.value, generation: row.generation };
    const f = this.flight;
    if (f && f.until > now) {
      return new Promise<TokenGrant>((resolve) => {
        const timer = setTimeout(() => {
          f.waiters = f.waiters.filter((w) => w !== done);
          resolve({ kind: "failed", reason: "wait_timeout" });
        }, o.waitMs);
        const done = (g: TokenGrant) => {
          clearTimeout(timer);
          resolve(g);
        };
        f.waiters.push(done);
      });
    }
    this.settle({ kind: "failed", reason: "lease_expired" }, null);
    const lease = crypto.randomUUID();
    const timer = setTimeout(() => this.settle({ kind: "failed", reason: "lease_expired" }, lease), o.leaseMs);
    this.flight = { lease, until: now + o.leaseMs, waiters: [], timer };
    return { kind: "lease", lease };
  }

  /**
   * The leaseholder's new token. Kept until `expires_in − 60 s` (not at all when that is not in the future:
   * the waiters of this refresh still get it). A token that arrives after its lease expired is a valid token
   * all the same: it is kept, and it answers the callers waiting on the newer lease too.
   */
  async complete(_lease: string, token: string, expiresInSec: number): Promise<{ generation: number }> {
    const now = Date.now();
    const generation = this.read().generation + 1;
    const keepMs = (expiresInSec - TOKEN_EXPIRY_MARGIN_SEC) * 1000;
    this.ctx.storage.sql.exec(
      "UPDATE token SET value = ?, generation = ?, expires_at = ? WHERE id = 1",
      keepMs > 0 ? token : null,
      generation,
      keepMs > 0 ? now + keepMs : 0,
    );
    // Whoever is waiting wants a token, whichever lease fetched it (a late holder's token is as good).
    this.settle({ kind: "token", token, generation }, null);
    return { generation };
  }

  /** The leaseholder could not get a token: its waiters fail now (and retry) instead of waiting out their time. */
  async abandon(lease: string, refused: boolean): Promise<void> {
    this.settle({ kind: "failed", reason: refused ? "refresh_refused" : "refresh_failed" }, lease);
  }

  /** The carrier refused the token of `generation` (401): forget it, unless a newer one already replaced it. */
  async invalidate(generation: number): Promise<boolean> {
    const row = this.read();
    if (row.generation !== generation || row.value === null) return false;
    this.ctx.storage.sql.exec("UPDATE token SET value = NULL, expires_at = 0 WHERE id = 1");
    return true;
  }

  /** What the cache holds, without the token (tests, operators). */
  async status(): Promise<{ cached: boolean; generation: number; expiresAt: number; refreshing: boolean; waiting: number }> {
    const row = this.read();
    const now = Date.now();
    return {
      cached: row.value !== null && row.expires_at > now,
      generation: row.generation,
      expiresAt: row.expires_at,
      refreshing: !!this.flight && this.flight.until > now,
      waiting: this.flight?.waiters.length ?? 0,
    };
  }
}
