/**
 * Issue 19, item 1 and the rate's protection: checkout takes an address and a quoted rate; the order stores
 * them and its total includes shipping; a tampered, expired, foreign or other-currency rate is refused (409)
 * and writes nothing; physical goods need shipping, digital goods refuse it; still one statement.
 */
import { env } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/node-postgres";
import type pg from "pg";
import { beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import type { Drizzle } from "../src/db/client.ts";
import * as schema from "../src/db/schema.ts";
import { render } from "../src/notifications/templates.ts";
import type { OrderCreate } from "../src/schemas/orders.ts";
import { checkoutPolicy, type OrderDto, placeOrder as placeOrderService } from "../src/services/orders.service.ts";
import { apiSettled, connect, createUser, expectProblem, jsonInit, sql } from "./helpers.ts";
import { makeProduct, stockOf } from "./orders.helpers.ts";
import { pay } from "./payments.helpers.ts";
import { checkout, DE_ADDRESS, mintRate, quoteOk, sandbox, sandboxEnv, shippedOrder, US_ADDRESS } from "./shipping.helpers.ts";

beforeEach(() => sandbox.reset());

const admin = await createUser("ADMIN");

async function footprint(userId: string) {
  const [r] = await sql<{ orders: number }>("SELECT count(*)::int AS orders FROM orders WHERE user_id = $1", [userId]);
  return r?.orders;
}

describe("checkout with shipping (happy)", () => {
  it("quote → checkout: the order stores address, carrier, service, amount, currency; total = goods + shipping; reads show them", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 10, price: 1250, physical: true, weightGrams: 1200 });
    const items = [{ sku: p.sku, qty: 2 }];
    const b = sandboxEnv();
    const q = await quoteOk(items, { ...US_ADDRESS, postal_code: " 94105 ", name: "  Ada   Lovelace " }, b);
    const rate = q.rates.find((r) => r.service === "express");
    expect(rate).toBeDefined();
    const res = await checkout(u, shippedOrder(items, rate?.rate_id as string), b);
    expect(res.status, await res.clone().text()).toBe(201);
    const o = (await res.json()) as OrderDto;
    expect(o).toMatchObject({ subtotal_cents: 2500, shipping_cents: rate?.amount_cents, total_cents: 2500 + (rate?.amount_cents ?? 0) });
    expect(o.shipping).toEqual({
      address: {
        name: "Ada Lovelace",
        company: null,
        line1: "1 Market St",
        line2: null,
        city: "San Francisco",
        region: "CA",
        postal_code: "94105",
        country: "US",
        phone: null,
      },
      carrier: "sandbox",
      service: "express",
      service_name: "Sandbox Express",
      amount_cents: rate?.amount_cents,
      currency: "USD",
      estimated: false,
      estimated_days: 2,
    });
    // The columns themselves, and the same body on every read: owner, ADMIN, and the ADMIN list.
    const [row] = await sql<Record<string, unknown>>(
      `SELECT shipping_cents::int AS shipping_cents, total_cents::int AS total_cents, shipping_carrier, shipping_service, shipping_currency,
              shipping_address->>'postal_code' AS postal FROM orders WHERE id = $1`,
      [o.id],
    );
    expect(row).toEqual({
      shipping_cents: rate?.amount_cents,
      total_cents: 2500 + (rate?.amount_cents ?? 0),
      shipping_carrier: "sandbox",
      shipping_service: "express",
      shipping_currency: "USD",
      postal: "94105",
    });
    for (const who of [u, admin]) {
      const read = await apiSettled(`/api/v1/orders/${o.id}`, { headers: who.auth });
      expect(((await read.json()) as OrderDto).shipping).toEqual(o.shipping);
    }
    const list = (await (await apiSettled(`/api/v1/orders?user_id=${u.id}`, { headers: admin.auth })).json()) as { data: OrderDto[] };
    expect(list.data[0]?.shipping).toEqual(o.shipping);
    // The outbox event for merchants carries the split and the address.
    const [e] = await sql<{ payload: Record<string, unknown> }>(
      "SELECT payload FROM outbox WHERE aggregate_id = $1 AND event_type = 'order.created'",
      [o.id],
    );
    expect(e?.payload).toMatchObject({
      subtotal_cents: 2500,
      shipping_cents: rate?.amount_cents,
      total_cents: o.total_cents,
      shipping: o.shipping,
    });
  });

  it("the customer's email shows shipping as a line, so the lines add up to the total", () => {
    const order = {
      id: crypto.randomUUID(),
      currency: "USD",
      total_cents: 3349,
      shipping_cents: 849,
      shipping: { carrier: "fedex", service_name: "FedEx Ground" },
      items: [{ sku: "DESK-1", name: "Desk", qty: 1, line_total_cents: 2500 }],
    };
    const mail = render("order_paid", order, {});
    expect(mail.text).toContain("Shipping (FedEx Ground)  $8.49");
    expect(mail.text).toContain("Total  $33.49");
    expect(mail.html).toContain("Shipping (FedEx Ground)");
    expect(render("order_paid", { ...order, shipping: null, shipping_cents: 0, total_cents: 2500 }, {}).text).not.toContain("Shipping");
  });

  it("the payment is for the total with shipping", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 10, price: 4000, physical: true });
    const items = [{ sku: p.sku, qty: 1 }];
    const o = (await (await checkout(u, shippedOrder(items, await mintRate(items, US_ADDRESS, { amount_cents: 850 })))).json()) as OrderDto;
    expect(o.total_cents).toBe(4850);
    const res = await pay(u, { order_id: o.id });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ amount_cents: 4850, currency: "USD" });
  });

  it("a rate from the flat fallback (carrier down) checks out the same way", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 10, price: 1000, physical: true });
    const items = [{ sku: p.sku, qty: 1 }];
    const b = sandboxEnv({ SHIPPING_SANDBOX_MODE: "fail", SHIPPING_RETRY_BASE_MS: "0" });
    const q = await quoteOk(items, DE_ADDRESS, b);
    expect(q).toMatchObject({ estimated: true, rates: [{ carrier: "flat", amount_cents: 2499, estimated: true, estimated_days: 12 }] });
    const res = await checkout(u, shippedOrder(items, q.rates[0]?.rate_id as string, DE_ADDRESS), b);
    expect(res.status).toBe(201);
    expect(((await res.json()) as OrderDto).shipping).toMatchObject({
      carrier: "flat",
      estimated: true,
      amount_cents: 2499,
      currency: "USD",
    });
  });

  it("digital goods need no address; a free digital order is still PAID at checkout, a free physical one with shipping is not", async () => {
    const u = await createUser();
    const gift = await makeProduct({ stock: 10, price: 0 });
    const free = (await (await checkout(u, { items: [{ sku: gift.sku, qty: 1 }] })).json()) as OrderDto;
    expect(free).toMatchObject({ status: "PAID", shipping_cents: 0, total_cents: 0, shipping: null });
    const sample = await makeProduct({ stock: 10, price: 0, physical: true });
    const items = [{ sku: sample.sku, qty: 1 }];
    const shipped = (await (
      await checkout(u, shippedOrder(items, await mintRate(items, US_ADDRESS, { amount_cents: 450 })))
    ).json()) as OrderDto;
    expect(shipped).toMatchObject({ status: "PENDING", subtotal_cents: 0, shipping_cents: 450, total_cents: 450 });
  });

  it("bulk orders (ADMIN) take shipping per order, checked the same way", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 10, price: 300, physical: true });
    const items = [{ sku: p.sku, qty: 1 }];
    const rate = await mintRate(items, US_ADDRESS, { amount_cents: 700 });
    const orders = [
      { user_id: u.id, ...shippedOrder(items, rate) },
      { user_id: u.id, ...shippedOrder(items, rate) },
    ];
    const res = await apiSettled("/api/v1/orders/bulk", jsonInit("POST", { orders }, admin.auth));
    expect(res.status).toBe(201);
    const { data } = (await res.json()) as { data: OrderDto[] };
    expect(data.map((o) => o.total_cents)).toEqual([1000, 1000]);
    // One bad rate in the batch: everything rolled back, the line named.
    const bad = await apiSettled("/api/v1/orders/bulk", jsonInit("POST", { orders: [orders[0], { user_id: u.id, items }] }, admin.auth));
    const problem = await expectProblem(bad, 400, "validation_error");
    expect(problem.failed_index).toBe(1);
    expect(problem.errors?.map((e) => e.field)).toEqual(["orders.1.shipping_address", "orders.1.shipping_rate_id"]);
    expect(await stockOf(p.sku)).toBe(8);
  });

  it("is still one statement: the rate is checked in the Worker (no round trip), shipping written by place_order", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 10, physical: true });
    const items = [{ sku: p.sku, qty: 1 }];
    const client = await connect();
    const sent: string[] = [];
    const real = client.query.bind(client) as (...a: unknown[]) => unknown;
    (client as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
      const q = a[0] as string | pg.QueryConfig;
      sent.push(typeof q === "string" ? q : q.text);
      return real(...a);
    };
    try {
      const db = drizzle(client, { schema }) as unknown as Drizzle;
      const policy = checkoutPolicy(loadConfig(env));
      const input = shippedOrder(items, await mintRate(items)) as OrderCreate;
      const placed = await placeOrderService(db, u.id, input, { userId: u.id, role: "USER" }, policy);
      expect(placed.order.shipping_cents).toBe(599);
      expect(sent).toEqual(["SELECT * FROM place_order($1::jsonb)"]);
    } finally {
      await client.end().catch(() => {});
    }
  });
});

