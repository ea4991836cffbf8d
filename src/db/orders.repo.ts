/** SQL of orders. Functions that change state expect to run inside a transaction. */

import { type SQL, sql } from "drizzle-orm";
import { pgError } from "../lib/pg-errors.ts";
import type { Address } from "../shipping/address.ts";
import type { Drizzle } from "./client.ts";

export type OrderRecord = {
  id: string;
  user_id: string;
  customer_email: string;
  status: string;
  currency: string;
  subtotal_cents: number;
  shipping_cents: number;
  total_cents: number;
  version: number;
  client_token: string | null;
  expires_at: string | null;
  created_at: string;
  updated_at: string;
  created_at_key: string;
  items: { product_id: string; sku: string; name: string; unit_price_cents: number; qty: number; line_total_cents: number }[];
  /** order_shipping_json (migrations/0009): null when the order ships nothing. */
  shipping: OrderShippingRecord | null;
};

export interface OrderShippingRecord {
  address: Address;
  carrier: string;
  service: string;
  service_name: string | null;
  amount_cents: number;
  currency: string;
  estimated: boolean;
  estimated_days: number | null;
}

/** What `place_order` (migrations/0009_shipping.sql, after 0007) takes: one checkout. */
export interface CheckoutArgs {
  user_id: string;
  items: { sku: string; qty: number }[];
  client_token: string | null;
  /** Who places it (history row): null and "SYSTEM" for the system. */
  actor_id: string | null;
  actor_role: string;
  payment_window_sec: number;
  /** The hoarding caps; null for ADMIN bulk orders. */
  caps: { max_open_orders: number; max_units_per_sku: number } | null;
  /** From a rate the Worker verified (src/services/shipping.service.ts `shippingForCheckout`); null: none sent. */
  shipping: (Omit<OrderShippingRecord, "service_name"> & { service_name: string }) | null;
}

/** Why `place_order` refused (its RAISE: SQLSTATE TK001, DETAIL as JSON). Nothing was written. `i` is the line index. */
export type CheckoutRefusal =
  | { code: "unauthorized" }
  | { code: "open_orders_limit"; open_orders: number; next_expiry_sec: number | null }
  | { code: "reservation_limit"; over: { i: number; sku: string; already: number }[] }
  | { code: "unknown_sku"; lines: { i: number; sku: string }[] }
  | { code: "mixed_currency"; currencies: string[] }
  | { code: "insufficient_stock"; short: { i: number; sku: string; requested: number; available: number }[] }
  /** A product needs shipping and none was sent; or none does and some was. */
  | { code: "shipping_required" }
  | { code: "shipping_not_required" }
  | { code: "shipping_currency_mismatch"; currency: string; shipping_currency: string }
  /** A concurrent request with the same client_token committed first; `order_id` is its order. */
  | { code: "client_token_taken"; order_id: string | null };

export class CheckoutRefused extends Error {
  readonly refusal: CheckoutRefusal;
  constructor(refusal: CheckoutRefusal) {
    super(`checkout refused: ${refusal.code}`);
    this.name = "CheckoutRefused";
    this.refusal = refusal;
  }
}

/** The SQLSTATE `place_order` raises its refusals with. */
export const CHECKOUT_REFUSED = "TK001";

/**
 * One checkout in one statement, hence one round trip: `place_order` locks the customer, applies
 * the caps, locks the products in id order, checks every line, reserves the stock and writes the
 * order, items, history and outbox rows, then returns the order as getOrder reads it. Outside a
 * transaction it is its own transaction; inside one (bulk) it is part of it. A refusal throws
 * CheckoutRefused, with nothing written (the statement was aborted).
 */
export async function checkout(db: Drizzle, args: CheckoutArgs): Promise<{ order: OrderRecord; replayed: boolean }> {
  let res: { rows: (OrderRecord & { replayed: boolean })[] };
  try {
    res = await db.execute<OrderRecord & { replayed: boolean }>(sql`SELECT * FROM place_order(${JSON.stringify(args)}::jsonb)`);
  } catch (err) {
    const pg = pgError(err);
    if (pg?.code === CHECKOUT_REFUSED && pg.detail) throw new CheckoutRefused(JSON.parse(pg.detail) as CheckoutRefusal);
    throw err;
  }
  const row = res.rows[0];
  if (!row) throw new Error("place_order returned no row");
  const { replayed, ...order } = row;
  return { order, replayed };
}

export async function restockOrder(tx: Drizzle, orderId: string): Promise<string[]> {
  const res = await tx.execute<{ id: string }>(sql`
    UPDATE products p SET stock = p.stock + i.qty, updated_at = now()
    FROM (SELECT product_id, sum(qty)::int AS qty FROM order_items WHERE order_id = ${orderId} GROUP BY product_id) i
    WHERE p.id = i.product_id RETURNING p.id`);
  return res.rows.map((r) => r.id);
}

/** The order `o` has an open intent with an attempt running (leased) or active within `inFlightSec`. */
const paymentInFlight = (inFlightSec: number) => sql`
  SELECT 1 FROM payments p WHERE p.order_id = o.id AND p.status = 'INITIATED'
    AND (p.lease_until > now() OR p.updated_at > now() - make_interval(secs => ${inFlightSec}))`;

/**
 * PENDING orders past their payment window, oldest first, except those whose payment is in flight
 * (an attempt running, or one active less than `inFlightSec` ago: the customer may be in a 3-D Secure challenge right now).
 */
export async function expiredOrderIds(db: Drizzle, inFlightSec: number, limit: number): Promise<string[]> {
  const res = await db.execute<{ id: string }>(sql`
    SELECT o.id FROM orders o
    WHERE o.status = 'PENDING' AND o.expires_at <= now() AND NOT EXISTS (${paymentInFlight(inFlightSec)})
    ORDER BY o.expires_at LIMIT ${limit}`);
  return res.rows.map((r) => r.id);
}

