/**
 * Sales-report test helpers: a seeded generator of order/refund histories written straight to
 * Postgres (timestamps chosen, not "now"), the figures the reports must show computed from the
 * generated history in TypeScript (an oracle independent of the SQL views), and a CSV parser.
 * Each history uses currencies of its own, so other suites' orders never enter its figures.
 */
import { expect } from "vitest";
import { api, connect, type TestUser } from "./helpers.ts";

export const DAY_MS = 86_400_000;
export const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** mulberry32: a small deterministic PRNG (a failing seed can be replayed). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const taken = new Set<string>();
/** Currency codes no other suite uses: `prefix` + two random letters, unique within this file. */
export function freshCurrencies(prefix: string, n: number): string[] {
  const out: string[] = [];
  while (out.length < n) {
    const b = crypto.getRandomValues(new Uint8Array(2));
    const code = `${prefix}${LETTERS[(b[0] as number) % 26]}${LETTERS[(b[1] as number) % 26]}`;
    if (!taken.has(code)) {
      taken.add(code);
      out.push(code);
    }
  }
  return out;
}

export type Status = "PENDING" | "PAID" | "FULFILLED" | "SHIPPED" | "DELIVERED" | "CANCELLED" | "REFUNDED";
export interface GenRefund {
  amount: number;
  at: number;
}
export interface GenPayment {
  id: string;
  amount: number;
  /** A capture for an order that no longer waited for it (recorded as a surplus_capture anomaly): not the sale's. */
  surplus: boolean;
  refunds: GenRefund[];
}
export interface GenOrder {
  id: string;
  currency: string;
  status: Status;
  createdAt: number;
  paidAt: number | null;
  items: { productId: string; qty: number; price: number }[];
  payments: GenPayment[];
}
export interface History {
  currencies: string[];
  products: { id: string; sku: string; currency: string }[];
  orders: GenOrder[];
  firstDay: string;
  lastDay: string;
}

const after: Record<Status, Status[]> = {
  PENDING: [],
  CANCELLED: [],
  PAID: [],
  FULFILLED: ["FULFILLED"],
  SHIPPED: ["FULFILLED", "SHIPPED"],
  DELIVERED: ["FULFILLED", "SHIPPED", "DELIVERED"],
  REFUNDED: ["REFUNDED"],
};

/**
 * A random history over `days` days from `startDay`: orders in every status, some paid just
 * after midnight UTC having been created just before it, free orders, partial and full refunds
 * on later days (some exactly at midnight, some on days without sales), surplus captures refunded.
 */
