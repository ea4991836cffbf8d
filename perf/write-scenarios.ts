/**
 * Write-path scenarios: login, order creation (spread and hot SKU), payment webhook intake
 * (plus the queue consumer's drain rate). Rate-limit policies that would refuse a load
 * generator are switched off per scenario (vars); every other guard stays on.
 */
import { randomUUID } from "node:crypto";
import { drizzle } from "drizzle-orm/node-postgres";
import { withClient } from "../scripts/lib/db.ts";
import { seedHistory } from "../scripts/lib/seed-history.ts";
import { configSchema } from "../src/config.ts";
import type { Drizzle } from "../src/db/client.ts";
import { refreshSalesViews } from "../src/db/reports.repo.ts";
import { findAccessState } from "../src/db/users.repo.ts";
import { hashPassword } from "../src/lib/password.ts";
import { issueAccessToken } from "../src/lib/tokens.ts";
import { signStandardWebhook } from "../src/payments/signatures.ts";
import { checkoutPolicy, placeOrder } from "../src/services/orders.service.ts";
import { salesReport } from "../src/services/reports.service.ts";
import { destinationKey, digest, itemsKey, normaliseAddress } from "../src/shipping/address.ts";
import { signRate } from "../src/shipping/rate-id.ts";
import { type RecordedQuery, recordSql, recordSqlLive } from "./lib/sql.ts";
import type { RequestSpec, Scenario, ScenarioContext } from "./scenarios.ts";
import { webhookFanout } from "./webhook-fanout.ts";

const json = (path: string, body: unknown, headers: Record<string, string> = {}): RequestSpec => ({
  method: "POST",
  path,
  body: JSON.stringify(body),
  headers: { "content-type": "application/json", ...headers },
});
const q = (text: string, values: unknown[] = []): RecordedQuery => ({ config: { text }, values });
/** Orders in the sales history the reports scenario reads (issue 14: a refresh over 100k orders in < 5 s). */
const REPORT_ORDERS = 100_000;
/** Webhook deliveries signed before the run: more than a smoke or full run sends (≈ 10k). */
const WEBHOOK_POOL = 50_000;

async function benchUsers(ctx: ScenarioContext, n: number, role: "USER" | "ADMIN" = "USER"): Promise<{ id: string; token: string }[]> {
  const emails = Array.from({ length: n }, () => `bench-${randomUUID()}@example.com`);
  const ids = await withClient(ctx.dbUrl, async (c) =>
    (
      await c.query<{ id: string }>(
        "INSERT INTO users (email, password_hash, role) SELECT unnest($1::text[]), 'x', $2::user_role RETURNING id",
        [emails, role],
      )
    ).rows.map((r) => r.id),
  );
  // The app's own config parsing and token issuing: the harness cannot drift from what the worker verifies.
  const cfg = configSchema.parse({ ENVIRONMENT: "development", ...ctx.secrets });
  return Promise.all(ids.map(async (id) => ({ id, token: (await issueAccessToken(cfg, { userId: id, role })).token })));
}

/** Stock high enough that no order is refused during the run. */
async function stockUp(ctx: ScenarioContext, skus: string[]): Promise<void> {
  await withClient(ctx.dbUrl, (c) => c.query("UPDATE products SET stock = 1000000000 WHERE sku = ANY($1)", [skus]));
}

/** Where the bench's orders go: the seeded catalogue is physical, so every checkout ships (docs/shipping.md). */
const BENCH_ADDRESS = {
  name: "Bench Buyer",
  line1: "1 Market St",
  city: "San Francisco",
  region: "CA",
  postal_code: "94105",
  country: "US",
};

/**
 * A rate for one unit of each SKU to BENCH_ADDRESS, signed with the worker's key by the app's own code (as
 * POST /api/v1/shipping/rates signs one): checkout verifies it in the Worker, then writes it in place_order.
 * Valid for an hour, longer than any run.
 */
async function benchRates(ctx: ScenarioContext, skus: string[]): Promise<Map<string, string>> {
  const secret = ctx.secrets.SHIPPING_RATE_SECRET ?? "";
  const currencies = await withClient(
    ctx.dbUrl,
    async (c) => (await c.query<{ sku: string; currency: string }>("SELECT sku, currency FROM products WHERE sku = ANY($1)", [skus])).rows,
  );
  const dst = await digest(destinationKey(normaliseAddress(BENCH_ADDRESS)));
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const rates = await Promise.all(
    currencies.map(async ({ sku, currency }) => {
      const items = await digest(itemsKey([{ sku, qty: 1 }]));
      const claims = {
        carrier: "sandbox",
        service: "ground",
        service_name: "Sandbox Ground",
        amount_cents: 599,
        currency,
        estimated_days: 5,
      };
      return [sku, await signRate(secret, { ...claims, estimated: false, exp, dst, items })] as const;
    }),
  );
  return new Map(rates);
}

