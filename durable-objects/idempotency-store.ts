/**
 * Idempotency-Key store: one Durable Object per (principal, key). The first request
 * takes a lease and runs; completion stores the response for replay; a same-key request
 * with another fingerprint is refused. Requests to one object are serialised, so
 * exactly one of N concurrent same-key requests gets the lease. An alarm deletes the
 * entry after the retention period.
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
}

export class IdempotencyStore extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS entry (
      id INTEGER PRIMARY KEY CHECK (id = 1), fingerprint TEXT NOT NULL, state TEXT NOT NULL,
      lease_id TEXT, lease_expires INTEGER, response TEXT, created_at INTEGER NOT NULL)`);
  }

  private row(): Row | undefined {
    return this.ctx.storage.sql.exec<Row>("SELECT * FROM entry WHERE id = 1").toArray()[0];
  }

  async begin(fingerprint: string, leaseMs: number, retentionMs: number): Promise<BeginResult> {
    const now = Date.now();
    const row = this.row();
    if (row && row.fingerprint !== fingerprint) return { state: "mismatch" };
    if (row?.state === "completed" && row.response) return { state: "replay", response: JSON.parse(row.response) as StoredResponse };
    if (row?.state === "in_flight" && (row.lease_expires ?? 0) > now) {
      return { state: "in_flight", retryAfterSec: Math.max(1, Math.ceil(((row.lease_expires ?? now) - now) / 1000)) };
    }
    // New key, or a lease that expired (its request crashed or timed out): take it.
    const leaseId = crypto.randomUUID();
    this.ctx.storage.sql.exec(
      `INSERT INTO entry (id, fingerprint, state, lease_id, lease_expires, response, created_at) VALUES (1, ?, 'in_flight', ?, ?, NULL, ?)
       ON CONFLICT (id) DO UPDATE SET state = 'in_flight', lease_id = excluded.lease_id, lease_expires = excluded.lease_expires`,
      fingerprint,
      leaseId,
      now + leaseMs,
      now,
    );
    await this.ctx.storage.setAlarm((row?.created_at ?? now) + retentionMs);
    return { state: "acquired", leaseId };
  }

  /** Stores the response of the lease holder. False if the lease was lost (expired and taken). */
  async complete(leaseId: string, response: StoredResponse): Promise<boolean> {
    const row = this.row();
    if (!row || row.lease_id !== leaseId || row.state !== "in_flight") return false;
    this.ctx.storage.sql.exec(
      "UPDATE entry SET state = 'completed', response = ?, lease_id = NULL, lease_expires = NULL WHERE id = 1",
      JSON.stringify(response),
    );
    return true;
  }

  /** Gives the key back without storing anything (validation failure, 5xx): a retry runs again. */
  async release(leaseId: string): Promise<void> {
    const row = this.row();
    if (row?.lease_id === leaseId && row.state === "in_flight") this.ctx.storage.sql.exec("DELETE FROM entry WHERE id = 1");
  }

  /** For tests and operators: the raw entry. */
  async inspect(): Promise<{ state: string; fingerprint: string; createdAt: number; leaseExpires: number | null } | null> {
    const row = this.row();
    return row ? { state: row.state, fingerprint: row.fingerprint, createdAt: row.created_at, leaseExpires: row.lease_expires } : null;
  }

  override async alarm(): Promise<void> {
    this.ctx.storage.sql.exec("DELETE FROM entry");
  }
}