export function generateHistory(seed: number, opts: { currencies: string[]; startDay: string; days: number; orders: number }): History {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)] as T;
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const start = Date.parse(`${opts.startDay}T00:00:00Z`);
  const products = opts.currencies.flatMap((currency) =>
    Array.from({ length: 4 }, () => ({ id: crypto.randomUUID(), sku: `RPT-${crypto.randomUUID().slice(0, 13).toUpperCase()}`, currency })),
  );
  const statuses: Status[] = ["PENDING", "CANCELLED", "PAID", "PAID", "FULFILLED", "SHIPPED", "DELIVERED", "REFUNDED", "REFUNDED"];
  const orders: GenOrder[] = [];
  for (let i = 0; i < opts.orders; i++) {
    const currency = pick(opts.currencies);
    const status = pick(statuses);
    const day = start + int(0, opts.days - 1) * DAY_MS;
    // A third of the orders are created in the last 15 minutes of a day and paid after midnight.
    const crossing = rand() < 0.33;
    const createdAt = crossing ? day + DAY_MS - int(1, 900_000) : day + int(0, DAY_MS - 1);
    const edge = rand() < 0.15;
    const paidAt =
      status === "PENDING" || status === "CANCELLED"
        ? null
        : crossing
          ? edge
            ? day + DAY_MS
            : day + DAY_MS + int(0, 600_000)
          : createdAt + int(0, 60_000);
    const free = rand() < 0.05;
    const mine = products.filter((p) => p.currency === currency);
    const items = [...new Set(Array.from({ length: int(1, 3) }, () => pick(mine)))].map((p) => ({
      productId: p.id,
      qty: int(1, 5),
      price: free ? 0 : int(1, 50_000),
    }));
    const total = items.reduce((s, it) => s + it.qty * it.price, 0);
    const payments: GenPayment[] = [];
    if (paidAt !== null && total > 0) {
      const refunds: GenRefund[] = [];
      const refundAt = () => (rand() < 0.2 ? Math.floor((paidAt + int(1, 10) * DAY_MS) / DAY_MS) * DAY_MS : paidAt + int(1, 12 * DAY_MS));
      if (status === "REFUNDED") {
        // Full: sometimes in two steps (partial first).
        if (rand() < 0.4 && total > 1) {
          const first = int(1, total - 1);
          const t1 = refundAt();
          refunds.push({ amount: first, at: t1 }, { amount: total - first, at: t1 + int(1, 3 * DAY_MS) });
        } else refunds.push({ amount: total, at: refundAt() });
      } else if (rand() < 0.35) {
        let left = total;
        for (let k = int(1, 3); k > 0 && left > 0; k--) {
          const amount = int(1, left);
          left -= amount;
          refunds.push({ amount, at: refundAt() });
        }
      }
      refunds.sort((a, b) => a.at - b.at);
      payments.push({ id: crypto.randomUUID(), amount: total, surplus: false, refunds });
      if (rand() < 0.1) {
        // A second capture nobody waited for, refunded in full: never part of the figures.
        payments.push({ id: crypto.randomUUID(), amount: total, surplus: true, refunds: [{ amount: total, at: paidAt + int(1, DAY_MS) }] });
      }
    }
    orders.push({ id: crypto.randomUUID(), currency, status, createdAt, paidAt, items, payments });
  }
  const times = orders.flatMap((o) => [
    o.createdAt,
    ...(o.paidAt === null ? [] : [o.paidAt]),
    ...o.payments.flatMap((p) => p.refunds.map((r) => r.at)),
  ]);
  return { currencies: opts.currencies, products, orders, firstDay: utcDay(Math.min(...times)), lastDay: utcDay(Math.max(...times)) };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Writes a history with set-based INSERTs; refunds go through payments.amount_refunded_cents (the ledger trigger), then are dated. */
