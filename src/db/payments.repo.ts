/** SQL for payments, payment anomalies, webhook events and dead letters. */
import { type SQL, sql } from "drizzle-orm";
import { UUID } from "../lib/ids.ts";
import type { Drizzle } from "./client.ts";

export type PaymentStatus = "INITIATED" | "SUCCEEDED" | "FAILED" | "REFUNDED";

export type PaymentRow = {
  id: string;
  order_id: string;
  user_id: string;
  provider: string;
  provider_ref: string | null;
  amount_cents: number;
  currency: string;
  status: PaymentStatus;
  amount_refunded_cents: number;
  failed_attempts: number;
  last_failure: string | null;
  /** True while an attempt holds the payment (its lease has not run out). */
  leased: boolean;
  lease_owner: string | null;
  created_at: string;
};

const PAYMENT_COLS = sql`id, order_id, user_id, provider, provider_ref, amount_cents::float8 AS amount_cents, currency, status::text AS status,
  amount_refunded_cents::float8 AS amount_refunded_cents, failed_attempts, last_failure,
  coalesce(lease_until > now(), false) AS leased, lease_owner,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at`;

/**
 * The order's open intent (INITIATED); at most one exists (`payments_one_open_per_order`).
 * `forUpdate` locks it; without, it is a look before a provider call.
 */
export async function openPayment(db: Drizzle, orderId: string, opts: { forUpdate?: boolean } = {}): Promise<PaymentRow | null> {
  const res = await db.execute<PaymentRow>(
    sql`SELECT ${PAYMENT_COLS} FROM payments WHERE order_id = ${orderId} AND status = 'INITIATED'${opts.forUpdate ? sql` FOR UPDATE` : sql``}`,
  );
  return res.rows[0] ?? null;
}

/** A new open intent, leased to the attempt that creates it. Null if the order already has one. */
export async function insertPayment(
  tx: Drizzle,
  p: { orderId: string; userId: string; provider: string; amountCents: number; currency: string; leaseSec: number; leaseOwner: string },
): Promise<PaymentRow | null> {
  const res = await tx.execute<PaymentRow>(sql`
    INSERT INTO payments (order_id, user_id, provider, amount_cents, currency, lease_until, lease_owner)
    VALUES (${p.orderId}, ${p.userId}, ${p.provider}, ${p.amountCents}, ${p.currency}, now() + make_interval(secs => ${p.leaseSec}), ${p.leaseOwner})
    ON CONFLICT (order_id) WHERE status = 'INITIATED' DO NOTHING RETURNING ${PAYMENT_COLS}`);
  return res.rows[0] ?? null;
}

export async function takeLease(tx: Drizzle, id: string, leaseSec: number, owner: string): Promise<void> {
  await tx.execute(
    sql`UPDATE payments SET lease_until = now() + make_interval(secs => ${leaseSec}), lease_owner = ${owner}, updated_at = now() WHERE id = ${id}`,
  );
}

/** Ends an attempt: the reference is kept once known (never replaced), the lease is released. Returns the stored reference. */
export async function endAttempt(db: Drizzle, id: string, ref: string | null): Promise<string | null> {
  const res = await db.execute<{ provider_ref: string | null }>(sql`
    UPDATE payments SET provider_ref = coalesce(provider_ref, ${ref}), lease_until = NULL, lease_owner = NULL, updated_at = now()
    WHERE id = ${id} RETURNING provider_ref`);
  return res.rows[0]?.provider_ref ?? null;
}

/** Closes an open intent without capture (cancelled at the provider, or never created there). */
export async function closePayment(tx: Drizzle, id: string, why: string): Promise<void> {
  await tx.execute(sql`
    UPDATE payments SET status = 'FAILED', last_failure = ${why}, lease_until = NULL, lease_owner = NULL, updated_at = now()
    WHERE id = ${id} AND status = 'INITIATED'`);
}

/** The payment an event is about (not locked: the caller locks the order, then the payment). */
export async function findEventPayment(
  db: Drizzle,
  provider: string,
  ref: { providerRef?: string | undefined; paymentId?: string | undefined },
): Promise<{ id: string; order_id: string } | null> {
  // Our own payment id (sent to the provider as metadata) first: it is known before the provider answers.
  const cond = ref.paymentId && UUID.test(ref.paymentId) ? sql`id = ${ref.paymentId}` : sql`provider_ref = ${ref.providerRef ?? ""}`;
  const res = await db.execute<{ id: string; order_id: string }>(
    sql`SELECT id, order_id FROM payments WHERE provider = ${provider} AND ${cond}`,
  );
  return res.rows[0] ?? null;
}

export async function getPayment(db: Drizzle, id: string, opts: { forUpdate?: boolean } = {}): Promise<PaymentRow | null> {
  const res = await db.execute<PaymentRow>(
    sql`SELECT ${PAYMENT_COLS} FROM payments WHERE id = ${id}${opts.forUpdate ? sql` FOR UPDATE` : sql``}`,
  );
  return res.rows[0] ?? null;
}

/** Writes the state settlement derived (status, refunded total, attempts; a first-seen reference). */
export async function updatePaymentState(
  tx: Drizzle,
  id: string,
  s: { status: PaymentStatus; amountRefundedCents: number; failedAttempts: number; lastFailure: string | null; providerRef: string | null },
): Promise<void> {
  await tx.execute(sql`
    UPDATE payments SET status = ${s.status}::payment_status, amount_refunded_cents = ${s.amountRefundedCents},
      failed_attempts = ${s.failedAttempts}, last_failure = ${s.lastFailure}, provider_ref = coalesce(provider_ref, ${s.providerRef}),
      lease_until = CASE WHEN ${s.status} = 'INITIATED' THEN lease_until END, updated_at = now()
    WHERE id = ${id}`);
}

