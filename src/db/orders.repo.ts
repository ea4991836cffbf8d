/** SQL of orders. Functions that change state expect to run inside a transaction. */
import { type SQL, sql } from "drizzle-orm";
import type { Drizzle } from "./client.ts";

export type LockedProduct = {
  id: string;
  sku: string;
  name: string;
  price_cents: number;
  currency: string;
  status: string;
  stock: number;
};

export type OrderRecord = {
  id: string;
  user_id: string;
  customer_email: string;
  status: string;
  currency: string;
  subtotal_cents: number;
  total_cents: number;
  version: number;
  client_token: string | null;
  expires_at: string | null;
  created_at: string;
  updated_at: string;
  created_at_key: string;
  items: { product_id: string; sku: string; name: string; unit_price_cents: number; qty: number; line_total_cents: number }[];
};

/** Locks the rows in id order (a fixed order means two orders cannot deadlock on them). */
export async function lockProductsBySku(tx: Drizzle, skus: string[]): Promise<LockedProduct[]> {
  const res = await tx.execute<LockedProduct>(sql`
    SELECT id, sku, name, price_cents, currency, status::text, stock FROM products
    WHERE sku = ANY(${sql.param(skus)}::text[]) ORDER BY id FOR UPDATE`);
  return res.rows;
}

export async function decrementStock(tx: Drizzle, lines: { id: string; qty: number }[]): Promise<void> {
  // The rows are locked and checked by the caller; the CHECK (stock >= 0) constraint is the last line of defence.
  await tx.execute(sql`
    UPDATE products p SET stock = p.stock - v.qty, updated_at = now()
    FROM jsonb_to_recordset(${JSON.stringify(lines)}::jsonb) AS v(id uuid, qty int) WHERE p.id = v.id`);
}

export async function restockOrder(tx: Drizzle, orderId: string): Promise<string[]> {
  const res = await tx.execute<{ id: string }>(sql`
    UPDATE products p SET stock = p.stock + i.qty, updated_at = now()
    FROM (SELECT product_id, sum(qty)::int AS qty FROM order_items WHERE order_id = ${orderId} GROUP BY product_id) i
    WHERE p.id = i.product_id RETURNING p.id`);
  return res.rows.map((r) => r.id);
}

export async function findOrderIdByClientToken(db: Drizzle, userId: string, token: string): Promise<string | null> {
  const res = await db.execute<{ id: string }>(sql`SELECT id FROM orders WHERE user_id = ${userId} AND client_token = ${token}`);
  return res.rows[0]?.id ?? null;
}

/** Null when another order already holds (user, client_token). */
export async function insertOrder(
  tx: Drizzle,
  o: { userId: string; currency: string; subtotal: number; clientToken: string | null; paymentWindowSec: number },
): Promise<string | null> {
  const res = await tx.execute<{ id: string }>(sql`
    INSERT INTO orders (user_id, currency, subtotal_cents, total_cents, client_token, expires_at)
    VALUES (${o.userId}, ${o.currency}, ${o.subtotal}, ${o.subtotal}, ${o.clientToken}, now() + make_interval(secs => ${o.paymentWindowSec}))
    ON CONFLICT (user_id, client_token) DO NOTHING RETURNING id`);
  return res.rows[0]?.id ?? null;
}

export async function insertOrderItems(
  tx: Drizzle,
  orderId: string,
  items: { product_id: string; sku: string; name: string; unit_price_cents: number; qty: number }[],
): Promise<void> {
  await tx.execute(sql`
    INSERT INTO order_items (order_id, product_id, sku, name, unit_price_cents, qty, line_total_cents)
    SELECT ${orderId}, v.product_id, v.sku, v.name, v.unit_price_cents, v.qty, v.unit_price_cents::bigint * v.qty
    FROM jsonb_to_recordset(${JSON.stringify(items)}::jsonb) AS v(product_id uuid, sku text, name text, unit_price_cents int, qty int)`);
}

/**
 * Locks the customer's row: a customer's checkouts run one at a time, so the caps below are
 * checked and used atomically. False when the account no longer exists.
 */
export async function lockCustomer(tx: Drizzle, userId: string): Promise<boolean> {
  const res = await tx.execute(sql`SELECT 1 FROM users WHERE id = ${userId} FOR UPDATE`);
  return res.rows.length > 0;
}

/** What the customer's unpaid orders hold: how many, when the first frees up, and units per SKU (of `skus`). */
export async function openReservations(
  tx: Drizzle,
  userId: string,
  skus: string[],
): Promise<{ openOrders: number; nextExpirySec: number | null; unitsBySku: Map<string, number> }> {
  const [open, units] = await Promise.all([
    tx.execute<{ n: number; next_sec: number | null }>(sql`
      SELECT count(*)::int AS n, ceil(extract(epoch FROM min(expires_at) - now()))::int AS next_sec
      FROM orders WHERE user_id = ${userId} AND status = 'PENDING'`),
    tx.execute<{ sku: string; units: number }>(sql`
      SELECT i.sku, sum(i.qty)::int AS units FROM order_items i JOIN orders o ON o.id = i.order_id
      WHERE o.user_id = ${userId} AND o.status = 'PENDING' AND i.sku = ANY(${sql.param(skus)}::text[]) GROUP BY i.sku`),
  ]);
  return {
    openOrders: open.rows[0]?.n ?? 0,
    nextExpirySec: open.rows[0]?.next_sec ?? null,
    unitsBySku: new Map(units.rows.map((r) => [r.sku, r.units])),
  };
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

const ORDER_SELECT = sql`
  SELECT o.id, o.user_id, u.email AS customer_email, o.status::text AS status, o.currency, o.subtotal_cents::float8 AS subtotal_cents,
         o.total_cents::float8 AS total_cents, o.version, o.client_token,
         to_char(o.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS expires_at,
         to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at,
         to_char(o.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS updated_at,
         o.created_at::text AS created_at_key,
         COALESCE((SELECT json_agg(json_build_object('product_id', i.product_id, 'sku', i.sku, 'name', i.name,
                    'unit_price_cents', i.unit_price_cents, 'qty', i.qty, 'line_total_cents', i.line_total_cents) ORDER BY i.sku)
                   FROM order_items i WHERE i.order_id = o.id), '[]'::json) AS items
  FROM orders o JOIN users u ON u.id = o.user_id`;

export async function getOrder(db: Drizzle, id: string, opts: { forUpdate?: boolean } = {}): Promise<OrderRecord | null> {
  const res = await db.execute<OrderRecord>(sql`${ORDER_SELECT} WHERE o.id = ${id}${opts.forUpdate ? sql` FOR UPDATE OF o` : sql``}`);
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
