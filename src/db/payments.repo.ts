/** SQL for payments, webhook events and dead letters. */
import { type SQL, sql } from "drizzle-orm";
import { UUID } from "../lib/ids.ts";
import type { Drizzle } from "./client.ts";

export type PaymentRow = {
  id: string;
  order_id: string;
  user_id: string;
  provider: string;
  provider_ref: string | null;
  amount_cents: number;
  currency: string;
  status: string;
  created_at: string;
};

const PAYMENT_COLS = sql`id, order_id, user_id, provider, provider_ref, amount_cents::float8 AS amount_cents, currency, status::text AS status,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at`;

/** Null when the order already has a live (INITIATED or SUCCEEDED) payment. */
export async function insertPayment(
  db: Drizzle,
  p: { orderId: string; userId: string; provider: string; amountCents: number; currency: string },
): Promise<PaymentRow | null> {
  const res = await db.execute<PaymentRow>(sql`
    INSERT INTO payments (order_id, user_id, provider, amount_cents, currency) VALUES (${p.orderId}, ${p.userId}, ${p.provider}, ${p.amountCents}, ${p.currency})
    ON CONFLICT (order_id) WHERE status IN ('INITIATED', 'SUCCEEDED') DO NOTHING RETURNING ${PAYMENT_COLS}`);
  return res.rows[0] ?? null;
}

export async function livePaymentFor(db: Drizzle, orderId: string): Promise<PaymentRow | null> {
  const res = await db.execute<PaymentRow>(
    sql`SELECT ${PAYMENT_COLS} FROM payments WHERE order_id = ${orderId} AND status IN ('INITIATED', 'SUCCEEDED')`,
  );
  return res.rows[0] ?? null;
}

export async function setProviderRef(db: Drizzle, id: string, ref: string): Promise<void> {
  await db.execute(sql`UPDATE payments SET provider_ref = ${ref}, updated_at = now() WHERE id = ${id}`);
}

export async function markPaymentFailed(db: Drizzle, id: string): Promise<void> {
  await db.execute(sql`UPDATE payments SET status = 'FAILED', updated_at = now() WHERE id = ${id} AND status = 'INITIATED'`);
}

export async function findPaymentForUpdate(
  db: Drizzle,
  provider: string,
  ref: { providerRef?: string | undefined; paymentId?: string | undefined },
): Promise<PaymentRow | null> {
  // Our own payment id (sent to the provider as metadata) first: it is known before the provider answers.
  const cond = ref.paymentId && UUID.test(ref.paymentId) ? sql`id = ${ref.paymentId}` : sql`provider_ref = ${ref.providerRef ?? ""}`;
  const res = await db.execute<PaymentRow>(sql`SELECT ${PAYMENT_COLS} FROM payments WHERE provider = ${provider} AND ${cond} FOR UPDATE`);
  return res.rows[0] ?? null;
}

export async function setPaymentStatus(db: Drizzle, id: string, status: string): Promise<void> {
  await db.execute(sql`UPDATE payments SET status = ${status}::payment_status, updated_at = now() WHERE id = ${id}`);
}

/** Stores a verified webhook; null when (provider, event_id) was seen before. */
export async function insertWebhookEvent(
  db: Drizzle,
  e: { provider: string; eventId: string; type: string; payload: unknown },
): Promise<string | null> {
  const res = await db.execute<{ id: string }>(sql`
    INSERT INTO webhook_events (provider, event_id, type, payload) VALUES (${e.provider}, ${e.eventId}, ${e.type}, ${JSON.stringify(e.payload)}::jsonb)
    ON CONFLICT (provider, event_id) DO NOTHING RETURNING id`);
  return res.rows[0]?.id ?? null;
}

/** Forgets a stored event that could not be queued, so the provider's retry is stored anew. */
export async function deleteWebhookEvent(db: Drizzle, id: string): Promise<void> {
  await db.execute(sql`DELETE FROM webhook_events WHERE id = ${id}`);
}

export async function findPaymentByRef(db: Drizzle, provider: string, providerRef: string): Promise<PaymentRow | null> {
  const res = await db.execute<PaymentRow>(
    sql`SELECT ${PAYMENT_COLS} FROM payments WHERE provider = ${provider} AND provider_ref = ${providerRef}`,
  );
  return res.rows[0] ?? null;
}

export type WebhookEventRow = {
  id: string;
  provider: string;
  event_id: string;
  type: string;
  payload: Record<string, unknown>;
  status: string;
  attempts: number;
};

export async function lockWebhookEvent(db: Drizzle, id: string): Promise<WebhookEventRow | null> {
  const res = await db.execute<WebhookEventRow>(
    sql`SELECT id, provider, event_id, type, payload, status::text AS status, attempts FROM webhook_events WHERE id = ${id} FOR UPDATE`,
  );
  return res.rows[0] ?? null;
}