/** Whether another payment of the order was captured (it paid the order, or it is itself a surplus). */
export async function otherCapturedPayment(tx: Drizzle, orderId: string, exceptId: string): Promise<boolean> {
  const res = await tx.execute(
    sql`SELECT 1 FROM payments WHERE order_id = ${orderId} AND id <> ${exceptId} AND status IN ('SUCCEEDED', 'REFUNDED') LIMIT 1`,
  );
  return res.rows.length > 0;
}

export type AnomalyKind = "amount_mismatch" | "currency_mismatch" | "reference_mismatch" | "surplus_capture";

export type AnomalyRow = {
  id: string;
  kind: AnomalyKind;
  payment_id: string | null;
  order_id: string | null;
  webhook_event_id: string | null;
  provider: string;
  provider_ref: string | null;
  amount_cents: number | null;
  currency: string | null;
  detail: Record<string, unknown>;
  refund_status: "pending" | "refunded" | null;
  created_at: string;
  resolved_at: string | null;
};

const ANOMALY_COLS = sql`id, kind, payment_id, order_id, webhook_event_id, provider, provider_ref, amount_cents::float8 AS amount_cents, currency,
  detail, refund_status, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at,
  to_char(resolved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS resolved_at, created_at::text AS created_key`;

/** Records an anomaly once per (webhook event, kind); returns its id (the existing one on a replay). */
export async function insertAnomaly(
  tx: Drizzle,
  a: {
    kind: AnomalyKind;
    paymentId: string | null;
    orderId: string | null;
    webhookEventId: string | null;
    provider: string;
    providerRef: string | null;
    amountCents: number | null;
    currency: string | null;
    detail: Record<string, unknown>;
    refundStatus?: "pending" | null;
  },
): Promise<string> {
  const res = await tx.execute<{ id: string }>(sql`
    WITH ins AS (
      INSERT INTO payment_anomalies (kind, payment_id, order_id, webhook_event_id, provider, provider_ref, amount_cents, currency, detail, refund_status)
      VALUES (${a.kind}, ${a.paymentId}, ${a.orderId}, ${a.webhookEventId}, ${a.provider}, ${a.providerRef}, ${a.amountCents}, ${a.currency},
              ${JSON.stringify(a.detail)}::jsonb, ${a.refundStatus ?? null})
      ON CONFLICT (webhook_event_id, kind) DO NOTHING RETURNING id)
    SELECT id FROM ins UNION ALL
    SELECT id FROM payment_anomalies WHERE webhook_event_id = ${a.webhookEventId} AND kind = ${a.kind} LIMIT 1`);
  return res.rows[0]?.id as string;
}

export async function hasSurplusAnomaly(tx: Drizzle, paymentId: string): Promise<boolean> {
  const res = await tx.execute(sql`SELECT 1 FROM payment_anomalies WHERE payment_id = ${paymentId} AND kind = 'surplus_capture' LIMIT 1`);
  return res.rows.length > 0;
}

/** Surplus captures still waiting for their refund, oldest first. */
export async function pendingRefundIds(db: Drizzle, limit: number): Promise<string[]> {
  const res = await db.execute<{ id: string }>(
    sql`SELECT id FROM payment_anomalies WHERE refund_status = 'pending' ORDER BY created_at LIMIT ${limit}`,
  );
  return res.rows.map((r) => r.id);
}

export async function lockAnomaly(tx: Drizzle, id: string): Promise<AnomalyRow | null> {
  const res = await tx.execute<AnomalyRow>(sql`SELECT ${ANOMALY_COLS} FROM payment_anomalies WHERE id = ${id} FOR UPDATE`);
  return res.rows[0] ?? null;
}

export async function resolveAnomaly(
  tx: Drizzle,
  id: string,
  refundStatus: "refunded" | null,
  note: Record<string, unknown>,
): Promise<void> {
  await tx.execute(sql`
    UPDATE payment_anomalies SET refund_status = coalesce(${refundStatus}, refund_status), resolved_at = now(),
      detail = detail || ${JSON.stringify(note)}::jsonb WHERE id = ${id}`);
}

export async function listAnomalies(
  db: Drizzle,
  f: { kind?: string | undefined; open?: boolean | undefined },
  after: { created: string; id: string } | null,
  limit: number,
) {
  const where: SQL[] = [sql`TRUE`];
  if (f.kind) where.push(sql`kind = ${f.kind}`);
  if (f.open === true) where.push(sql`resolved_at IS NULL`);
  if (f.open === false) where.push(sql`resolved_at IS NOT NULL`);
  if (after) where.push(sql`(created_at, id) < (${after.created}::timestamptz, ${after.id}::uuid)`);
  const res = await db.execute<AnomalyRow & { created_key: string }>(
    sql`SELECT ${ANOMALY_COLS} FROM payment_anomalies WHERE ${sql.join(where, sql` AND `)} ORDER BY created_at DESC, id DESC LIMIT ${limit + 1}`,
  );
  return res.rows;
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
      (SELECT count(*) FROM dead_letters WHERE status = 'REPLAYED')::int AS dlq_replayed,
      (SELECT count(*) FROM payment_anomalies WHERE resolved_at IS NULL)::int AS open_anomalies,
      (SELECT count(*) FROM payment_anomalies WHERE refund_status = 'pending')::int AS pending_refunds
    FROM webhook_events`);
  return res.rows[0] ?? {};
}
