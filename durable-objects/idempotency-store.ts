/**
 * Idempotency-Key store: one Durable Object per principal (user id, else client IP), holding that
 * principal's keys. The first request with a key takes a lease and runs; completion stores the
 * response for replay; a same-key request with another fingerprint is refused. Requests to one
 * object are serialised, so exactly one of N concurrent same-key requests gets the lease.
 *
 * Why per principal and not per (principal, key): a new key then needs no new object. Creating an
 * object per checkout (and its storage) was the largest single cost of `POST /api/v1/orders` in the
 * CPU profile (docs/performance.md); a principal's object stays warm across its requests. Keys of
 * one principal share one object's throughput, far above any principal's rate limits.
 * Entries are deleted `retention` after they were created, by an alarm set for the oldest one.
 */
import { DurableObject } from "cloudflare:workers";

export interface StoredResponse {
  status: number;
  headers: [string, string][];
  body: string;
}

export type BeginResult =
  | { state: "acquired"; leaseId: string }
  | { state: "replay"; response: StoredResponse }
  | { state: "in_flight"; retryAfterSec: number }
  | { state: "mismatch" };

interface Row extends Record<string, SqlStorageValue> {
  fingerprint: string;
  state: string;
  lease_id: string | null;
  lease_expires: number | null;
  response: string | null;
  created_at: number;
  expires_at: number;
}

export class IdempotencyStore extends DurableObject<Env> {
  /** When the alarm is set for (ms), or null when none is; undefined until read once. */
  private alarmAt: number | null | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS idem (
      key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, state TEXT NOT NULL, lease_id TEXT, lease_expires INTEGER,
      response TEXT, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL)`);
    ctx.storage.sql.exec("CREATE INDEX IF NOT EXISTS idem_expires ON idem (expires_at)");
  }

  private row(key: string): Row | undefined {
    return this.ctx.storage.sql.exec<Row>("SELECT * FROM idem WHERE key = ?", key).toArray()[0];
  }

  /** Makes sure an alarm fires by `at` (the earliest expiry), without rewriting it on every request. */
  private async armBy(at: number): Promise<void> {
    if (this.alarmAt === undefined) this.alarmAt = await this.ctx.storage.getAlarm();
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    await this.ctx.storage.setAlarm(at);
    this.alarmAt = at;
  }

  async begin(key: string, fingerprint: string, leaseMs: number, retentionMs: number): Promise<BeginResult> {
    const now = Date.now();
    const row = this.row(key);
    if (row && row.fingerprint !== fingerprint) return { state: "mismatch" };
    if (row?.state === "completed" && row.response) return { state: "replay", response: JSON.parse(row.response) as StoredResponse };
    if (row?.state === "in_flight" && (row.lease_expires ?? 0) > now) {
      return { state: "in_flight", retryAfterSec: Math.max(1, Math.ceil(((row.lease_expires ?? now) - now) / 1000)) };
    }
    // New key, or a lease that expired (its request crashed or timed out): take it.
    const leaseId = crypto.randomUUID();
    const createdAt = row?.created_at ?? now;
    const expiresAt = createdAt + retentionMs;
    this.ctx.storage.sql.exec(
      `INSERT INTO idem (key, fingerprint, state, lease_id, lease_expires, response, created_at, expires_at)
       VALUES (?, ?, 'in_flight', ?, ?, NULL, ?, ?)
       ON CONFLICT (key) DO UPDATE SET state = 'in_flight', lease_id = excluded.lease_id, lease_expires = excluded.lease_expires`,
      key,
      fingerprint,
      leaseId,
      now + leaseMs,
      createdAt,
      expiresAt,
    );
    await this.armBy(expiresAt);
    return { state: "acquired", leaseId };
  }

  /** Stores the response of the lease holder. False if the lease was lost (expired and taken). */
  async complete(key: string, leaseId: string, response: StoredResponse): Promise<boolean> {
    const row = this.row(key);
    if (!row || row.lease_id !== leaseId || row.state !== "in_flight") return false;
    this.ctx.storage.sql.exec(
      "UPDATE idem SET state = 'completed', response = ?, lease_id = NULL, lease_expires = NULL WHERE key = ?",
      JSON.stringify(response),
      key,
    );
    return true;
  }

  /** Gives the key back without storing anything (validation failure, 5xx): a retry runs again. */
  async release(key: string, leaseId: string): Promise<void> {
    const row = this.row(key);
    if (row?.lease_id === leaseId && row.state === "in_flight") this.ctx.storage.sql.exec("DELETE FROM idem WHERE key = ?", key);
  }

  /** For tests and operators: the raw entry of one key. */
  async inspect(
    key: string,
  ): Promise<{ state: string; fingerprint: string; createdAt: number; expiresAt: number; leaseExpires: number | null } | null> {
    const row = this.row(key);
    return row
      ? {
          state: row.state,
          fingerprint: row.fingerprint,
          createdAt: row.created_at,
          expiresAt: row.expires_at,
          leaseExpires: row.lease_expires,
        }
      : null;
  }

  /** Deletes the expired entries, then sets the alarm for the next expiry (if any entry is left). */
  override async alarm(): Promise<void> {
    const now = Date.now();
    this.ctx.storage.sql.exec("DELETE FROM idem WHERE expires_at <= ?", now);
    const next = this.ctx.storage.sql.exec<{ at: number | null }>("SELECT min(expires_at) AS at FROM idem").toArray()[0]?.at ?? null;
    this.alarmAt = null;
    if (next !== null) await this.armBy(next);
  }
}
