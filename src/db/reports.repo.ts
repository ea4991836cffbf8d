/**
 * SQL of the sales reports: reads of the materialized views `daily_sales` and `product_sales_daily`
 * (migrations/0006_sales_reports.sql), live sales windows from `sales_paid_orders`, and the refresh.
 * Reads go through the caching Hyperdrive binding: no volatile or stable function (now(), to_char…)
 * appears in their text, or Hyperdrive would not cache them; times and days arrive as parameters,
 * days leave as integers (days since 1970-01-01), never through a DateStyle-dependent cast.
 */
import { sql } from "drizzle-orm";
import type { Drizzle } from "./client.ts";

export type DailySalesRow = {
  epoch_day: number;
  currency: string;
  orders: number;
  units: number;
  gross_revenue_cents: number;
  refunded_cents: number;
  net_revenue_cents: number;
  average_order_value_cents: number;
};

/** The rows of daily_sales from `from` to `to` (inclusive, YYYY-MM-DD), one currency or all. */
export async function dailySales(db: Drizzle, q: { from: string; to: string; currency: string | null }): Promise<DailySalesRow[]> {
  const res = await db.execute<DailySalesRow>(sql`
    SELECT (day - DATE '1970-01-01')::int AS epoch_day, currency, orders, units::float8 AS units,
      gross_revenue_cents::float8 AS gross_revenue_cents, refunded_cents::float8 AS refunded_cents,
      net_revenue_cents::float8 AS net_revenue_cents, average_order_value_cents::float8 AS average_order_value_cents
    FROM daily_sales
    WHERE day BETWEEN ${q.from}::date AND ${q.to}::date AND (${q.currency}::text IS NULL OR currency = ${q.currency}::text)
    ORDER BY day, currency`);
  return res.rows;
}

/** Every currency with a sale or a refund on record (the series of an unfiltered report). */
export async function reportCurrencies(db: Drizzle): Promise<string[]> {
  const res = await db.execute<{ currency: string }>(sql`SELECT DISTINCT currency FROM daily_sales ORDER BY currency`);
  return res.rows.map((r) => r.currency);
}

export type ProductRankRow = {
  currency: string;
  product_id: string;
  sku: string;
  name: string;
  orders: number;
  units: number;
  revenue_cents: number;
  revenue_rank: number;
  units_rank: number;
};

/** Products ranked per currency by revenue and by units over the range; rows in either top `limit`. */
export async function rankedProducts(
  db: Drizzle,
  q: { from: string; to: string; currency: string | null; limit: number },
): Promise<ProductRankRow[]> {
  const res = await db.execute<ProductRankRow>(sql`
    WITH agg AS (
      SELECT product_id, currency, sum(orders)::int AS orders, sum(units)::float8 AS units, sum(revenue_cents)::float8 AS revenue_cents
      FROM product_sales_daily
      WHERE day BETWEEN ${q.from}::date AND ${q.to}::date AND (${q.currency}::text IS NULL OR currency = ${q.currency}::text)
      GROUP BY product_id, currency
    ), ranked AS (
      SELECT agg.*,
        row_number() OVER (PARTITION BY currency ORDER BY revenue_cents DESC, units DESC, product_id)::int AS revenue_rank,
        row_number() OVER (PARTITION BY currency ORDER BY units DESC, revenue_cents DESC, product_id)::int AS units_rank
      FROM agg
    )
    SELECT r.currency, r.product_id, p.sku, p.name, r.orders, r.units, r.revenue_cents, r.revenue_rank, r.units_rank
    FROM ranked r JOIN products p ON p.id = r.product_id
    WHERE r.revenue_rank <= ${q.limit} OR r.units_rank <= ${q.limit}
    ORDER BY r.currency, r.revenue_rank`);
  return res.rows;
}

export type RefreshRow = {
  trigger: string;
  /** Milliseconds since 1970 (the driver hands timestamps over as text in the session's time zone). */
  started_ms: number;
  finished_ms: number;
  duration_ms: number;
};

