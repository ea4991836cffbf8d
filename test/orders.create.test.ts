import { describe, expect, it } from "vitest";
import type { OrderDto } from "../src/services/orders.service.ts";
import { createUser, expectProblem, sql } from "./helpers.ts";
import { countRows, makeProduct, placeOrder, stockOf } from "./orders.helpers.ts";

describe("POST /api/v1/orders (happy)", () => {
  it("creates an order with prices from the database, reserves stock, writes history and outbox", async () => {
    const u = await createUser();
    const a = await makeProduct({ stock: 5, price: 1250 });
    const b = await makeProduct({ stock: 2, price: 399 });
    const res = await placeOrder(u, {
      items: [
        { sku: a.sku, qty: 2 },
        { sku: b.sku, qty: 1 },
      ],
    });
    expect(res.status).toBe(201);
    const o = (await res.json()) as OrderDto;
    expect(res.headers.get("location")).toBe(`/api/v1/orders/${o.id}`);
    expect(o).toMatchObject({ status: "PENDING", currency: "USD", subtotal_cents: 2899, total_cents: 2899, version: 1, user_id: u.id });
    expect(o.items.find((i) => i.sku === a.sku)).toMatchObject({ unit_price_cents: 1250, qty: 2, line_total_cents: 2500 });
    expect(await stockOf(a.sku)).toBe(3);
    expect(await stockOf(b.sku)).toBe(1);
    const history = await sql("SELECT from_status, to_status, actor_id FROM order_status_history WHERE order_id = $1", [o.id]);
    expect(history).toEqual([{ from_status: null, to_status: "PENDING", actor_id: u.id }]);
    const events = await sql<{ event_type: string; payload: { total_cents: number } }>(
      "SELECT event_type, payload FROM outbox WHERE aggregate_id = $1",
      [o.id],
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ event_type: "order.created", payload: { total_cents: 2899 } });
  });

  it("64 concurrent orders for a SKU with stock 10 → exactly 10 sold, the rest 409, stock 0", async () => {
    const p = await makeProduct({ stock: 10 });
    const users = await Promise.all(Array.from({ length: 64 }, () => createUser()));
    const results = await Promise.all(users.map((u) => placeOrder(u, { items: [{ sku: p.sku, qty: 1 }] })));
    const statuses = results.map((r) => r.status);
    // Anything but 201/409 is a bug; say which problem it was.
    const odd = await Promise.all(results.filter((r) => r.status !== 201 && r.status !== 409).map((r) => r.clone().text()));
    expect(odd, "responses other than 201/409").toEqual([]);
    expect(statuses.filter((s) => s === 201)).toHaveLength(10);
    expect(statuses.filter((s) => s === 409)).toHaveLength(54);
    const refused = (await results.find((r) => r.status === 409)?.json()) as { code: string; skus: string[] };
    expect(refused).toMatchObject({ code: "insufficient_stock", skus: [p.sku] });
    expect(await stockOf(p.sku)).toBe(0);
    const [sold] = await sql<{ n: number }>("SELECT coalesce(sum(qty), 0)::int AS n FROM order_items WHERE sku = $1", [p.sku]);
    expect(sold?.n).toBe(10);
  });

  it("50 concurrent creates with one Idempotency-Key → one order", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 100 });
    const key = `same-${crypto.randomUUID()}`;
    const results = await Promise.all(Array.from({ length: 50 }, () => placeOrder(u, { items: [{ sku: p.sku, qty: 1 }] }, key)));
    expect(results.every((r) => [201, 409, 429].includes(r.status))).toBe(true);
    const [n] = await sql<{ n: number }>("SELECT count(*)::int AS n FROM orders WHERE user_id = $1", [u.id]);
    expect(n?.n).toBe(1);
    expect(await stockOf(p.sku)).toBe(99);
  });

  it("client_token: a second order with the same token returns the first (200), even concurrently", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 100 });
    const body = { items: [{ sku: p.sku, qty: 3 }], client_token: `cart-${crypto.randomUUID()}` };
    const first = (await (await placeOrder(u, body)).json()) as OrderDto;
    const replay = await placeOrder(u, body);
    expect(replay.status).toBe(200);
    expect(((await replay.json()) as OrderDto).id).toBe(first.id);
    const racing = { items: [{ sku: p.sku, qty: 1 }], client_token: `race-${crypto.randomUUID()}` };
    const results = await Promise.all(Array.from({ length: 8 }, () => placeOrder(u, racing)));
    const ids = new Set(await Promise.all(results.filter((r) => r.status < 300).map(async (r) => ((await r.json()) as OrderDto).id)));
    expect(ids.size).toBe(1);
    expect(await stockOf(p.sku)).toBe(96);
  });
});

