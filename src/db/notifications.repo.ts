/** SQL of customer notifications (emails): one row per (event), claimed before sending, never sent twice. */
import { type SQL, sql } from "drizzle-orm";
import type { Drizzle } from "./client.ts";
import { iso } from "./webhook-endpoints.repo.ts";

export type OutboxEventRow = {
  id: number;
  aggregate_type: string;
  aggregate_id: string;
  event_type: string;
  payload: Record<string, unknown>;
  created_at: string;
};

export async function readOutboxEvents(db: Drizzle, ids: number[]): Promise<OutboxEventRow[]> {
  const res = await db.execute<OutboxEventRow>(sql`
    SELECT id::float8 AS id, aggregate_type, aggregate_id::text AS aggregate_id, event_type, payload, ${iso("created_at")} AS created_at
    FROM outbox WHERE id = ANY(${sql.param(ids)}::bigint[]) ORDER BY id`);
  return res.rows.map((r) => ({ ...r, id: Number(r.id) }));
}

/**
 * One notification per (outbox event, template), addressed to the order's customer as the account
 * reads now; `ON CONFLICT` on the event key makes a second publication of the event a no-op. Returns
 * every one of these events' notifications still PENDING (new or left by a fan-out that died before
 * queueing them).
 */
export async function insertNotifications(tx: Drizzle, wanted: { outboxId: number; template: string }[]): Promise<string[]> {
  if (!wanted.length) return [];
  const rows = JSON.stringify(wanted.map((w) => ({ outbox_id: w.outboxId, template: w.template })));
  await tx.execute(sql`
    INSERT INTO notifications (event_key, event_type, template, order_id, user_id, recipient, payload)
    SELECT 'outbox:' || o.id, o.event_type, w.template, ord.id, u.id, u.email, o.payload
    FROM jsonb_to_recordset(${rows}::jsonb) AS w(outbox_id bigint, template text)
    JOIN outbox o ON o.id = w.outbox_id
    JOIN orders ord ON ord.id = o.aggregate_id
    JOIN users u ON u.id = ord.user_id
    ON CONFLICT (event_key) DO NOTHING`);
  const keys = wanted.map((w) => `outbox:${w.outboxId}`);
  const res = await tx.execute<{ id: string }>(sql`
    SELECT id FROM notifications WHERE event_key = ANY(${sql.param(keys)}::text[]) AND status = 'PENDING'`);
  return res.rows.map((r) => r.id);
}

export type ClaimedNotification = {
  id: string;
  event_key: string;
  event_type: string;
  template: string;
  order_id: string | null;
  recipient: string;
  payload: Record<string, unknown>;
  attempts: number;
};

/** Leases a PENDING notification for one send (a duplicate message, or a send in flight elsewhere, gets null). */
export async function claimNotification(db: Drizzle, id: string, leaseSec: number): Promise<ClaimedNotification | null> {
  const res = await db.execute<ClaimedNotification>(sql`
    UPDATE notifications SET lease_until = now() + make_interval(secs => ${leaseSec}), attempts = attempts + 1
    WHERE id = ${id} AND status = 'PENDING' AND (lease_until IS NULL OR lease_until < now())
    RETURNING id, event_key, event_type, template, order_id, recipient, payload, attempts`);
  return res.rows[0] ?? null;
}

export async function markNotificationSent(
  db: Drizzle,
  id: string,
  sent: { provider: string; messageId: string | null; stored?: { subject: string; text: string; html: string } | undefined },
): Promise<void> {
  await db.execute(sql`
    UPDATE notifications SET status = 'SENT', sent_at = now(), lease_until = NULL, last_error = NULL,
      provider = ${sent.provider}, provider_message_id = ${sent.messageId},
      subject = ${sent.stored?.subject ?? null}, text_body = ${sent.stored?.text ?? null}, html_body = ${sent.stored?.html ?? null}
    WHERE id = ${id} AND status = 'PENDING'`);
}

/**
 * A failed send: held until just before the queue's retry (`retryInSec`), which can then claim it
 * again; the sweep leaves it alone until then.
 */