/** Customers of an order scenario: request i is customer i % ORDER_CUSTOMERS's (each checkout locks its customer's row). */
const ORDER_CUSTOMERS = 100;
/** The per-customer caps raised to their maxima: a load generator holds far more unpaid orders than a shopper. */
const ORDER_VARS = { RATE_LIMIT_OVERRIDES: "order-create=off", MAX_OPEN_ORDERS_PER_USER: "1000", MAX_RESERVED_UNITS_PER_SKU: "1000000" };

function orderScenario(name: string, hot: boolean, smoke: boolean): Scenario {
  return {
    name,
    description: `POST /api/v1/orders (Idempotency-Key, JWT, one line, shipping address + signed rate) from ${ORDER_CUSTOMERS} customers ${hot ? "all on ONE SKU (row-lock contention)" : "over 100 SKUs"}; order-create limit off, caps at their maxima`,
    target: "app",
    smoke,
    driverFloor: !hot,
    vars: ORDER_VARS,
    async prepare(ctx) {
      const picks = ctx.catalog.products.slice(0, hot ? 1 : 100);
      await stockUp(
        ctx,
        picks.map((p) => p.sku),
      );
      const customers = await benchUsers(ctx, ORDER_CUSTOMERS);
      const policy = checkoutPolicy(configSchema.parse({ ENVIRONMENT: "development", ...ctx.secrets, ...ORDER_VARS }));
      const run = randomUUID().slice(0, 8);
      const pick = (i: number) => picks[i % picks.length] as (typeof picks)[number];
      const rates = await benchRates(
        ctx,
        picks.map((p) => p.sku),
      );
      const order = (sku: string) => ({
        items: [{ sku, qty: 1 }],
        shipping_address: BENCH_ADDRESS,
        shipping_rate_id: rates.get(sku) as string,
      });
      // What the app issues for request i, recorded by running its own code against the database (one real
      // order per customer): the account check (writes read it fresh, src/middleware/auth.ts), then the
      // checkout: one `SELECT * FROM place_order($1::jsonb)` since migration 0007 (each replay places a new order;
      // refs swap in any id the database returned, for SQL that needs one).
      const sql: RecordedQuery[][] = [];
      for (const [u, c] of customers.entries()) {
        sql.push(
          await recordSqlLive(ctx.dbUrl, async (db) => {
            await findAccessState(db, c.id);
            await placeOrder(db, c.id, order(pick(u).sku), { userId: c.id, role: "USER" }, policy);
          }),
        );
      }
      const customer = (i: number) => customers[i % customers.length] as (typeof customers)[number];
      return {
        request: (i) =>
          json("/api/v1/orders", order(pick(i % customers.length).sku), {
            authorization: `Bearer ${customer(i).token}`,
            "idempotency-key": `bench-${run}-${i}`,
          }),
        sql: (i) => sql[i % sql.length] as RecordedQuery[],
      };
    },
  };
}

