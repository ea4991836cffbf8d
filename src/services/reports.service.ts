/**
 * Sales reports (docs/reports.md): the daily figures and best sellers from the materialized views,
 * a live summary of today, and their refresh. Reads go through HYPERDRIVE_CACHED (stale by up to
 * ANALYTICS_CACHE_TTL_SEC); the refresh through HYPERDRIVE_FRESH on a connection of its own.
 * Amounts of different currencies are never added up: every figure belongs to one currency.
 */
import type { Config } from "../config.ts";
import { createDatabase, type Database, type Drizzle, databaseOptions } from "../db/client.ts";
import {
  backlogCounts,
  dailySales,
  lastRefresh,
  rankedProducts,
  refreshSalesViews,
  reportCurrencies,
  salesInWindows,
} from "../db/reports.repo.ts";
import { toCsv } from "../lib/csv.ts";
import type { Logger } from "../lib/logger.ts";
import { ApiError } from "../lib/problem.ts";
import { type SalesQuery, SUMMARY_WINDOWS, type SummaryWindow, type TopProductsQuery } from "../schemas/reports.ts";

export type { Drizzle as ReportsDb };

export const REPORT_DEFAULT_DAYS = 30;
export const REPORT_MAX_DAYS = 366;
export const TOP_PRODUCTS_DEFAULT_LIMIT = 10;
const DAY_MS = 86_400_000;

const toDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const dayMs = (day: string) => Date.parse(`${day}T00:00:00Z`);

/** The reading side: the caching binding, one lazily opened connection (as the request context opens dbFresh). */
export function analyticsDatabase(env: Env, cfg: Config): Database {
  return createDatabase(env.HYPERDRIVE_CACHED, databaseOptions(cfg));
}

/**
 * The report's days, inclusive: `to` defaults to today (UTC), `from` to 29 days before `to`.
 * Checked here, with the one clock reading the defaults used: reversed or longer than 366 days → 400.
 */
export function resolveRange(q: { from?: string | undefined; to?: string | undefined }, nowMs: number): { from: string; to: string } {
  const to = q.to ?? toDay(nowMs);
  const from = q.from ?? toDay(dayMs(to) - (REPORT_DEFAULT_DAYS - 1) * DAY_MS);
  const days = (dayMs(to) - dayMs(from)) / DAY_MS + 1;
  const invalid = (field: "from" | "to", code: string, message: string) =>
    new ApiError("validation_error", "1 invalid field.", { errors: [{ field, in: "query", code, message }] });
  if (days < 1) throw invalid(q.to ? "to" : "from", "invalid_range", `must not be before from (${from}) — to is ${to}`);
  if (days > REPORT_MAX_DAYS) {
    throw invalid(q.from ? "from" : "to", "range_too_long", `the range ${from}..${to} has ${days} days; at most ${REPORT_MAX_DAYS}`);
  }
  return { from, to };
}

const FIGURES = ["orders", "units", "gross_revenue_cents", "refunded_cents", "net_revenue_cents", "average_order_value_cents"] as const;
type Figures = Record<(typeof FIGURES)[number], number>;
const zero = (): Figures => Object.fromEntries(FIGURES.map((f) => [f, 0])) as Figures;
/** Rounded half away from zero, as Postgres `round(numeric)` does in the view. */
const average = (gross: number, orders: number) => (orders === 0 ? 0 : Math.sign(gross) * Math.round(Math.abs(gross) / orders));

async function refreshedAt(db: Drizzle): Promise<string | null> {
  const last = await lastRefresh(db);
  return last ? new Date(last.finished_ms).toISOString() : null;
}

export async function salesReport(db: Drizzle, q: Omit<SalesQuery, "format">, nowMs: number) {
  const { from, to } = resolveRange(q, nowMs);
  const currency = q.currency ?? null;
  const [rows, known, refreshed] = await Promise.all([
    dailySales(db, { from, to, currency }),
    currency ? Promise.resolve([currency]) : reportCurrencies(db),
    refreshedAt(db),
  ]);
  const byKey = new Map(rows.map((r) => [`${toDay(r.epoch_day * DAY_MS)}|${r.currency}`, r]));
  const days: ({ day: string; currency: string } & Figures)[] = [];
  const totals = new Map(known.map((c) => [c, zero()]));
  for (let ms = dayMs(from); ms <= dayMs(to); ms += DAY_MS) {
    const day = toDay(ms);
    for (const c of known) {
      const r = byKey.get(`${day}|${c}`);
      const figures = r ? (Object.fromEntries(FIGURES.map((f) => [f, r[f]])) as Figures) : zero();
      days.push({ day, currency: c, ...figures });
      const t = totals.get(c) as Figures;
      for (const f of FIGURES) if (f !== "average_order_value_cents") t[f] += figures[f];
    }
  }
  return {
    from,
    to,
    currency,
    currencies: known,
    refreshed_at: refreshed,
    days,
    totals: [...totals].map(([c, t]) => ({ currency: c, ...t, average_order_value_cents: average(t.gross_revenue_cents, t.orders) })),
  };
}

