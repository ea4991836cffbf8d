/** SQL of the outbox relay and of the consumers that read published events. */
import { sql } from "drizzle-orm";
import type { Drizzle } from "./client.ts";

export type OutboxClaim = { id: number; aggregate_id: string; event_type: string };

/**
 * Locks up to `limit` unpublished rows, oldest first, skipping rows another relay holds (`SKIP
 * LOCKED`: concurrent relays never take the same row). Per-aggregate order: a row is returned only
 * if no earlier unpublished row of its aggregate is held elsewhere, so a later event of an order is
 * never published before an earlier one. Call inside the transaction that publishes and marks them.
 */
export async function claimUnpublished(tx: Drizzle, limit: number): Promise<OutboxClaim[]> {
  const res = await tx.execute<OutboxClaim>(sql`
    WITH taken AS MATERIALIZED (
      SELECT id, aggregate_id, event_type FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT ${limit} FOR UPDATE SKIP LOCKED
    )
    SELECT t.id::float8 AS id, t.aggregate_id::text AS aggregate_id, t.event_type FROM taken t
    WHERE NOT EXISTS (
      SELECT 1 FROM outbox p
      WHERE p.aggregate_id = t.aggregate_id AND p.published_at IS NULL AND p.id < t.id AND p.id NOT IN (SELECT id FROM taken)
    )
    ORDER BY t.id`);
  return res.rows.map((r) => ({ ...r, id: Number(r.id) }));
}

export async function markPublished(tx: Drizzle, ids: number[]): Promise<void> {
  await tx.execute(sql`UPDATE outbox SET published_at = now() WHERE id = ANY(${sql.param(ids)}::bigint[])`);
}

export async function unpublishedCount(db: Drizzle): Promise<{ unpublished: number; oldest_age_sec: number | null }> {
  const res = await db.execute<{ unpublished: number; oldest_age_sec: number | null }>(sql`
    SELECT count(*)::int AS unpublished, extract(epoch FROM now() - min(created_at))::float8 AS oldest_age_sec
    FROM outbox WHERE published_at IS NULL`);
  return res.rows[0] ?? { unpublished: 0, oldest_age_sec: null };
}