export async function insertHistory(h: History): Promise<void> {
  const c = await connect();
  try {
    await c.query("BEGIN");
    const [{ id: userId }] = (
      await c.query<{ id: string }>("INSERT INTO users (email, password_hash) VALUES ($1, 'x') RETURNING id", [
        `reports-${crypto.randomUUID()}@example.com`,
      ])
    ).rows as [{ id: string }];
    await c.query(
      `INSERT INTO products (id, sku, name, slug, price_cents, currency, stock)
       SELECT id, sku, 'Report thing ' || sku, lower(sku), 100, currency, 0 FROM unnest($1::uuid[], $2::text[], $3::text[]) AS t(id, sku, currency)`,
      [h.products.map((p) => p.id), h.products.map((p) => p.sku), h.products.map((p) => p.currency)],
    );
    const total = (o: GenOrder) => o.items.reduce((s, it) => s + it.qty * it.price, 0);
    await c.query(
      `INSERT INTO orders (id, user_id, status, currency, subtotal_cents, total_cents, created_at, updated_at)
       SELECT id, $1, status::order_status, currency, total, total, created_at, created_at
       FROM unnest($2::uuid[], $3::text[], $4::text[], $5::bigint[], $6::timestamptz[]) AS t(id, status, currency, total, created_at)`,
      [
        userId,
        h.orders.map((o) => o.id),
        h.orders.map((o) => o.status),
        h.orders.map((o) => o.currency),
        h.orders.map(total),
        h.orders.map((o) => iso(o.createdAt)),
      ],
    );
    const items = h.orders.flatMap((o) =>
      o.items.map((it) => ({ ...it, orderId: o.id, sku: h.products.find((p) => p.id === it.productId)?.sku })),
    );
    await c.query(
      `INSERT INTO order_items (order_id, product_id, sku, name, unit_price_cents, qty, line_total_cents)
       SELECT order_id, product_id, sku, sku, price, qty, price::bigint * qty
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::int[]) AS t(order_id, product_id, sku, price, qty)`,
      [
        items.map((i) => i.orderId),
        items.map((i) => i.productId),
        items.map((i) => i.sku),
        items.map((i) => i.price),
        items.map((i) => i.qty),
      ],
    );
    // History as the state machine writes it, including the PAID → PAID rows of partial refunds.
    const hist: [string, string | null, string, number][] = [];
    for (const o of h.orders) {
      hist.push([o.id, null, "PENDING", o.createdAt]);
      if (o.status === "CANCELLED") hist.push([o.id, "PENDING", "CANCELLED", o.createdAt + 1_800_000]);
      if (o.paidAt === null) continue;
      hist.push([o.id, "PENDING", "PAID", o.paidAt]);
      let prev = "PAID";
      for (const [k, s] of after[o.status].entries()) {
        hist.push([o.id, prev, s, o.paidAt + (k + 1) * 3_600_000]);
        prev = s;
      }
      for (const r of o.payments[0]?.refunds ?? []) if (o.status !== "REFUNDED") hist.push([o.id, prev, prev, r.at]);
    }
    await c.query(
      `INSERT INTO order_status_history (order_id, from_status, to_status, actor_role, at)
       SELECT order_id, from_status::order_status, to_status::order_status, 'SYSTEM', at
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[]) AS t(order_id, from_status, to_status, at)`,
      [hist.map((r) => r[0]), hist.map((r) => r[1]), hist.map((r) => r[2]), hist.map((r) => iso(r[3]))],
    );
    const pays = h.orders.flatMap((o) => o.payments.map((p) => ({ ...p, order: o })));
    await c.query(
      `INSERT INTO payments (id, order_id, user_id, provider, provider_ref, amount_cents, currency, status, created_at, updated_at)
       SELECT id, order_id, $1, 'sandbox', 'rpt_' || id, amount, currency, 'SUCCEEDED', paid_at, paid_at
       FROM unnest($2::uuid[], $3::uuid[], $4::bigint[], $5::text[], $6::timestamptz[]) AS t(id, order_id, amount, currency, paid_at)`,
      [
        userId,
        pays.map((p) => p.id),
        pays.map((p) => p.order.id),
        pays.map((p) => p.amount),
        pays.map((p) => p.order.currency),
        pays.map((p) => iso(p.order.paidAt as number)),
      ],
    );
    const surplus = pays.filter((p) => p.surplus);
    if (surplus.length)
      await c.query(
        `INSERT INTO payment_anomalies (kind, payment_id, order_id, provider, amount_cents, currency, detail, refund_status)
         SELECT 'surplus_capture', id, order_id, 'sandbox', amount, currency, '{}'::jsonb, 'refunded'
         FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::text[]) AS t(id, order_id, amount, currency)`,
        [surplus.map((p) => p.id), surplus.map((p) => p.order.id), surplus.map((p) => p.amount), surplus.map((p) => p.order.currency)],
      );
    // Refunds in rounds (round k: every payment's k-th refund): one ledger row per payment per round.
    for (let k = 0; ; k++) {
      const round = pays.flatMap((p) => (p.refunds[k] ? [{ id: p.id, ...(p.refunds[k] as GenRefund) }] : []));
      if (!round.length) break;
      await c.query(
        `UPDATE payments SET amount_refunded_cents = amount_refunded_cents + v.amount
         FROM unnest($1::uuid[], $2::bigint[]) AS v(id, amount) WHERE payments.id = v.id`,
        [round.map((r) => r.id), round.map((r) => r.amount)],
      );
      const dated = await c.query(
        `UPDATE payment_refunds r SET refunded_at = v.at
         FROM unnest($1::uuid[], $2::timestamptz[]) AS v(id, at)
         WHERE r.payment_id = v.id AND r.id = (SELECT max(id) FROM payment_refunds WHERE payment_id = v.id)`,
        [round.map((r) => r.id), round.map((r) => iso(r.at))],
      );
      expect(dated.rowCount).toBe(round.length);
    }
    await c.query("COMMIT");
  } catch (err) {
    await c.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    await c.end().catch(() => {});
  }
}

export const FIGURES = [
  "orders",
  "units",
  "gross_revenue_cents",
  "refunded_cents",
  "net_revenue_cents",
  "average_order_value_cents",
] as const;
export type Figures = Record<(typeof FIGURES)[number], number>;
export type DayRow = { day: string; currency: string } & Figures;

const zero = (): Figures => ({
  orders: 0,
  units: 0,
  gross_revenue_cents: 0,
  refunded_cents: 0,
  net_revenue_cents: 0,
  average_order_value_cents: 0,
});
const aov = (gross: number, orders: number) => (orders ? Math.round(gross / orders) : 0);