/** Re-checked under the order's row lock: still expired and no payment in flight? */
export async function isExpirable(tx: Drizzle, orderId: string, inFlightSec: number): Promise<boolean> {
  const res = await tx.execute(sql`
    SELECT 1 FROM orders o WHERE o.id = ${orderId} AND o.status = 'PENDING' AND o.expires_at <= now()
      AND NOT EXISTS (${paymentInFlight(inFlightSec)})`);
  return res.rows.length > 0;
}

export async function insertHistory(
  tx: Drizzle,
  h: { orderId: string; from: string | null; to: string; actorId: string | null; actorRole: string; reason: string | null },
): Promise<void> {
  await tx.execute(sql`
    INSERT INTO order_status_history (order_id, from_status, to_status, actor_id, actor_role, reason)
    VALUES (${h.orderId}, ${h.from}::order_status, ${h.to}::order_status, ${h.actorId}, ${h.actorRole}, ${h.reason})`);
}

export async function insertOutbox(
  tx: Drizzle,
  e: { aggregateType: string; aggregateId: string; eventType: string; payload: unknown },
): Promise<void> {
  await tx.execute(sql`
    INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
    VALUES (${e.aggregateType}, ${e.aggregateId}, ${e.eventType}, ${JSON.stringify(e.payload)}::jsonb)`);
}

/** One order as the API returns it. `place_order` (migrations/0009) returns the same columns: change both together. */
const ORDER_SELECT = sql`
  SELECT o.id, o.user_id, u.email AS customer_email, o.status::text AS status, o.currency, o.subtotal_cents::float8 AS subtotal_cents,
         o.shipping_cents::float8 AS shipping_cents, o.total_cents::float8 AS total_cents, o.version, o.client_token,
         to_char(o.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS expires_at,
         to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at,
         to_char(o.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS updated_at,
         o.created_at::text AS created_at_key,
         COALESCE((SELECT json_agg(json_build_object('product_id', i.product_id, 'sku', i.sku, 'name', i.name,
                    'unit_price_cents', i.unit_price_cents, 'qty', i.qty, 'line_total_cents', i.line_total_cents) ORDER BY i.sku)
                   FROM order_items i WHERE i.order_id = o.id), '[]'::json) AS items,
         order_shipping_json(o) AS shipping
  FROM orders o JOIN users u ON u.id = o.user_id`;

export async function getOrder(db: Drizzle, id: string, opts: { forUpdate?: boolean } = {}): Promise<OrderRecord | null> {
  const res = await db.execute<OrderRecord>(sql`${ORDER_SELECT} WHERE o.id = ${id}${opts.forUpdate ? sql` FOR UPDATE OF o` : sql``}`);
  return res.rows[0] ?? null;
}

/** The order a customer placed with `clientToken`, if any. */
export async function getOrderByClientToken(db: Drizzle, userId: string, clientToken: string): Promise<OrderRecord | null> {
  const res = await db.execute<OrderRecord>(sql`${ORDER_SELECT} WHERE o.user_id = ${userId} AND o.client_token = ${clientToken}`);
  return res.rows[0] ?? null;
}

/** Several orders in one query, in the order of `ids`. */
export async function getOrders(db: Drizzle, ids: string[]): Promise<OrderRecord[]> {
  const res = await db.execute<OrderRecord>(sql`${ORDER_SELECT} WHERE o.id = ANY(${sql.param(ids)}::uuid[])`);
  const byId = new Map(res.rows.map((r) => [r.id, r]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}

export interface OrderFilter {
  userId?: string | undefined;
  status?: string | undefined;
  q?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

/** Newest first, keyset over (created_at, id). `q` searches order id, SKU, product name and customer email. */
export async function listOrders(
  db: Drizzle,
  f: OrderFilter,
  after: { createdAt: string; id: string } | null,
  limit: number,
): Promise<OrderRecord[]> {
  const where: SQL[] = [sql`TRUE`];
  if (f.userId) where.push(sql`o.user_id = ${f.userId}`);
  if (f.status) where.push(sql`o.status = ${f.status}::order_status`);
  if (f.from) where.push(sql`o.created_at >= ${f.from}::timestamptz`);
  if (f.to) where.push(sql`o.created_at <= ${f.to}::timestamptz`);
  if (f.q) {
    const like = `%${f.q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
    where.push(sql`(o.id::text = ${f.q.toLowerCase()} OR u.email ILIKE ${like}
      OR EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id AND (i.sku ILIKE ${like} OR i.name ILIKE ${like})))`);
  }
  if (after) where.push(sql`(o.created_at, o.id) < (${after.createdAt}::timestamptz, ${after.id}::uuid)`);
  const res = await db.execute<OrderRecord>(sql`${ORDER_SELECT} WHERE ${sql.join(where, sql` AND `)}
    ORDER BY o.created_at DESC, o.id DESC LIMIT ${limit + 1}`);
  return res.rows;
}

export async function updateOrderStatus(tx: Drizzle, id: string, to: string): Promise<number> {
  const res = await tx.execute<{ version: number }>(sql`
    UPDATE orders SET status = ${to}::order_status, version = version + 1, updated_at = now() WHERE id = ${id} RETURNING version`);
  return res.rows[0]?.version ?? 0;
}

export async function existingUserIds(db: Drizzle, ids: string[]): Promise<Set<string>> {
  const res = await db.execute<{ id: string }>(sql`SELECT id FROM users WHERE id = ANY(${sql.param(ids)}::uuid[])`);
  return new Set(res.rows.map((r) => r.id));
}