describe("the rate cannot be changed, reused elsewhere or outlive itself (409, nothing written)", () => {
  async function setup() {
    const u = await createUser();
    const p = await makeProduct({ stock: 10, price: 1000, physical: true });
    const items = [{ sku: p.sku, qty: 1 }];
    return { u, p, items, rate: await mintRate(items, US_ADDRESS, { amount_cents: 1500 }) };
  }

  it("a tampered rate_id (the price or the signature edited) → 409 shipping_rate_invalid", async () => {
    const { u, p, items, rate } = await setup();
    const [v, payload, sig] = rate.split(".") as [string, string, string];
    const claims = JSON.parse(atob(payload.replaceAll("-", "+").replaceAll("_", "/"))) as unknown[];
    claims[3] = 1; // amount_cents: 1500 → 1
    const cheaper = btoa(JSON.stringify(claims)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
    const flipped = `${sig.slice(0, 10)}${sig[10] === "A" ? "B" : "A"}${sig.slice(11)}`;
    for (const forged of [
      `${v}.${cheaper}.${sig}`,
      `${v}.${payload}.${flipped}`,
      await mintRate(items, US_ADDRESS, { amount_cents: 1 }, "another-secret-0123456789abcdefghijklmnop"),
    ]) {
      const problem = await expectProblem(await checkout(u, shippedOrder(items, forged)), 409, "shipping_rate_invalid");
      expect(problem).toMatchObject({
        reason: "signature",
        errors: [{ field: "shipping_rate_id", in: "body", code: "shipping_rate_invalid" }],
      });
    }
    expect(await footprint(u.id)).toBe(0);
    expect(await stockOf(p.sku)).toBe(10);
    // Control: the genuine rate goes through, at its signed price.
    const ok = await checkout(u, shippedOrder(items, rate));
    expect(((await ok.json()) as OrderDto).total_cents).toBe(2500);
  });

  it("an expired rate → 409 shipping_rate_expired", async () => {
    const { u, items } = await setup();
    const stale = await mintRate(items, US_ADDRESS, { exp: Math.floor(Date.now() / 1000) - 1 });
    const problem = await expectProblem(await checkout(u, shippedOrder(items, stale)), 409, "shipping_rate_expired");
    expect(problem.expired_at).toBeDefined();
    expect(await footprint(u.id)).toBe(0);
  });

  it("a client_token replayed after its rate expired still returns the order it placed (200), and places nothing", async () => {
    const { u, p, items, rate } = await setup();
    const token = `cart-${crypto.randomUUID()}`;
    const first = await checkout(u, { ...shippedOrder(items, rate), client_token: token });
    expect(first.status).toBe(201);
    const stale = await mintRate(items, US_ADDRESS, { exp: Math.floor(Date.now() / 1000) - 1 });
    const again = await checkout(u, { ...shippedOrder(items, stale), client_token: token });
    expect(again.status).toBe(200);
    expect(((await again.json()) as OrderDto).id).toBe(((await first.json()) as OrderDto).id);
    expect(await footprint(u.id)).toBe(1);
    expect(await stockOf(p.sku)).toBe(9);
    // Without the token, the same stale rate is refused.
    await expectProblem(await checkout(u, shippedOrder(items, stale)), 409, "shipping_rate_expired");
  });

  it("a rate quoted for another address or other items → 409 shipping_rate_invalid naming what differs", async () => {
    const { u, p, items, rate } = await setup();
    const elsewhere = await checkout(u, shippedOrder(items, rate, { ...US_ADDRESS, postal_code: "94107" }));
    expect(await expectProblem(elsewhere, 409, "shipping_rate_invalid")).toMatchObject({ reason: "address" });
    const more = await checkout(u, shippedOrder([{ sku: p.sku, qty: 3 }], rate));
    expect(await expectProblem(more, 409, "shipping_rate_invalid")).toMatchObject({ reason: "items" });
    // Not part of the destination: the recipient's name, and how the same address is spelled.
    const renamed = await checkout(
      u,
      shippedOrder(items, rate, { ...US_ADDRESS, name: "A. Lovelace", city: "SAN FRANCISCO", region: "ca" }),
    );
    expect(renamed.status).toBe(201);
    expect(((await renamed.json()) as OrderDto).shipping?.address).toMatchObject({ name: "A. Lovelace", region: "CA" });
  });

  it("a rate in another currency than the goods → 409 shipping_currency_mismatch (checked against the locked products)", async () => {
    const { u, items } = await setup();
    const euros = await mintRate(items, US_ADDRESS, { currency: "EUR" });
    const problem = await expectProblem(await checkout(u, shippedOrder(items, euros)), 409, "shipping_currency_mismatch");
    expect(problem).toMatchObject({ currency: "USD", shipping_currency: "EUR" });
    expect(await footprint(u.id)).toBe(0);
  });

  it("the client cannot send a price: shipping_cents, amount or carrier fields are unknown fields (400)", async () => {
    const { u, items, rate } = await setup();
    for (const extra of [{ shipping_cents: 1 }, { shipping: { amount_cents: 1 } }, { total_cents: 1 }]) {
      const problem = await expectProblem(await checkout(u, { ...shippedOrder(items, rate), ...extra }), 400, "validation_error");
      expect(problem.errors?.[0]).toMatchObject({ code: "unknown_field" });
    }
  });
});

describe("shipping is required for physical goods, refused for digital ones (400, nothing written)", () => {
  it("physical goods without an address, one without the other, digital goods with one, a bad address", async () => {
    const u = await createUser();
    const box = await makeProduct({ stock: 10, physical: true });
    const card = await makeProduct({ stock: 10 });
    const items = [{ sku: box.sku, qty: 1 }];
    const rate = await mintRate(items);
    const none = await expectProblem(await checkout(u, { items }), 400, "validation_error");
    expect(none.errors?.map((e) => [e.field, e.code])).toEqual([
      ["shipping_address", "required"],
      ["shipping_rate_id", "required"],
    ]);
    // A mixed cart is shipped: the physical line decides.
    await expectProblem(await checkout(u, { items: [...items, { sku: card.sku, qty: 1 }] }), 400, "validation_error");
    const half = await expectProblem(await checkout(u, { items, shipping_rate_id: rate }), 400, "validation_error");
    expect(half.errors?.[0]).toMatchObject({ field: "shipping_address", code: "required" });
    const digital = [{ sku: card.sku, qty: 1 }];
    const refused = await expectProblem(await checkout(u, shippedOrder(digital, await mintRate(digital))), 400, "validation_error");
    expect(refused.errors?.[0]).toMatchObject({ field: "shipping_rate_id", code: "not_allowed" });
    const bad = await expectProblem(
      await checkout(u, shippedOrder(items, rate, { ...US_ADDRESS, postal_code: "9410" })),
      400,
      "validation_error",
    );
    expect(bad.errors?.[0]).toMatchObject({ field: "shipping_address.postal_code", in: "body" });
    expect(await footprint(u.id)).toBe(0);
    expect(await stockOf(box.sku)).toBe(10);
  });
});