/** The oracle: what the sales report must say for `currency` from `from` to `to`, computed from the history alone. */
export function expectedSales(h: History, currency: string, from: string, to: string): { days: DayRow[]; totals: Figures } {
  const byDay = new Map<string, Figures>();
  const at = (day: string) => {
    const f = byDay.get(day) ?? zero();
    byDay.set(day, f);
    return f;
  };
  for (const o of h.orders) {
    if (o.currency !== currency || o.paidAt === null) continue;
    const f = at(utcDay(o.paidAt));
    f.orders += 1;
    f.units += o.items.reduce((s, it) => s + it.qty, 0);
    f.gross_revenue_cents += o.items.reduce((s, it) => s + it.qty * it.price, 0);
    for (const p of o.payments) if (!p.surplus) for (const r of p.refunds) at(utcDay(r.at)).refunded_cents += r.amount;
  }
  const days: DayRow[] = [];
  const totals = zero();
  for (let ms = Date.parse(`${from}T00:00:00Z`); ms <= Date.parse(`${to}T00:00:00Z`); ms += DAY_MS) {
    const day = utcDay(ms);
    const f = byDay.get(day) ?? zero();
    f.net_revenue_cents = f.gross_revenue_cents - f.refunded_cents;
    f.average_order_value_cents = aov(f.gross_revenue_cents, f.orders);
    days.push({ day, currency, ...f });
    for (const k of FIGURES) totals[k] += f[k];
  }
  totals.average_order_value_cents = aov(totals.gross_revenue_cents, totals.orders);
  return { days, totals };
}

export interface Ranked {
  rank: number;
  currency: string;
  product_id: string;
  sku: string;
  orders: number;
  units: number;
  revenue_cents: number;
}

/** The oracle for top-products: per currency, by revenue (then units, then id) and by units (then revenue, then id). */
export function expectedTop(h: History, from: string, to: string, limit: number): { by_revenue: Ranked[]; by_units: Ranked[] } {
  const agg = new Map<string, Omit<Ranked, "rank">>();
  for (const o of h.orders) {
    if (o.paidAt === null || utcDay(o.paidAt) < from || utcDay(o.paidAt) > to) continue;
    const seen = new Set<string>();
    for (const it of o.items) {
      const p = h.products.find((x) => x.id === it.productId) as History["products"][number];
      const a = agg.get(p.id) ?? { currency: o.currency, product_id: p.id, sku: p.sku, orders: 0, units: 0, revenue_cents: 0 };
      if (!seen.has(p.id)) a.orders += 1;
      seen.add(p.id);
      a.units += it.qty;
      a.revenue_cents += it.qty * it.price;
      agg.set(p.id, a);
    }
  }
  const rank = (cmp: (a: Omit<Ranked, "rank">, b: Omit<Ranked, "rank">) => number) =>
    [...new Set([...agg.values()].map((a) => a.currency))].sort().flatMap((cur) =>
      [...agg.values()]
        .filter((a) => a.currency === cur)
        .sort((a, b) => cmp(a, b) || (a.product_id < b.product_id ? -1 : 1))
        .slice(0, limit)
        .map((a, i) => ({ rank: i + 1, ...a })),
    );
  return {
    by_revenue: rank((a, b) => b.revenue_cents - a.revenue_cents || b.units - a.units),
    by_units: rank((a, b) => b.units - a.units || b.revenue_cents - a.revenue_cents),
  };
}

/** Refreshes the views through the API, waiting out another suite's refresh (409). */
export async function refreshNow(admin: TestUser): Promise<{ refreshed_at: string; started_at: string; duration_ms: number }> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const res = await api("/api/v1/admin/reports/refresh", { method: "POST", headers: admin.auth });
    if (res.status === 200) return (await res.json()) as { refreshed_at: string; started_at: string; duration_ms: number };
    expect(res.status).toBe(409);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the reports never became free to refresh");
}

export async function getJson<T>(path: string, user: TestUser, headers: Record<string, string> = {}): Promise<{ res: Response; body: T }> {
  const res = await api(path, { headers: { ...user.auth, ...headers } });
  expect(res.status, `${path}: ${res.status}`).toBe(200);
  return { res, body: (await res.json()) as T };
}

/** RFC 4180: quoted fields (with "" for a quote, commas and line breaks inside), CRLF between records. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"' && cell === "") quoted = true;
    else if (ch === ",") {
      row.push(cell);
      cell = "";
    } else if (ch === "\r" && text[i + 1] === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      i++;
    } else cell += ch;
  }
  if (cell !== "" || row.length) throw new Error("CSV does not end with CRLF");
  return rows;
}
