/**
 * SQL for keeping stored webhook events moving: the sweeper, redeliveries of unfinished events and
 * the dead-letter consumer's decisions. A `webhook_events` row exists before the provider gets its
 * 202, so it (not the queue message) is the source of truth: RECEIVED means "not applied yet".
 * `attempts` counts hand-offs that did not finish the event: failed settlements and re-queues.
 */
import { sql } from "drizzle-orm";
import type { Drizzle } from "./client.ts";

export type QueuedEvent = { id: string; provider: "sandbox" | "stripe"; event_id: string };

/**
 * Claims up to `limit` RECEIVED events that are overdue, oldest first, and counts the re-queue
 * (`attempts + 1`). Overdue: received more than `afterSec × (attempts + 1)` ago, so an event is
 * taken once `afterSec` after it arrived and then at most once per `afterSec` (a backlog is not
 * flooded with copies). Locked rows are skipped: two sweeps at once never take the same event.
 * Run it inside the transaction that sends the messages, so a failed send un-claims them.
 */
export async function claimOverdueEvents(tx: Drizzle, afterSec: number, limit: number): Promise<QueuedEvent[]> {
  const res = await tx.execute<QueuedEvent>(sql`
    UPDATE webhook_events w SET attempts = w.attempts + 1
    FROM (
      SELECT id FROM webhook_events
      WHERE status = 'RECEIVED' AND received_at < now() - make_interval(secs => ${afterSec} * (attempts + 1))
      ORDER BY received_at, id LIMIT ${limit} FOR UPDATE SKIP LOCKED
    ) due
    WHERE w.id = due.id
    RETURNING w.id, w.provider, w.event_id`);
  return res.rows;
}

export type EventState = { status: "RECEIVED" | "PROCESSED" | "IGNORED" | "FAILED"; attempts: number; last_error: string | null };

export async function eventState(db: Drizzle, id: string): Promise<EventState | null> {
  const res = await db.execute<EventState>(sql`SELECT status::text AS status, attempts, last_error FROM webhook_events WHERE id = ${id}`);
  return res.rows[0] ?? null;
}

/**
 * A provider delivered (provider, event_id) again. Returns the stored event and its status before
 * this call. A FAILED (dead-lettered) event is reopened to RECEIVED and its dead letter marked
 * REPLAYED, in one statement, so the caller can queue it again.
 */
export async function reopenForRedelivery(
  db: Drizzle,
  provider: string,
  eventId: string,
): Promise<{ id: string; status: EventState["status"] } | null> {
  const res = await db.execute<{ id: string; status: EventState["status"] }>(sql`
    WITH ev AS (
      SELECT id, status FROM webhook_events WHERE provider = ${provider} AND event_id = ${eventId} FOR UPDATE
    ), reopened AS (
      UPDATE webhook_events w SET status = 'RECEIVED' FROM ev WHERE w.id = ev.id AND ev.status = 'FAILED' RETURNING w.id
    ), replayed AS (
      UPDATE dead_letters SET status = 'REPLAYED', replayed_at = now()
      WHERE status = 'DEAD' AND message_key IN (SELECT 'webhook:' || id::text FROM reopened) RETURNING id
    )
    SELECT ev.id, ev.status::text AS status FROM ev`);
  return res.rows[0] ?? null;
}

/** Counts a re-queue of a RECEIVED event (the dead-letter consumer sending it back). False when it is not RECEIVED any more. */
export async function countRequeue(db: Drizzle, id: string): Promise<boolean> {
  const res = await db.execute(sql`UPDATE webhook_events SET attempts = attempts + 1 WHERE id = ${id} AND status = 'RECEIVED'`);
  return (res.rowCount ?? 0) > 0;
}

/** RECEIVED → FAILED (dead-lettered), keeping the recorded error or else `note`. Null when it was not RECEIVED. */
export async function parkWebhookEvent(
  db: Drizzle,
  id: string,
  note: string,
): Promise<{ attempts: number; last_error: string | null } | null> {
  const res = await db.execute<{ attempts: number; last_error: string | null }>(sql`
    UPDATE webhook_events SET status = 'FAILED', last_error = coalesce(last_error, ${note})
    WHERE id = ${id} AND status = 'RECEIVED' RETURNING attempts, last_error`);
  return res.rows[0] ?? null;
}

/** RECEIVED events the sweeper should already have taken once (received more than `afterSec` ago). */
export async function overdueCount(db: Drizzle, afterSec: number): Promise<number> {
  const res = await db.execute<{ n: number }>(sql`
    SELECT count(*)::int AS n FROM webhook_events WHERE status = 'RECEIVED' AND received_at < now() - make_interval(secs => ${afterSec})`);
  return res.rows[0]?.n ?? 0;
}