export type SalesReport = Awaited<ReturnType<typeof salesReport>>;

export const SALES_CSV_COLUMNS = ["day", "currency", ...FIGURES] as const;

/** The report's days as CSV (the JSON `days`, same names, same integers; totals are left to the spreadsheet). */
export function salesCsv(report: SalesReport): string {
  return toCsv(
    SALES_CSV_COLUMNS,
    report.days.map((d) => SALES_CSV_COLUMNS.map((c) => d[c])),
  );
}

export async function topProducts(db: Drizzle, q: TopProductsQuery, nowMs: number) {
  const { from, to } = resolveRange(q, nowMs);
  const limit = q.limit ?? TOP_PRODUCTS_DEFAULT_LIMIT;
  const currency = q.currency ?? null;
  const [rows, refreshed] = await Promise.all([rankedProducts(db, { from, to, currency, limit }), refreshedAt(db)]);
  const entry = (r: (typeof rows)[number], rank: number) => ({
    rank,
    currency: r.currency,
    product_id: r.product_id,
    sku: r.sku,
    name: r.name,
    orders: r.orders,
    units: r.units,
    revenue_cents: r.revenue_cents,
  });
  const ranking = (key: "revenue_rank" | "units_rank") =>
    rows
      .filter((r) => r[key] <= limit)
      .sort((a, b) => (a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : a[key] - b[key]))
      .map((r) => entry(r, r[key]));
  return { from, to, currency, limit, refreshed_at: refreshed, by_revenue: ranking("revenue_rank"), by_units: ranking("units_rank") };
}

/**
 * Today so far against yesterday and the same weekday last week, both up to the same time of day
 * and in full; live from the orders (not the views), plus the backlogs. "Now" moves in steps of the
 * cache window: the same parameters for everyone within a step, so Hyperdrive can cache the query.
 */
export async function salesSummary(db: Drizzle, nowMs: number, cacheTtlSec: number) {
  const step = Math.max(1, cacheTtlSec) * 1000;
  const asOf = Math.floor(nowMs / step) * step;
  const today = Math.floor(asOf / DAY_MS) * DAY_MS;
  const sinceMidnight = asOf - today;
  const iso = (ms: number) => new Date(ms).toISOString();
  const span = (startMs: number, endMs: number) => ({ from: iso(startMs), to: iso(endMs) });
  const windows: Record<SummaryWindow, { from: string; to: string }> = {
    today: span(today, asOf),
    yesterday: span(today - DAY_MS, today - DAY_MS + sinceMidnight),
    yesterday_full_day: span(today - DAY_MS, today),
    same_weekday_last_week: span(today - 7 * DAY_MS, today - 7 * DAY_MS + sinceMidnight),
    same_weekday_last_week_full_day: span(today - 7 * DAY_MS, today - 6 * DAY_MS),
  };
  const [rows, counts] = await Promise.all([
    salesInWindows(
      db,
      SUMMARY_WINDOWS.map((label) => ({ label, start: windows[label].from, end: windows[label].to })),
    ),
    backlogCounts(db),
  ]);
  const currencies = [...new Set(rows.map((r) => r.currency))].sort();
  const sales = currencies.map((currency) => ({
    currency,
    ...(Object.fromEntries(
      SUMMARY_WINDOWS.map((w) => {
        const r = rows.find((x) => x.currency === currency && x.label === w);
        return [w, { orders: r?.orders ?? 0, revenue_cents: r?.revenue_cents ?? 0 }];
      }),
    ) as Record<SummaryWindow, { orders: number; revenue_cents: number }>),
  }));
  return { as_of: iso(asOf), windows, sales, ...counts };
}

export interface RefreshDeps {
  env: Env;
  cfg: Config;
  log: Logger;
}

/**
 * Refreshes the views now and waits for it; null when another refresh is running (an advisory lock:
 * never two at once). Its own connection, because a refresh may outlast DB_QUERY_TIMEOUT_MS.
 */
export async function refreshReports(deps: RefreshDeps, trigger: string) {
  const db = createDatabase(deps.env.HYPERDRIVE_FRESH, { ...databaseOptions(deps.cfg), queryTimeoutMs: deps.cfg.MV_REFRESH_TIMEOUT_MS });
  try {
    const row = await refreshSalesViews(await db.orm(), trigger);
    if (!row) {
      deps.log.info("reports refresh skipped: another one is running", { component: "reports", trigger });
      return null;
    }
    const result = {
      refreshed_at: new Date(row.finished_ms).toISOString(),
      started_at: new Date(row.started_ms).toISOString(),
      duration_ms: row.duration_ms,
    };
    deps.log.info("reports refreshed", { component: "reports", trigger, duration_ms: row.duration_ms });
    return result;
  } finally {
    await db.close();
  }
}