/** Epoch milliseconds of a timestamptz with immutable operators only (no extract on timestamptz, no time zone). */
const epochMs = (col: string) => sql.raw(`(extract(epoch FROM ${col} - TIMESTAMPTZ '1970-01-01 00:00:00+00') * 1000)::float8`);
const REFRESH_COLS = sql`trigger, ${epochMs("started_at")} AS started_ms, ${epochMs("finished_at")} AS finished_ms, duration_ms`;

/** The last completed refresh (the reports are as of it), or null before the first. */
export async function lastRefresh(db: Drizzle): Promise<RefreshRow | null> {
  const res = await db.execute<RefreshRow>(sql`SELECT ${REFRESH_COLS} FROM report_refreshes ORDER BY finished_at DESC LIMIT 1`);
  return res.rows[0] ?? null;
}

export type WindowSalesRow = {
  label: string;
  currency: string;
  orders: number;
  revenue_cents: number;
};

/** Live: sales (orders, gross revenue) per currency in each labelled window [start, end), from the base tables. */
export async function salesInWindows(db: Drizzle, windows: { label: string; start: string; end: string }[]): Promise<WindowSalesRow[]> {
  const res = await db.execute<WindowSalesRow>(sql`
    SELECT w.label, s.currency, count(*)::int AS orders, sum(s.total_cents)::float8 AS revenue_cents
    FROM unnest(${sql.param(windows.map((w) => w.label))}::text[], ${sql.param(windows.map((w) => w.start))}::timestamptz[],
      ${sql.param(windows.map((w) => w.end))}::timestamptz[])
      AS w(label, starts, ends)
    JOIN sales_paid_orders s ON s.paid_at >= w.starts AND s.paid_at < w.ends
    GROUP BY w.label, s.currency
    ORDER BY s.currency, w.label`);
  return res.rows;
}

/** Work waiting: unpaid orders, webhook events not yet settled, dead letters not replayed. */
export async function backlogCounts(db: Drizzle): Promise<{ pending_orders: number; webhook_backlog: number; dlq_size: number }> {
  const res = await db.execute<{ pending_orders: number; webhook_backlog: number; dlq_size: number }>(sql`
    SELECT (SELECT count(*) FROM orders WHERE status = 'PENDING')::int AS pending_orders,
      (SELECT count(*) FROM webhook_events WHERE status = 'RECEIVED')::int AS webhook_backlog,
      (SELECT count(*) FROM dead_letters WHERE status = 'DEAD')::int AS dlq_size`);
  return res.rows[0] ?? { pending_orders: 0, webhook_backlog: 0, dlq_size: 0 };
}

/** Key of the transaction-level advisory lock that makes refreshes take turns (pg_locks objid). */
export const REFRESH_LOCK_KEY = 1_404_200_614;

/**
 * Refreshes both views CONCURRENTLY (reads go on meanwhile) in one transaction, under an advisory
 * lock taken without waiting: null when another refresh holds it. Transaction-level, so it is
 * released with the transaction whatever happens (Hyperdrive pools connections per transaction:
 * a session lock could outlive us on a pooled connection). Logs the refresh; keeps 30 days of log.
 */
export async function refreshSalesViews(db: Drizzle, trigger: string): Promise<RefreshRow | null> {
  return db.transaction(async (tx) => {
    const lock = await tx.execute<{ got: boolean }>(sql`SELECT pg_try_advisory_xact_lock(${REFRESH_LOCK_KEY}::bigint) AS got`);
    if (!lock.rows[0]?.got) return null;
    await tx.execute(sql`REFRESH MATERIALIZED VIEW CONCURRENTLY daily_sales`);
    await tx.execute(sql`REFRESH MATERIALIZED VIEW CONCURRENTLY product_sales_daily`);
    const res = await tx.execute<RefreshRow>(sql`
      INSERT INTO report_refreshes (trigger, started_at, finished_at, duration_ms)
      VALUES (${trigger}, now(), clock_timestamp(), round(extract(epoch FROM clock_timestamp() - now()) * 1000)::int)
      RETURNING ${REFRESH_COLS}`);
    await tx.execute(sql`DELETE FROM report_refreshes WHERE finished_at < now() - interval '30 days'`);
    return res.rows[0] ?? null;
  });
}
