/**
 * Issue 14 end to end: an order placed through the API, paid, refunded in part and then in full by
 * Stripe events through the real intake, queue and settlement, plus a surplus capture refunded
 * through the provider, shows in the report exactly once: gross on the day it was paid, refunds on
 * the days they were recorded, the surplus nowhere. And the refund ledger the report reads follows
 * payments.amount_refunded_cents whoever writes it.
 */
import Stripe from "stripe";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createUser, sql } from "./helpers.ts";
import { makeProduct, placeOrder } from "./orders.helpers.ts";
import { eventually, orderStatus, postWebhook, STRIPE_SECRETS } from "./payments.helpers.ts";
import { freshCurrencies, getJson, refreshNow, utcDay } from "./reports.helpers.ts";

afterEach(() => vi.restoreAllMocks());

const stripe = new Stripe("sk_test_unused");
const admin = await createUser("ADMIN");

async function stripePayment(orderId: string, userId: string, amount: number, currency: string, status = "INITIATED") {
  const ref = `pi_${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
  const [row] = await sql<{ id: string }>(
    `INSERT INTO payments (order_id, user_id, provider, provider_ref, amount_cents, currency, status)
     VALUES ($1, $2, 'stripe', $3, $4, $5, $6::payment_status) RETURNING id`,
    [orderId, userId, ref, amount, currency, status],
  );
  return { id: row?.id as string, ref };
}

type P = { id: string; ref: string };
const intent = (p: P, amount: number, currency: string) => ({
  id: p.ref,
  object: "payment_intent",
  amount,
  amount_received: amount,
  currency: currency.toLowerCase(),
  metadata: { payment_id: p.id },
});
const succeeded = (p: P, amount: number, currency: string) => ({ type: "payment_intent.succeeded", object: intent(p, amount, currency) });
const refunded = (p: P, amount: number, total: number, currency: string) => ({
  type: "charge.refunded",
  object: {
    id: `ch_${p.ref.slice(3)}`,
    object: "charge",
    payment_intent: p.ref,
    amount,
    amount_captured: amount,
    amount_refunded: total,
    currency: currency.toLowerCase(),
    metadata: {},
  },
});

async function deliver(e: { type: string; object: Record<string, unknown> }): Promise<string> {
  const id = `evt_${crypto.randomUUID().replaceAll("-", "")}`;
  const payload = JSON.stringify({ id, object: "event", type: e.type, created: Math.floor(Date.now() / 1000), data: { object: e.object } });
  const header = await stripe.webhooks.generateTestHeaderStringAsync({ payload, secret: STRIPE_SECRETS[0] as string });
  expect((await postWebhook("stripe", payload, { "Stripe-Signature": header })).status).toBe(202);
  return eventually(async () => {
    const [row] = await sql<{ status: string }>("SELECT status::text AS status FROM webhook_events WHERE event_id = $1", [id]);
    return row && row.status !== "RECEIVED" ? row.status : null;
  });
}

const ledger = async (paymentId: string) =>
  (await sql<{ amount: number; day: string }>(
    "SELECT amount_cents::int AS amount, refunded_at FROM payment_refunds WHERE payment_id = $1 ORDER BY id",
    [paymentId],
  )) as unknown as { amount: number; refunded_at: Date }[];

describe("a real payment's life in the report", () => {
  it("paid, refunded 300 then in full through Stripe, plus a surplus capture refunded: counted once, surplus left out", async () => {
    const [cur] = freshCurrencies("Y", 1) as [string];
    // Surplus refunds go out through the provider (stubbed): it answers with a refund.
    const real = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const req = new Request(input as RequestInfo, init);
      return req.url.startsWith("https://stripe.stub/")
        ? Response.json({ id: "re_rpt", object: "refund" })
        : real(input as RequestInfo, init);
    });
    const u = await createUser();
    const product = await makeProduct({ stock: 10, price: 1250, currency: cur });
    const placed = await placeOrder(u, { items: [{ sku: product.sku, qty: 3 }] });
    expect(placed.status).toBe(201);
    const order = (await placed.json()) as { id: string; total_cents: number };
    expect(order.total_cents).toBe(3750);

    const p = await stripePayment(order.id, u.id, order.total_cents, cur);
    expect(await deliver(succeeded(p, order.total_cents, cur))).toBe("PROCESSED");
    expect(await orderStatus(order.id)).toBe("PAID");
    expect(await deliver(refunded(p, order.total_cents, 300, cur))).toBe("PROCESSED");
    expect(await deliver(refunded(p, order.total_cents, 300, cur))).toBe("IGNORED"); // a redelivery changes nothing
    expect(await deliver(refunded(p, order.total_cents, order.total_cents, cur))).toBe("PROCESSED");
    expect(await orderStatus(order.id)).toBe("REFUNDED");
    expect((await ledger(p.id)).map((r) => r.amount)).toEqual([300, 3450]);

    // An older intent the customer still managed to pay: recorded, refunded, never the sale's.
    const surplus = await stripePayment(order.id, u.id, order.total_cents, cur, "FAILED");
    expect(await deliver(succeeded(surplus, order.total_cents, cur))).toBe("PROCESSED");
    await eventually(async () => (await ledger(surplus.id)).length === 1);

    await refreshNow(admin);
    const [paid] = await sql<{ at: Date }>(
      "SELECT at FROM order_status_history WHERE order_id = $1 AND from_status = 'PENDING' AND to_status = 'PAID'",
      [order.id],
    );
    const paidDay = utcDay((paid as { at: Date }).at.getTime());
    const refunds = await ledger(p.id);
    const days = [paidDay, ...refunds.map((r) => utcDay(r.refunded_at.getTime()))].sort();
    const { body } = await getJson<{ days: Record<string, number | string>[]; totals: Record<string, number | string>[] }>(
      `/api/v1/admin/reports/sales?from=${days[0]}&to=${days.at(-1)}&currency=${cur}`,
      admin,
    );
    expect(body.totals).toEqual([
      {
        currency: cur,
        orders: 1,
        units: 3,
        gross_revenue_cents: 3750,
        refunded_cents: 3750,
        net_revenue_cents: 0,
        average_order_value_cents: 3750,
      },
    ]);
    expect(body.days.find((d) => d.day === paidDay)).toMatchObject({ orders: 1, units: 3, gross_revenue_cents: 3750 });
    const top = await getJson<{ by_units: Record<string, unknown>[] }>(
      `/api/v1/admin/reports/top-products?from=${days[0]}&to=${days.at(-1)}&currency=${cur}`,
      admin,
    );
    expect(top.body.by_units).toEqual([
      {
        rank: 1,
        currency: cur,
        product_id: product.id,
        sku: product.sku,
        name: `Order Thing ${product.sku}`,
        orders: 1,
        units: 3,
        revenue_cents: 3750,
      },
    ]);
  }, 90_000); // five events through the queue (batch timeout 2 s each)
});

describe("the refund ledger", () => {
  it("records every change of amount_refunded_cents (insert, increases, a decrease), dated now, and nothing else", async () => {
    const u = await createUser();
    const product = await makeProduct({ stock: 5, price: 1000 });
    const order = (await (await placeOrder(u, { items: [{ sku: product.sku, qty: 1 }] })).json()) as { id: string };
    const [row] = await sql<{ id: string }>(
      `INSERT INTO payments (order_id, user_id, provider, amount_cents, currency, status, amount_refunded_cents)
       VALUES ($1, $2, 'sandbox', 1000, 'USD', 'SUCCEEDED', 30) RETURNING id`,
      [order.id, u.id],
    );
    const id = row?.id as string;
    await sql("UPDATE payments SET amount_refunded_cents = 100 WHERE id = $1", [id]);
    await sql("UPDATE payments SET amount_refunded_cents = 250 WHERE id = $1", [id]);
    await sql("UPDATE payments SET amount_refunded_cents = 200 WHERE id = $1", [id]);
    await sql("UPDATE payments SET amount_refunded_cents = 200, status = 'SUCCEEDED', updated_at = now() WHERE id = $1", [id]);
    await sql("UPDATE payments SET failed_attempts = 1 WHERE id = $1", [id]);
    const rows = await ledger(id);
    expect(rows.map((r) => r.amount)).toEqual([30, 70, 150, -50]);
    for (const r of rows) expect(Math.abs(r.refunded_at.getTime() - Date.now())).toBeLessThan(60_000);
    // Whoever wrote them, every payment's ledger sums to its total (the trigger runs in the writer's transaction).
    const [mismatch] = await sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM payments p
       WHERE p.amount_refunded_cents <> coalesce((SELECT sum(amount_cents) FROM payment_refunds r WHERE r.payment_id = p.id), 0)`,
    );
    expect(mismatch?.n).toBe(0);
  });
});
