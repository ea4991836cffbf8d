/** SQL for an order's timeline (ADMIN order detail): its status history and its payments. */
import { sql } from "drizzle-orm";
import type { Drizzle } from "./client.ts";

const iso = (col: string) => sql.raw(`to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`);

export interface HistoryRow {
  from_status: string | null;
  to_status: string;
  actor_role: string;
  actor_email: string | null;
  reason: string | null;
  at: string;
}

export interface TimelinePaymentRow {
  payment_id: string;
  provider: string;
  provider_ref: string | null;
  status: string;
  amount_cents: number;
  amount_refunded_cents: number;
  currency: string;
  failed_attempts: number;
  last_failure: string | null;
  created_at: string;
  updated_at: string;
}

/** Null when the order does not exist; otherwise its history (oldest first) and payments (oldest first), in one round trip. */
export async function orderTimeline(
  db: Drizzle,
  orderId: string,
): Promise<{ history: HistoryRow[]; payments: TimelinePaymentRow[] } | null> {
  const res = await db.execute<{ history: HistoryRow[]; payments: TimelinePaymentRow[] }>(sql`
    SELECT
      COALESCE((SELECT json_agg(json_build_object('from_status', h.from_status, 'to_status', h.to_status, 'actor_role', h.actor_role,
                 'actor_email', u.email, 'reason', h.reason, 'at', ${iso("h.at")}) ORDER BY h.at, h.id)
                FROM order_status_history h LEFT JOIN users u ON u.id = h.actor_id WHERE h.order_id = o.id), '[]'::json) AS history,
      COALESCE((SELECT json_agg(json_build_object('payment_id', p.id, 'provider', p.provider, 'provider_ref', p.provider_ref,
                 'status', p.status, 'amount_cents', p.amount_cents, 'amount_refunded_cents', p.amount_refunded_cents,
                 'currency', p.currency, 'failed_attempts', p.failed_attempts, 'last_failure', p.last_failure,
                 'created_at', ${iso("p.created_at")}, 'updated_at', ${iso("p.updated_at")}) ORDER BY p.created_at, p.id)
                FROM payments p WHERE p.order_id = o.id), '[]'::json) AS payments
    FROM orders o WHERE o.id = ${orderId}`);
  return res.rows[0] ?? null;
}
