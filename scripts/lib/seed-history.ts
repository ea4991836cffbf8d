/**
 * A sales history for the reports and the admin console (issue 14): `orders` orders over the `days`
 * days up to `until`, in four currencies (the demo catalogue's USD and EUR, plus 24 products in GBP
 * and JPY added here), with a weekly rhythm, growth, evening peaks, orders paid after midnight UTC,
 * cancellations, full refunds of paid orders and partial refunds of delivered ones.
 *
 * Deterministic: the same seed, count, days and `until` write the same rows (ids included). Written
 * set-based (unnest batches), as the app would have left it: order items, the status history the
 * state machine writes, payments, and refunds through payments.amount_refunded_cents (the refund
 * ledger's trigger), dated afterwards. Runs once per seed: a second run with the same seed is a no-op.
 */
import type pg from "pg";
import { withClient } from "./db.ts";
import { prng, uuidFrom } from "./seed.ts";

export interface HistoryOptions {
  orders: number;
  days?: number;
  seed?: number;
  /** The end of the history (default: now). Pass it too for identical data on every run. */
  until?: Date;
}

export interface HistoryResult {
  inserted: boolean;
  orders: number;
  paid: number;
  refunds: number;
  currencies: string[];
  ms: number;
}

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const EXTRA = [
  ["GBP", ["Tea Set", "Umbrella", "Wool Scarf", "Cricket Bat", "Biscuit Tin", "Rain Boot"], 399, 9_999],
  ["JPY", ["Matcha", "Chopsticks", "Furoshiki", "Kokeshi", "Sake Cup", "Tenugui"], 480, 24_000],
] as const;

/** 24 products in GBP and JPY (idempotent by SKU), so the reports show more than two currencies. */
async function extraProducts(c: pg.Client): Promise<void> {
  const rand = prng(140_014);
  const rows = EXTRA.flatMap(([currency, nouns, lo, hi]) =>
    Array.from({ length: 12 }, (_, i) => {
      const n = String(i + 1).padStart(4, "0");
      const name = `${nouns[i % nouns.length]} ${["Classic", "Deluxe"][Math.floor(i / nouns.length)]}`;
      return {
        sku: `TOKO-${currency}-${n}`,
        name,
        slug: `${name.toLowerCase().replaceAll(" ", "-")}-${currency.toLowerCase()}-${n}`,
        price: lo + Math.floor(rand() * (hi - lo)),
        currency,
      };
    }),
  );
  await c.query(
    `INSERT INTO products (sku, name, slug, description, price_cents, currency, stock, category_id)
     SELECT sku, name, slug, 'Imported for the demo history.', price, currency, 500, (SELECT id FROM categories ORDER BY slug LIMIT 1)
     FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[]) AS t(sku, name, slug, price, currency)
     ON CONFLICT DO NOTHING`,
    [rows.map((r) => r.sku), rows.map((r) => r.name), rows.map((r) => r.slug), rows.map((r) => r.price), rows.map((r) => r.currency)],
  );
}

type Product = { id: string; sku: string; name: string; price_cents: number; currency: string };