export async function recordNotificationFailure(db: Drizzle, id: string, error: string, retryInSec: number): Promise<void> {
  await db.execute(sql`
    UPDATE notifications SET lease_until = now() + make_interval(secs => greatest(${retryInSec} - 2, 0)), last_error = ${error}
    WHERE id = ${id} AND status = 'PENDING'`);
}

/** Out of retries (dead-lettered): FAILED, kept for an ADMIN to replay. */
export async function failNotification(
  db: Drizzle,
  id: string,
  error: string,
): Promise<{ attempts: number; last_error: string | null } | null> {
  const res = await db.execute<{ attempts: number; last_error: string | null }>(sql`
    UPDATE notifications SET status = 'FAILED', lease_until = NULL, last_error = coalesce(last_error, ${error})
    WHERE id = ${id} AND status = 'PENDING' RETURNING attempts, last_error`);
  return res.rows[0] ?? null;
}

/** A replayed dead letter: FAILED → PENDING. */
export async function reopenNotification(db: Drizzle, id: string): Promise<void> {
  await db.execute(sql`UPDATE notifications SET status = 'PENDING', lease_until = NULL WHERE id = ${id} AND status = 'FAILED'`);
}

export type NotificationRow = {
  id: string;
  event_key: string;
  event_type: string;
  template: string;
  order_id: string | null;
  recipient: string;
  status: "PENDING" | "SENT" | "FAILED";
  attempts: number;
  last_error: string | null;
  provider: string | null;
  provider_message_id: string | null;
  subject: string | null;
  text_body: string | null;
  html_body: string | null;
  created_at: string;
  sent_at: string | null;
  created_at_key: string;
};

export async function listNotifications(
  db: Drizzle,
  f: { status?: string | undefined; orderId?: string | undefined },
  after: { createdAt: string; id: string } | null,
  limit: number,
): Promise<NotificationRow[]> {
  const where: SQL[] = [sql`TRUE`];
  if (f.status) where.push(sql`status = ${f.status}::notification_status`);
  if (f.orderId) where.push(sql`order_id = ${f.orderId}`);
  if (after) where.push(sql`(created_at, id) < (${after.createdAt}::timestamptz, ${after.id}::uuid)`);
  const res = await db.execute<NotificationRow>(sql`
    SELECT id, event_key, event_type, template, order_id, recipient, status::text AS status, attempts, last_error, provider,
           provider_message_id, subject, text_body, html_body, ${iso("created_at")} AS created_at, ${iso("sent_at")} AS sent_at,
           created_at::text AS created_at_key
    FROM notifications WHERE ${sql.join(where, sql` AND `)} ORDER BY created_at DESC, id DESC LIMIT ${limit + 1}`);
  return res.rows;
}

/** PENDING notifications older than `afterSec` and not in flight: their message was lost; queued again. */
export async function sweepPendingNotifications(db: Drizzle, afterSec: number, limit: number): Promise<string[]> {
  const res = await db.execute<{ id: string }>(sql`
    SELECT id FROM notifications WHERE status = 'PENDING' AND created_at < now() - make_interval(secs => ${afterSec})
      AND (lease_until IS NULL OR lease_until < now() - make_interval(secs => ${afterSec}))
    ORDER BY created_at LIMIT ${limit}`);
  return res.rows.map((r) => r.id);
}

export async function notificationStats(db: Drizzle): Promise<Record<string, number | null>> {
  const res = await db.execute<Record<string, number | null>>(sql`
    SELECT count(*) FILTER (WHERE status = 'PENDING')::int AS notifications_pending,
           count(*) FILTER (WHERE status = 'FAILED')::int AS notifications_failed
    FROM notifications`);
  return res.rows[0] ?? {};
}

export async function deleteOldNotifications(db: Drizzle, retentionSec: number, limit: number): Promise<number> {
  const res = await db.execute(sql`
    DELETE FROM notifications WHERE id IN (
      SELECT id FROM notifications WHERE status <> 'PENDING' AND created_at < now() - make_interval(secs => ${retentionSec}) LIMIT ${limit})`);
  return res.rowCount ?? 0;
}