export const WRITE_SCENARIOS: Scenario[] = [
  {
    name: "login",
    description: "POST /api/v1/auth/login, 200 accounts, right password (PBKDF2-SHA256 100k verify + JWT); login limits off",
    target: "app",
    smoke: false,
    vars: { RATE_LIMIT_OVERRIDES: "login-ip=off,login-account=off" },
    async prepare(ctx) {
      const password = "bench-password-0123";
      const hash = await hashPassword(password);
      const emails = Array.from({ length: 200 }, () => `login-${randomUUID()}@example.com`);
      await withClient(ctx.dbUrl, (c) => c.query("INSERT INTO users (email, password_hash) SELECT unnest($1::text[]), $2", [emails, hash]));
      return {
        request: (i) => json("/api/v1/auth/login", { email: emails[i % emails.length], password }),
        sql: (i) => [
          q("SELECT id, email, password_hash, role FROM users WHERE email = $1 LIMIT 1", [emails[i % emails.length]]),
          q("DELETE FROM login_throttle WHERE key = $1", [`acct:${emails[i % emails.length]}`]),
        ],
      };
    },
  },
  orderScenario("order-create", false, false),
  orderScenario("order-create-hot-sku", true, false),
  {
    name: "webhook-intake",
    description: "POST /api/v1/webhooks/payments/sandbox, Standard-Webhooks-signed, unique event ids: verify, store, enqueue, 202",
    target: "app",
    smoke: false,
    vars: { RATE_LIMIT_OVERRIDES: "webhook-intake=off" },
    async prepare(ctx) {
      const secret = (ctx.secrets.SANDBOX_WEBHOOK_SECRETS ?? "").split(",")[0] ?? "";
      const run = randomUUID().slice(0, 8);
      const started = Date.now();
      // Signed ahead with the app's own signer (request() is synchronous; WebCrypto is not).
      // An event type the consumer acknowledges as IGNORED: measures intake and queue plumbing, not settlement.
      const ts = Math.floor(Date.now() / 1000);
      const deliveries = await Promise.all(
        Array.from({ length: WEBHOOK_POOL }, async (_, i) => {
          const id = `evt_bench_${run}_${i}`;
          const body = JSON.stringify({ id, type: "payment.bench_noop", data: {} });
          return { id, body, signature: await signStandardWebhook(secret, id, ts, body) };
        }),
      );
      return {
        request: (i) => {
          // Past the pool the same events come back: duplicates (200, no-op), which the report would show.
          const { id, body, signature } = deliveries[i % WEBHOOK_POOL] as (typeof deliveries)[number];
          return {
            method: "POST",
            path: "/api/v1/webhooks/payments/sandbox",
            body,
            headers: {
              "content-type": "application/json",
              "webhook-id": id,
              "webhook-timestamp": String(ts),
              "webhook-signature": signature,
            },
          };
        },
        sql: (i) => [
          q(
            "INSERT INTO webhook_events (provider, event_id, type, payload) VALUES ('sandbox', $1, 'payment.bench_noop', $2::jsonb) ON CONFLICT (provider, event_id) DO NOTHING RETURNING id",
            [`sql_${run}_${i}_${randomUUID()}`, "{}"],
          ),
        ],
        after: async () => {
          // Consumer throughput: how fast the queue drains what intake accepted.
          const count = (status: string) =>
            withClient(ctx.dbUrl, async (c) =>
              Number(
                (
                  await c.query("SELECT count(*) FROM webhook_events WHERE event_id LIKE $1 AND status = $2", [
                    `evt_bench_${run}_%`,
                    status,
                  ])
                ).rows[0].count,
              ),
            );
          const t0 = Date.now();
          const backlog = await count("RECEIVED");
          let left = backlog;
          while (left > 0 && Date.now() - t0 < 60_000) {
            await new Promise((r) => setTimeout(r, 500));
            left = await count("RECEIVED");
          }
          const done = await count("IGNORED");
          const secs = (Date.now() - t0) / 1000;
          return {
            "consumer processed": `${done} events in total since the scenario started ${((Date.now() - started) / 1000).toFixed(0)} s ago`,
            "consumer drain": `backlog ${backlog} at the end of intake → ${left} after ${secs.toFixed(1)} s (${((backlog - left) / Math.max(secs, 0.001)).toFixed(0)} events/s; local Miniflare queue, batch 10)`,
          };
        },
      };
    },
  },
  webhookFanout,
  {
    name: "reports-sales",
    description: `GET /api/v1/admin/reports/sales (ADMIN, 30-day windows ending on different days, every currency) over a ${REPORT_ORDERS.toLocaleString("en")}-order, 90-day history; before the load, one refresh of both views over that history is timed (goal < 5 s)`,
    target: "app",
    smoke: false,
    async prepare(ctx) {
      // The history the admin reports read (scripts/lib/seed-history.ts, as `npm run db:seed -- --orders N`), then one
      // refresh with the app's own SQL (refreshSalesViews: both views CONCURRENTLY under the advisory lock).
      const until = new Date();
      const seeded = await seedHistory(ctx.dbUrl, { orders: REPORT_ORDERS, days: 90, seed: 13, until });
      const refresh = await withClient(ctx.dbUrl, async (c) => {
        const started = performance.now();
        const row = await refreshSalesViews(drizzle(c) as unknown as Drizzle, "bench");
        return { ms: performance.now() - started, row };
      });
      const [admin] = await benchUsers(ctx, 1, "ADMIN");
      const nowMs = until.getTime();
      const DAY = 86_400_000;
      const query = (i: number) => {
        const to = new Date(nowMs - (i % 60) * DAY).toISOString().slice(0, 10);
        const from = new Date(nowMs - ((i % 60) + 29) * DAY).toISOString().slice(0, 10);
        return { from, to };
      };
      // The statements the route issues for request i, recorded from the service itself.
      const table = await Promise.all(Array.from({ length: 60 }, (_, k) => recordSql((db) => salesReport(db, query(k), nowMs))));
      return {
        request: (i) => {
          const { from, to } = query(i);
          return { path: `/api/v1/admin/reports/sales?from=${from}&to=${to}`, headers: { authorization: `Bearer ${admin?.token}` } };
        },
        sql: (i) => table[i % table.length] as RecordedQuery[],
        after: async () => ({
          history: `${seeded.orders.toLocaleString("en")} orders (${seeded.paid.toLocaleString("en")} paid, ${seeded.refunds.toLocaleString("en")} refunds, ${seeded.currencies.join("/")}) over 90 days, seeded in ${(seeded.ms / 1000).toFixed(1)} s`,
          refresh: `both views refreshed CONCURRENTLY over that history in ${(refresh.ms / 1000).toFixed(2)} s (database: ${refresh.row?.duration_ms ?? "?"} ms; goal < 5 s)`,
        }),
      };
    },
  },
];