export async function finishWebhookEvent(db: Drizzle, id: string, status: "PROCESSED" | "IGNORED", note: string | null): Promise<void> {
  await db.execute(
    sql`UPDATE webhook_events SET status = ${status}::webhook_event_status, attempts = attempts + 1, last_error = ${note}, processed_at = now() WHERE id = ${id}`,
  );
}

export async function recordWebhookFailure(db: Drizzle, id: string, error: string): Promise<void> {
  await db.execute(sql`UPDATE webhook_events SET attempts = attempts + 1, last_error = ${error.slice(0, 500)} WHERE id = ${id}`);
}

export async function markWebhookDead(db: Drizzle, id: string): Promise<{ attempts: number; last_error: string | null } | null> {
  const res = await db.execute<{ attempts: number; last_error: string | null }>(sql`
    UPDATE webhook_events SET status = 'FAILED' WHERE id = ${id} AND status = 'RECEIVED' RETURNING attempts, last_error`);
  return res.rows[0] ?? null;
}

export async function upsertDeadLetter(
  db: Drizzle,
  d: { queue: string; messageKey: string; body: unknown; attempts: number; lastError: string | null },
): Promise<void> {
  await db.execute(sql`
    INSERT INTO dead_letters (queue, message_key, body, attempts, last_error) VALUES (${d.queue}, ${d.messageKey}, ${JSON.stringify(d.body)}::jsonb, ${d.attempts}, ${d.lastError})
    ON CONFLICT (queue, message_key) DO UPDATE SET status = 'DEAD', attempts = excluded.attempts,
      last_error = excluded.last_error, last_seen_at = now(), body = excluded.body`);
}

export type DeadLetterRow = {
  id: string;
  queue: string;
  message_key: string;
  body: Record<string, unknown>;
  attempts: number;
  last_error: string | null;
  status: "DEAD" | "REPLAYED";
  first_seen_at: string;
  last_seen_at: string;
  replayed_at: string | null;
};

const DL_COLS = sql`id, queue, message_key, body, attempts, last_error, status::text AS status,
  to_char(first_seen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS first_seen_at,
  to_char(last_seen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS last_seen_at,
  to_char(replayed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS replayed_at, last_seen_at::text AS seen_key`;

export async function listDeadLetters(
  db: Drizzle,
  f: { status?: string | undefined; queue?: string | undefined },
  after: { seen: string; id: string } | null,
  limit: number,
) {
  const where: SQL[] = [sql`TRUE`];
  if (f.status) where.push(sql`status = ${f.status}::dead_letter_status`);
  if (f.queue) where.push(sql`queue = ${f.queue}`);
  if (after) where.push(sql`(last_seen_at, id) < (${after.seen}::timestamptz, ${after.id}::uuid)`);
  const res = await db.execute<DeadLetterRow & { seen_key: string }>(
    sql`SELECT ${DL_COLS} FROM dead_letters WHERE ${sql.join(where, sql` AND `)} ORDER BY last_seen_at DESC, id DESC LIMIT ${limit + 1}`,
  );
  return res.rows;
}

/** Marks DEAD letters REPLAYED and returns them (one, or all since a time). */
export async function claimForReplay(db: Drizzle, sel: { id?: string; since?: string }): Promise<DeadLetterRow[]> {
  const cond = sel.id ? sql`id = ${sel.id}` : sql`last_seen_at >= ${sel.since ?? "epoch"}::timestamptz`;
  const res = await db.execute<DeadLetterRow>(sql`
    UPDATE dead_letters SET status = 'REPLAYED', replayed_at = now() WHERE status = 'DEAD' AND ${cond} RETURNING ${DL_COLS}`);
  return res.rows;
}

export async function reopenWebhookEvent(db: Drizzle, id: string): Promise<void> {
  await db.execute(sql`UPDATE webhook_events SET status = 'RECEIVED' WHERE id = ${id} AND status = 'FAILED'`);
}

export async function queueStats(db: Drizzle) {
  const res = await db.execute<Record<string, number | null>>(sql`
    SELECT
      count(*) FILTER (WHERE status = 'RECEIVED')::int AS received,
      count(*) FILTER (WHERE status = 'PROCESSED')::int AS processed,
      count(*) FILTER (WHERE status = 'IGNORED')::int AS ignored,
      count(*) FILTER (WHERE status = 'FAILED')::int AS failed,
      extract(epoch FROM now() - min(received_at) FILTER (WHERE status = 'RECEIVED'))::float8 AS oldest_pending_age_sec,
      (SELECT count(*) FROM dead_letters WHERE status = 'DEAD')::int AS dlq_size,
      (SELECT count(*) FROM dead_letters WHERE status = 'REPLAYED')::int AS dlq_replayed
    FROM webhook_events`);
  return res.rows[0] ?? {};
}