describe("POST /api/v1/orders (errors: 4xx problem+json, nothing written)", () => {
  it.each([
    ["qty 0", (sku: string) => ({ items: [{ sku, qty: 0 }] }), 400],
    ["qty -1", (sku: string) => ({ items: [{ sku, qty: -1 }] }), 400],
    ["qty 1.5", (sku: string) => ({ items: [{ sku, qty: 1.5 }] }), 400],
    ["qty 10^20", (sku: string) => ({ items: [{ sku, qty: 1e20 }] }), 400],
    ["qty as string", (sku: string) => ({ items: [{ sku, qty: "2" }] }), 400],
    ["a client price", (sku: string) => ({ items: [{ sku, qty: 1, unit_price_cents: 1 }] }), 400],
    ["unknown SKU", (_sku: string) => ({ items: [{ sku: "NO-SUCH-SKU", qty: 1 }] }), 400],
    ["101 lines", (sku: string) => ({ items: Array.from({ length: 101 }, (_, i) => ({ sku: `${sku}-${i}`, qty: 1 })) }), 400],
    ["no lines", (_sku: string) => ({ items: [] }), 400],
    [
      "a repeated SKU",
      (sku: string) => ({
        items: [
          { sku, qty: 1 },
          { sku, qty: 2 },
        ],
      }),
      400,
    ],
    ["more than in stock", (sku: string) => ({ items: [{ sku, qty: 6 }] }), 409],
  ])("%s", async (_name, body, status) => {
    const u = await createUser();
    const p = await makeProduct({ stock: 5 });
    const before = await countRows();
    await expectProblem(await placeOrder(u, body(p.sku)), status);
    expect(await countRows()).toEqual(before);
    expect(await stockOf(p.sku)).toBe(5);
  });

  it("mixed currency → 400, nothing written; the short line of two is named", async () => {
    const u = await createUser();
    const usd = await makeProduct({ stock: 5 });
    const eur = await makeProduct({ stock: 5, currency: "EUR" });
    const before = await countRows();
    const p = await expectProblem(
      await placeOrder(u, {
        items: [
          { sku: usd.sku, qty: 1 },
          { sku: eur.sku, qty: 1 },
        ],
      }),
      400,
    );
    expect(p.errors?.[0]?.code).toBe("mixed_currency");
    const plenty = await makeProduct({ stock: 50 });
    const short = await expectProblem(
      await placeOrder(u, {
        items: [
          { sku: plenty.sku, qty: 2 },
          { sku: usd.sku, qty: 9 },
        ],
      }),
      409,
    );
    expect(short.errors).toEqual([expect.objectContaining({ field: "items.1.qty", code: "insufficient_stock" })]);
    expect(await countRows()).toEqual(before);
    expect(await stockOf(plenty.sku)).toBe(50);
  });

  it("requires an Idempotency-Key and a token", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 5 });
    const missing = await expectProblem(await placeOrder(u, { items: [{ sku: p.sku, qty: 1 }] }, null), 400);
    expect(missing.errors?.[0]?.field).toBe("Idempotency-Key");
    const { api, jsonInit } = await import("./helpers.ts");
    await expectProblem(
      await api("/api/v1/orders", jsonInit("POST", { items: [{ sku: p.sku, qty: 1 }] }, { "Idempotency-Key": "x-1" })),
      401,
    );
  });

  it("order creation is rate limited per user (10/min)", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 100 });
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await placeOrder(u, { items: [{ sku: p.sku, qty: 1 }] })).status);
    expect(statuses.slice(0, 10).every((s) => s === 201)).toBe(true);
    expect(statuses[10]).toBe(429);
  });
});
