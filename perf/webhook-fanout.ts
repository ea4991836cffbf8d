/**
 * `webhook-fanout`: 1,000 orders placed through the API (POST /api/v1/orders), each `order.created`
 * event delivered to 3 local receivers (Node HTTP servers on 127.0.0.1, allowed by the development
 * flag WEBHOOK_ALLOW_LOOPBACK in [vars]). After the load: deliveries/s and commit → receipt
 * latency (p50/p99/max), measured from the outbox row's created_at (the checkout transaction's time,
 * a few ms before its commit) to the receiver's clock (same machine). Requests past the first 1,000
 * are GET /health/live, so the event count does not depend on the run's length.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import { Webhook } from "standardwebhooks";
import { withClient } from "../scripts/lib/db.ts";
import { configSchema } from "../src/config.ts";
import { issueAccessToken } from "../src/lib/tokens.ts";
import type { Scenario } from "./scenarios.ts";

const EVENTS = 1000;
const RECEIVERS = 3;
const CUSTOMERS = 100;
/** As the order scenarios: the order-create limit off and the hoarding caps at their maxima. */
const VARS = { RATE_LIMIT_OVERRIDES: "order-create=off", MAX_OPEN_ORDERS_PER_USER: "1000", MAX_RESERVED_UNITS_PER_SKU: "1000000" };

interface Receipt {
  at: number;
  webhookId: string;
  orderId: string;
  valid: boolean;
}

async function receiver(secret: string, receipts: Receipt[]): Promise<{ server: Server; url: string }> {
  const wh = new Webhook(secret);
  const server = createServer((req, res) => {
    const at = Date.now();
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const headers = Object.fromEntries(
        ["webhook-id", "webhook-timestamp", "webhook-signature"].map((h) => [h, String(req.headers[h] ?? "")]),
      );
      let valid = true;
      let orderId = "";
      try {
        orderId = String((wh.verify(body, headers) as { data: { order_id: string } }).data.order_id);
      } catch {
        valid = false;
      }
      receipts.push({ at, webhookId: headers["webhook-id"] ?? "", orderId, valid });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${port}/hook` };
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;

export const webhookFanout: Scenario = {
  name: "webhook-fanout",
  description: `${EVENTS} × POST /api/v1/orders (then /health/live): each order.created delivered to ${RECEIVERS} local receivers (Standard Webhooks, verified); commit → receipt latency with the post-commit relay nudge`,
  target: "app",
  smoke: false,
  vars: VARS,
  async prepare(ctx) {
    const started = new Date();
    const receipts: Receipt[][] = Array.from({ length: RECEIVERS }, () => []);
    const secrets = Array.from({ length: RECEIVERS }, () => `whsec_${randomBytes(32).toString("base64")}`);
    const servers = await Promise.all(secrets.map((s, i) => receiver(s, receipts[i] as Receipt[])));
    const picks = ctx.catalog.products.slice(0, 100);
    const cfg = configSchema.parse({ ENVIRONMENT: "development", ...ctx.secrets });
    const customers = await withClient(ctx.dbUrl, async (c) => {
      await c.query("UPDATE products SET stock = 1000000000 WHERE sku = ANY($1)", [picks.map((p) => p.sku)]);
      // Subscribed before any event: an endpoint gets the events from after its registration.
      for (const [i, s] of servers.entries()) {
        await c.query("INSERT INTO webhook_endpoints (url, events, secret, description) VALUES ($1, ARRAY['order.created'], $2, $3)", [
          s.url,
          secrets[i],
          `bench receiver ${i + 1}`,
        ]);
      }
      const emails = Array.from({ length: CUSTOMERS }, () => `fanout-${randomUUID()}@example.com`);
      const ids = (
        await c.query<{ id: string }>("INSERT INTO users (email, password_hash) SELECT unnest($1::text[]), 'x' RETURNING id", [emails])
      ).rows;
      return Promise.all(ids.map(async ({ id }) => (await issueAccessToken(cfg, { userId: id, role: "USER" })).token));
    });
    const run = randomUUID().slice(0, 8);
    return {
      request: (i) =>
        i < EVENTS
          ? {
              method: "POST",
              path: "/api/v1/orders",
              body: JSON.stringify({ items: [{ sku: (picks[i % picks.length] as { sku: string }).sku, qty: 1 }] }),
              headers: {
                "content-type": "application/json",
                authorization: `Bearer ${customers[i % customers.length]}`,
                "idempotency-key": `fanout-${run}-${i}`,
              },
            }
          : { path: "/health/live" },
      after: async () => {
        const readEvents = () =>
          withClient(ctx.dbUrl, async (c) =>
            (
              await c.query<{ order_id: string; created_ms: number; published_ms: number | null }>(
                `SELECT aggregate_id::text AS order_id, extract(epoch FROM created_at) * 1000 AS created_ms,
                        extract(epoch FROM published_at) * 1000 AS published_ms
                 FROM outbox WHERE event_type = 'order.created' AND created_at >= $1`,
                [started],
              )
            ).rows.map((r) => ({
              ...r,
              created_ms: Number(r.created_ms),
              published_ms: r.published_ms === null ? null : Number(r.published_ms),
            })),
          );
        const got = () => receipts.reduce((n, r) => n + r.length, 0);
        const t0 = Date.now();
        let events = await readEvents();
        while (got() < events.length * RECEIVERS && Date.now() - t0 < 120_000) {
          await new Promise((r) => setTimeout(r, 250));
          events = await readEvents();
        }
        events = await readEvents();
        const expected = events.length * RECEIVERS;
        for (const s of servers) s.server.close();
        const created = new Map(events.map((e) => [e.order_id, e.created_ms]));
        const lat: number[] = [];
        let duplicates = 0;
        let invalid = 0;
        for (const list of receipts) {
          const seen = new Set<string>();
          for (const r of list) {
            if (!r.valid) invalid++;
            if (seen.has(r.webhookId)) duplicates++;
            seen.add(r.webhookId);
            const c = created.get(r.orderId);
            if (c !== undefined) lat.push(r.at - c);
          }
        }
        lat.sort((a, b) => a - b);
        const relay = events.flatMap((e) => (e.published_ms === null ? [] : [e.published_ms - e.created_ms])).sort((a, b) => a - b);
        const first = Math.min(...events.map((e) => e.created_ms));
        const last = Math.max(...receipts.flat().map((r) => r.at));
        const ms = (v: number) => `${Math.round(v)} ms`;
        return {
          deliveries: `${got()} of ${expected} (${events.length} events × ${RECEIVERS} receivers); duplicates ${duplicates}; invalid signatures ${invalid}`,
          "deliveries/s": `${(got() / Math.max(0.001, (last - first) / 1000)).toFixed(0)} (first commit → last receipt, ${((last - first) / 1000).toFixed(1)} s)`,
          "commit → receipt": `p50 ${ms(pct(lat, 50))}, p99 ${ms(pct(lat, 99))}, max ${ms(lat.at(-1) ?? Number.NaN)} (goal p99 < 5 s)`,
          "commit → published (relay)": `p50 ${ms(pct(relay, 50))}, p99 ${ms(pct(relay, 99))}`,
        };
      },
    };
  },
};