export async function seedHistory(url: string, opts: HistoryOptions): Promise<HistoryResult> {
  const started = Date.now();
  const seed = opts.seed ?? 1;
  const days = opts.days ?? 90;
  const until = (opts.until ?? new Date()).getTime();
  const rand = prng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)] as T;
  const marker = `customer-${seed}-0@history.toko.local`;

  return withClient(url, async (c) => {
    if ((await c.query("SELECT 1 FROM users WHERE email = $1", [marker])).rowCount) {
      return { inserted: false, orders: 0, paid: 0, refunds: 0, currencies: [], ms: Date.now() - started };
    }
    await c.query("BEGIN");
    try {
      await extraProducts(c);
      const products = (
        await c.query<Product>(
          "SELECT id, sku, name, price_cents, currency FROM products WHERE status = 'active' AND price_cents > 0 ORDER BY sku",
        )
      ).rows;
      const byCurrency = new Map<string, Product[]>();
      for (const p of products) byCurrency.set(p.currency, [...(byCurrency.get(p.currency) ?? []), p]);
      const weights: [string, number][] = (
        [
          ["USD", 55],
          ["EUR", 25],
          ["GBP", 12],
          ["JPY", 8],
        ] as [string, number][]
      ).filter(([cur]) => byCurrency.has(cur));
      const weightSum = weights.reduce((s, [, w]) => s + w, 0);
      const currencyOf = () => {
        let x = rand() * weightSum;
        for (const [cur, w] of weights) {
          x -= w;
          if (x < 0) return cur;
        }
        return (weights[0] as [string, number])[0];
      };

      const customers = Array.from({ length: 50 }, (_, i) => ({ id: uuidFrom(rand), email: `customer-${seed}-${i}@history.toko.local` }));
      await c.query(
        // A password hash nobody can match: these customers exist for their orders only.
        `INSERT INTO users (id, email, password_hash) SELECT id, email, 'pbkdf2-sha256$100000$AA$AA' FROM unnest($1::uuid[], $2::text[]) AS t(id, email)`,
        [customers.map((u) => u.id), customers.map((u) => u.email)],
      );

      // Day weights: weekends busier, slow growth over the period.
      const start = Math.floor(until / DAY) * DAY - (days - 1) * DAY;
      const dayWeight = Array.from({ length: days }, (_, d) => {
        const weekday = new Date(start + d * DAY).getUTCDay();
        return (weekday === 0 || weekday === 6 ? 1.35 : 1) * (0.8 + (0.4 * d) / days);
      });
      const dayTotal = dayWeight.reduce((s, w) => s + w, 0);
      const hourOfDay = () => Math.min(23, Math.max(0, Math.round(14 + 4.5 * (rand() + rand() + rand() - 1.5) * 1.6)));

      const orders: unknown[][] = [];
      const items: unknown[][] = [];
      const history: unknown[][] = [];
      const payments: unknown[][] = [];
      const refunds: { payment: string; amount: number; at: number }[] = [];
      const pendingStock: { id: string; qty: number }[] = [];
      let paid = 0;
      for (let d = 0; d < days; d++) {
        const n = Math.round((opts.orders * (dayWeight[d] as number)) / dayTotal);
        for (let k = 0; k < n; k++) {
          const created = start + d * DAY + hourOfDay() * HOUR + int(0, HOUR - 1);
          if (created > until - MIN) continue;
          const id = uuidFrom(rand);
          const user = pick(customers).id;
          const currency = currencyOf();
          const shelf = byCurrency.get(currency) as Product[];
          const lines = [...new Set(Array.from({ length: int(1, 3) }, () => pick(shelf)))].map((p) => ({
            p,
            qty: rand() < 0.8 ? 1 : int(2, 4),
          }));
          const total = lines.reduce((s, l) => s + l.p.price_cents * l.qty, 0);
          const age = until - created;
          // Unpaid: expired long ago (CANCELLED), or still open if placed in the last 25 minutes.
          const unpaid = rand() < (age < 30 * MIN ? 0.4 : 0.08);
          let status = unpaid ? (age < 25 * MIN ? "PENDING" : "CANCELLED") : "PAID";
          history.push([id, null, "PENDING", created, null]);
          for (const l of lines) items.push([uuidFrom(rand), id, l.p.id, l.p.sku, l.p.name, l.p.price_cents, l.qty]);
          if (status === "PENDING") for (const l of lines) pendingStock.push({ id: l.p.id, qty: l.qty });
          if (status === "CANCELLED") history.push([id, "PENDING", "CANCELLED", created + 30 * MIN, "payment window expired"]);
          if (status === "PAID") {
            paid++;
            const paidAt = created + int(1, 20 * MIN); // some cross midnight UTC
            history.push([id, "PENDING", "PAID", paidAt, "payment captured"]);
            const payment = uuidFrom(rand);
            payments.push([payment, id, user, `seed_${payment}`, total, currency, paidAt]);
            if (rand() < 0.05 && paidAt + 2 * DAY < until) {
              const at = paidAt + int(HOUR, 2 * DAY);
              status = "REFUNDED";
              history.push([id, "PAID", "REFUNDED", at, "refunded in full"]);
              refunds.push({ payment, amount: total, at });
            } else {
              let prev = "PAID";
              for (const [next, after] of [
                ["FULFILLED", DAY],
                ["SHIPPED", 2 * DAY],
                ["DELIVERED", 4 * DAY],
              ] as const) {
                const at = paidAt + after + int(0, 6 * HOUR);
                if (at > until) break;
                history.push([id, prev, next, at, null]);
                status = prev = next;
              }
              if (prev === "DELIVERED" && rand() < 0.06 && total > 1) {
                const at = paidAt + 5 * DAY + int(0, 5 * DAY);
                if (at < until) {
                  const amount = Math.max(1, Math.round(total * (0.1 + rand() * 0.4)));
                  history.push([id, prev, prev, at, `refunded ${amount} ${currency} (total ${amount} of ${total})`]);
                  refunds.push({ payment, amount, at });
                }
              }
            }
          }
          orders.push([id, user, status, currency, total, created, status === "PENDING" ? created + 30 * MIN : null]);
        }
      }

      const iso = (ms: unknown) => (ms === null ? null : new Date(ms as number).toISOString());
      const col = (rows: unknown[][], i: number, f: (v: unknown) => unknown = (v) => v) => rows.map((r) => f(r[i]));
      for (let i = 0; i < orders.length; i += 2000) {
        const b = orders.slice(i, i + 2000);
        await c.query(
          `INSERT INTO orders (id, user_id, status, currency, subtotal_cents, total_cents, expires_at, created_at, updated_at)
           SELECT id, user_id, status::order_status, currency, total, total, expires_at, created_at, created_at
           FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::bigint[], $6::timestamptz[], $7::timestamptz[])
             AS t(id, user_id, status, currency, total, created_at, expires_at)`,
          [col(b, 0), col(b, 1), col(b, 2), col(b, 3), col(b, 4), col(b, 5, iso), col(b, 6, iso)],
        );
      }
      for (let i = 0; i < items.length; i += 4000) {
        const b = items.slice(i, i + 4000);
        await c.query(
          `INSERT INTO order_items (id, order_id, product_id, sku, name, unit_price_cents, qty, line_total_cents)
           SELECT id, order_id, product_id, sku, name, price, qty, price::bigint * qty
           FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::int[], $7::int[]) AS t(id, order_id, product_id, sku, name, price, qty)`,
          [col(b, 0), col(b, 1), col(b, 2), col(b, 3), col(b, 4), col(b, 5), col(b, 6)],
        );
      }
      for (let i = 0; i < history.length; i += 5000) {
        const b = history.slice(i, i + 5000);
        await c.query(
          `INSERT INTO order_status_history (order_id, from_status, to_status, actor_role, reason, at)
           SELECT order_id, from_status::order_status, to_status::order_status, 'SYSTEM', reason, at
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::text[]) AS t(order_id, from_status, to_status, at, reason)`,
          [col(b, 0), col(b, 1), col(b, 2), col(b, 3, iso), col(b, 4)],
        );
      }
      for (let i = 0; i < payments.length; i += 2000) {
        const b = payments.slice(i, i + 2000);
        await c.query(
          `INSERT INTO payments (id, order_id, user_id, provider, provider_ref, amount_cents, currency, status, created_at, updated_at)
           SELECT id, order_id, user_id, 'sandbox', ref, amount, currency, 'SUCCEEDED', at, at
           FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::bigint[], $6::text[], $7::timestamptz[])
             AS t(id, order_id, user_id, ref, amount, currency, at)`,
          [col(b, 0), col(b, 1), col(b, 2), col(b, 3), col(b, 4), col(b, 5), col(b, 6, iso)],
        );
      }
      // Refunds as settlement records them (the ledger trigger writes one entry each), then dated.
      await c.query(
        `UPDATE payments p SET amount_refunded_cents = v.amount, updated_at = v.at,
           status = CASE WHEN v.amount >= p.amount_cents THEN 'REFUNDED'::payment_status ELSE p.status END
         FROM unnest($1::uuid[], $2::bigint[], $3::timestamptz[]) AS v(id, amount, at) WHERE p.id = v.id`,
        [refunds.map((r) => r.payment), refunds.map((r) => r.amount), refunds.map((r) => iso(r.at))],
      );
      await c.query(
        `UPDATE payment_refunds r SET refunded_at = v.at FROM unnest($1::uuid[], $2::timestamptz[]) AS v(id, at) WHERE r.payment_id = v.id`,
        [refunds.map((r) => r.payment), refunds.map((r) => iso(r.at))],
      );
      // Open orders hold their stock, as checkout would have left it (the expiry job gives it back).
      await c.query(
        `UPDATE products p SET stock = greatest(p.stock - v.qty, 0)
         FROM (SELECT id, sum(qty)::int AS qty FROM unnest($1::uuid[], $2::int[]) AS t(id, qty) GROUP BY id) v WHERE p.id = v.id`,
        [pendingStock.map((s) => s.id), pendingStock.map((s) => s.qty)],
      );
      await c.query("COMMIT");
      // Fresh statistics for the planner after a bulk load (the first refresh over 100k orders: ~4.8 s without, ~1.1 s with).
      await c.query("ANALYZE orders, order_items, order_status_history, payments, payment_refunds");
      return {
        inserted: true,
        orders: orders.length,
        paid,
        refunds: refunds.length,
        currencies: weights.map(([cur]) => cur),
        ms: Date.now() - started,
      };
    } catch (err) {
      await c.query("ROLLBACK").catch(() => {});
      throw err;
    }
  });
}
