/**
 * The money path as an attacker and a flaky network would try it (issue: payments you can trust).
 * Stripe events are signed by the official `stripe` library and go through the real intake, queue
 * and consumer; the sandbox's through Standard Webhooks (the official `standardwebhooks` library).
 */
import { env } from "cloudflare:workers";
import Stripe from "stripe";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api, createUser, expectProblem, jsonInit, sql, type TestUser } from "./helpers.ts";
import { makeProduct, placeOrder } from "./orders.helpers.ts";
import { eventually, orderStatus, pay, pendingOrder, postWebhook, STRIPE_SECRETS } from "./payments.helpers.ts";

afterEach(() => vi.restoreAllMocks());

const stripe = new Stripe("sk_test_unused");

type PaymentState = { status: string; amount_refunded_cents: number; failed_attempts: number };

/** A Stripe payment row as `POST /payments` with PAYMENT_PROVIDER=stripe leaves it (intent created). */
async function stripePayment(orderId: string, userId: string, amount: number, status = "INITIATED") {
  const ref = `pi_${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
  const [row] = await sql<{ id: string }>(
    `INSERT INTO payments (order_id, user_id, provider, provider_ref, amount_cents, currency, status)
     VALUES ($1, $2, 'stripe', $3, $4, 'USD', $5::payment_status) RETURNING id`,
    [orderId, userId, ref, amount, status],
  );
  return { id: row?.id as string, ref };
}

const intent = (p: { id: string; ref: string }, amount: number, extra: Record<string, unknown> = {}) => ({
  id: p.ref,
  object: "payment_intent",
  amount,
  amount_received: amount,
  currency: "usd",
  metadata: { payment_id: p.id },
  ...extra,
});

const events = {
  succeeded: (p: { id: string; ref: string }, amount: number) => ({ type: "payment_intent.succeeded", object: intent(p, amount) }),
  failed: (p: { id: string; ref: string }, amount: number) => ({
    type: "payment_intent.payment_failed",
    object: intent(p, amount, { amount_received: 0, last_payment_error: { code: "card_declined" } }),
  }),
  refunded: (p: { id: string; ref: string }, amount: number, refunded = amount) => ({
    type: "charge.refunded",
    object: {
      id: `ch_${p.ref.slice(3)}`,
      object: "charge",
      payment_intent: p.ref,
      amount,
      amount_captured: amount,
      amount_refunded: refunded,
      currency: "usd",
      metadata: {},
    },
  }),
};

/** Posts a Stripe event signed with the official library; waits until the consumer has dealt with it. */
async function deliver(e: { type: string; object: Record<string, unknown> }): Promise<string> {
  const id = `evt_${crypto.randomUUID().replaceAll("-", "")}`;
  const payload = JSON.stringify({ id, object: "event", type: e.type, created: Math.floor(Date.now() / 1000), data: { object: e.object } });
  const header = await stripe.webhooks.generateTestHeaderStringAsync({ payload, secret: STRIPE_SECRETS[0] as string });
  const res = await postWebhook("stripe", payload, { "Stripe-Signature": header });
  expect(res.status).toBe(202);
  return eventually(async () => {
    const [row] = await sql<{ status: string }>("SELECT status::text AS status FROM webhook_events WHERE event_id = $1", [id]);
    return row && row.status !== "RECEIVED" ? row.status : null;
  });
}

async function paymentState(id: string): Promise<PaymentState> {
  const [row] = await sql<PaymentState>(
    "SELECT status::text AS status, amount_refunded_cents::int AS amount_refunded_cents, failed_attempts FROM payments WHERE id = $1",
    [id],
  );
  return row as PaymentState;
}

const anomalies = (orderId: string) =>
  sql<{ kind: string; refund_status: string | null; payment_id: string }>(
    "SELECT kind, refund_status, payment_id FROM payment_anomalies WHERE order_id = $1 ORDER BY created_at",
    [orderId],
  );

const outboxTypes = async (orderId: string) =>
  (await sql<{ event_type: string }>("SELECT event_type FROM outbox WHERE aggregate_id = $1 ORDER BY id", [orderId])).map(
    (r) => r.event_type,
  );

type StripeCall = { url: string; idempotencyKey: string | null; form: Record<string, string> };

/** Records Stripe API calls (refunds, cancels) made by the worker (read at call time: the consumer runs in another I/O context). */
function mockStripe(answer: (req: Request) => Response | Promise<Response>) {
  const calls: StripeCall[] = [];
  const real = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input as RequestInfo, init);
    if (!req.url.startsWith("https://stripe.stub/")) return real(input as RequestInfo, init);
    const form = Object.fromEntries(new URLSearchParams(await req.clone().text()));
    calls.push({ url: req.url, idempotencyKey: req.headers.get("idempotency-key"), form });
    return answer(req);
  });
  return calls;
}

describe("1. one intent per order; a capture nobody waits for is recorded and refunded", () => {
  it("payment_failed leaves the intent open (no second intent can be opened), then its success is recorded", async () => {
    const u = await createUser();
    const order = await pendingOrder(u);
    const p = await stripePayment(order.id, u.id, order.total);
    expect(await deliver(events.failed(p, order.total))).toBe("PROCESSED");
    expect(await paymentState(p.id)).toMatchObject({ status: "INITIATED", failed_attempts: 1 });
    expect(await deliver(events.succeeded(p, order.total))).toBe("PROCESSED");
    expect(await paymentState(p.id)).toMatchObject({ status: "SUCCEEDED" });
    expect(await orderStatus(order.id)).toBe("PAID");
  });

  it("a capture for an order already PAID by another payment is recorded, refunded through the provider (idempotency key), and listed as an anomaly", async () => {
    const calls = mockStripe(() => Response.json({ id: "re_test_1", object: "refund" }));
    const u = await createUser();
    const admin = await createUser("ADMIN");
    const order = await pendingOrder(u);
    const first = await stripePayment(order.id, u.id, order.total);
    await deliver(events.succeeded(first, order.total));
    expect(await orderStatus(order.id)).toBe("PAID");
    // An older intent of the same order, closed on our side, that the customer still managed to pay.
    const second = await stripePayment(order.id, u.id, order.total, "FAILED");
    expect(await deliver(events.succeeded(second, order.total))).toBe("PROCESSED");
    await eventually(async () => (await paymentState(second.id)).status === "REFUNDED");
    expect(await paymentState(second.id)).toMatchObject({ amount_refunded_cents: order.total });
    expect(await paymentState(first.id)).toMatchObject({ status: "SUCCEEDED", amount_refunded_cents: 0 });
    expect(await orderStatus(order.id)).toBe("PAID");
    const refund = calls.find((r) => r.url.endsWith("/v1/refunds")) as StripeCall;
    expect(refund.form).toMatchObject({ payment_intent: second.ref, amount: String(order.total) });
    expect(refund.idempotencyKey).toBe(`toko-refund-${second.id}-${order.total}`);
    expect(await anomalies(order.id)).toEqual([{ kind: "surplus_capture", refund_status: "refunded", payment_id: second.id }]);
    expect(await outboxTypes(order.id)).toEqual(expect.arrayContaining(["payment.surplus_captured", "payment.refunded"]));
    const list = (await (await api("/api/v1/admin/payments/anomalies?kind=surplus_capture&limit=100", { headers: admin.auth })).json()) as {
      data: { order_id: string; refund_status: string }[];
    };
    expect(list.data.find((a) => a.order_id === order.id)).toMatchObject({ refund_status: "refunded" });
    await expectProblem(await api("/api/v1/admin/payments/anomalies", { headers: u.auth }), 403);
  });

  it("a refund the provider refuses stays pending (visible in stats) and the sweeper's retry refunds it", async () => {
    let refuse = true;
    mockStripe(() => (refuse ? new Response("{}", { status: 503 }) : Response.json({ id: "re_test_2", object: "refund" })));
    const u = await createUser();
    const admin = await createUser("ADMIN");
    const order = await pendingOrder(u);
    const paid = await stripePayment(order.id, u.id, order.total);
    await deliver(events.succeeded(paid, order.total));
    const surplus = await stripePayment(order.id, u.id, order.total, "FAILED");
    await deliver(events.succeeded(surplus, order.total));
    expect(await anomalies(order.id)).toEqual([{ kind: "surplus_capture", refund_status: "pending", payment_id: surplus.id }]);
    const stats = (await (await api("/api/v1/admin/queue/stats", { headers: admin.auth })).json()) as Record<string, number>;
    expect(stats.pending_refunds).toBeGreaterThanOrEqual(1);
    refuse = false;
    const { retryPendingRefunds, paymentProvider } = await import("../src/services/payments.service.ts");
    const { loadConfig } = await import("../src/config.ts");
    const { createLogger } = await import("../src/lib/logger.ts");
    const { createDatabase, databaseOptions } = await import("../src/db/client.ts");
    const cfg = loadConfig({ ...env, PAYMENT_PROVIDER: "stripe", PROVIDER_RETRY_BASE_MS: "0" } as Env);
    const db = createDatabase(env.HYPERDRIVE_FRESH, databaseOptions(cfg));
    const log = createLogger("error");
    try {
      const deps = { db: await db.orm(), env, cfg, log, provider: paymentProvider(cfg, { origin: "", log }) };
      await retryPendingRefunds(deps, { batchSize: 100, deadline: Date.now() + 10_000 });
    } finally {
      await db.close();
    }
    expect(await paymentState(surplus.id)).toMatchObject({ status: "REFUNDED" });
    expect((await anomalies(order.id))[0]?.refund_status).toBe("refunded");
  });
});

describe("2. amount, currency and reference are checked", () => {
  it("a signed success for a different intent for 1 JPY never marks a 250,000-cent USD order PAID: anomaly, not retried", async () => {
    const u = await createUser();
    const order = await pendingOrder(u, 250_000);
    const p = await stripePayment(order.id, u.id, order.total);
    const forged = { ...intent({ id: p.id, ref: "pi_someone_elses_intent" }, 1), currency: "jpy" };
    expect(await deliver({ type: "payment_intent.succeeded", object: forged })).toBe("IGNORED");
    expect(await orderStatus(order.id)).toBe("PENDING");
    expect(await paymentState(p.id)).toMatchObject({ status: "INITIATED" });
    expect((await anomalies(order.id)).map((a) => a.kind)).toEqual(["reference_mismatch"]);
  });

  it.each([
    ["amount", { amount: 1, amount_received: 1 }, "amount_mismatch"],
    ["currency", { currency: "jpy" }, "currency_mismatch"],
  ])("a success with the right intent but the wrong %s is an anomaly, never applied", async (_what, change, kind) => {
    const u = await createUser();
    const order = await pendingOrder(u);
    const p = await stripePayment(order.id, u.id, order.total);
    const e = events.succeeded(p, order.total);
    expect(await deliver({ ...e, object: { ...e.object, ...change } })).toBe("IGNORED");
    expect(await orderStatus(order.id)).toBe("PENDING");
    expect((await anomalies(order.id)).map((a) => a.kind)).toEqual([kind]);
  });
});

describe("3. partial refunds do not end the order", () => {
  it("a 1-cent refund is history; the order becomes REFUNDED only when fully refunded", async () => {
    const u = await createUser();
    const order = await pendingOrder(u);
    const p = await stripePayment(order.id, u.id, order.total);
    await deliver(events.succeeded(p, order.total));
    expect(await deliver(events.refunded(p, order.total, 1))).toBe("PROCESSED");
    expect(await orderStatus(order.id)).toBe("PAID");
    expect(await paymentState(p.id)).toMatchObject({ status: "SUCCEEDED", amount_refunded_cents: 1 });
    const [h] = await sql<{ from_status: string; to_status: string; reason: string }>(
      "SELECT from_status, to_status, reason FROM order_status_history WHERE order_id = $1 AND reason LIKE 'refunded%'",
      [order.id],
    );
    expect(h).toMatchObject({ from_status: "PAID", to_status: "PAID", reason: expect.stringContaining("total 1 of 2500") });
    // The same refund again (a redelivery with a new event id) changes nothing: totals, not deltas.
    expect(await deliver(events.refunded(p, order.total, 1))).toBe("IGNORED");
    expect(await deliver(events.refunded(p, order.total, order.total))).toBe("PROCESSED");
    expect(await orderStatus(order.id)).toBe("REFUNDED");
    expect(await paymentState(p.id)).toMatchObject({ status: "REFUNDED", amount_refunded_cents: order.total });
  });
});

describe("4. out of order: success, failure and refund in every order end in the same state", () => {
  const ORDERS = [
    ["succeeded", "failed", "refunded"],
    ["succeeded", "refunded", "failed"],
    ["failed", "succeeded", "refunded"],
    ["failed", "refunded", "succeeded"],
    ["refunded", "succeeded", "failed"],
    ["refunded", "failed", "succeeded"],
  ] as const;

  it.each(ORDERS)("%s → %s → %s", async (...sequence) => {
    const u = await createUser();
    const order = await pendingOrder(u);
    const p = await stripePayment(order.id, u.id, order.total);
    for (const kind of sequence) await deliver(events[kind](p, order.total));
    expect(await paymentState(p.id)).toMatchObject({ status: "REFUNDED", amount_refunded_cents: order.total });
    expect(await orderStatus(order.id)).toBe("REFUNDED");
    const history = await sql<{ from_status: string; to_status: string }>(
      "SELECT from_status, to_status FROM order_status_history WHERE order_id = $1 ORDER BY id",
      [order.id],
    );
    expect(history).toEqual([
      { from_status: null, to_status: "PENDING" },
      { from_status: "PENDING", to_status: "PAID" },
      { from_status: "PAID", to_status: "REFUNDED" },
    ]);
    expect(await anomalies(order.id)).toEqual([]);
  });
});

describe("5. cancelling while a payment is in flight", () => {
  const stripeEnv = { ...env, PAYMENT_PROVIDER: "stripe", PROVIDER_RETRY_BASE_MS: "0" } as Env;
  const cancel = async (user: TestUser, orderId: string) => {
    const { apiSettled } = await import("./helpers.ts");
    const [o] = await sql<{ version: number }>("SELECT version FROM orders WHERE id = $1", [orderId]);
    return apiSettled(
      `/api/v1/orders/${orderId}/status`,
      jsonInit("PATCH", { status: "CANCELLED", version: o?.version }, user.auth),
      stripeEnv,
    );
  };

  it("cancels the provider intent first, then the order (restocked); a capture that still arrives is refunded", async () => {
    const calls = mockStripe((req) =>
      req.url.endsWith("/cancel") ? Response.json({ id: "pi", status: "canceled" }) : Response.json({ id: "re_test_3", object: "refund" }),
    );
    const u = await createUser();
    const order = await pendingOrder(u);
    const p = await stripePayment(order.id, u.id, order.total);
    const res = await cancel(u, order.id);
    expect(res.status).toBe(200);
    expect(calls.map((c) => new URL(c.url).pathname)).toEqual([`/v1/payment_intents/${p.ref}/cancel`]);
    expect(await paymentState(p.id)).toMatchObject({ status: "FAILED" });
    expect(await orderStatus(order.id)).toBe("CANCELLED");
    // The provider captured it anyway (a race at the provider): recorded, then refunded.
    await deliver(events.succeeded(p, order.total));
    await eventually(async () => (await paymentState(p.id)).status === "REFUNDED");
    expect(await orderStatus(order.id)).toBe("CANCELLED");
    expect((await anomalies(order.id)).map((a) => [a.kind, a.refund_status])).toEqual([["surplus_capture", "refunded"]]);
  });

  it("refuses with 409 payment_in_progress when the provider says the money is captured or being captured", async () => {
    mockStripe(() =>
      Response.json(
        { error: { type: "invalid_request_error", code: "payment_intent_unexpected_state", payment_intent: { status: "succeeded" } } },
        { status: 400 },
      ),
    );
    const u = await createUser();
    const order = await pendingOrder(u);
    const p = await stripePayment(order.id, u.id, order.total);
    const res = await cancel(u, order.id);
    expect((await expectProblem(res, 409)).code).toBe("payment_in_progress");
    expect(await orderStatus(order.id)).toBe("PENDING");
    expect(await paymentState(p.id)).toMatchObject({ status: "INITIATED" });
  });
});

describe("7. exactly once under retries", () => {
  it("a retried request after a provider 5xx reaches the same intent: one payment row, one Stripe idempotency key", async () => {
    let failFirst = true;
    const calls = mockStripe(() => {
      if (failFirst) {
        failFirst = false;
        return new Response("{}", { status: 500 });
      }
      return Response.json({ id: "pi_retry_1", client_secret: "pi_retry_1_secret_x" });
    });
    const u = await createUser();
    const order = await pendingOrder(u);
    const bindings = { ...env, PAYMENT_PROVIDER: "stripe", PROVIDER_MAX_ATTEMPTS: "1" } as Env;
    const key = `pay-${crypto.randomUUID()}`;
    await expectProblem(await pay(u, { order_id: order.id }, key, bindings), 503);
    const retried = await pay(u, { order_id: order.id }, key, bindings);
    expect(retried.status).toBe(200);
    const body = (await retried.json()) as { payment_id: string; client_secret: string };
    expect(body.client_secret).toBe("pi_retry_1_secret_x");
    const keys = calls.map((c) => c.idempotencyKey);
    expect(keys).toEqual([`toko-${body.payment_id}`, `toko-${body.payment_id}`]);
    const rows = await sql<{ id: string; provider_ref: string }>("SELECT id, provider_ref FROM payments WHERE order_id = $1", [order.id]);
    expect(rows).toEqual([{ id: body.payment_id, provider_ref: "pi_retry_1" }]);
  });

  it("GET /api/v1/payments/{id}: the Location of a payment answers (owner or ADMIN; others 404)", async () => {
    const u = await createUser();
    const other = await createUser();
    const order = await pendingOrder(u);
    const res = await pay(u, { order_id: order.id, test_outcome: "delayed_success" });
    const location = res.headers.get("location") as string;
    const read = await api(location, { headers: u.auth });
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ order_id: order.id, status: "INITIATED", amount_refunded_cents: 0 });
    await expectProblem(await api(location, { headers: other.auth }), 404);
  });
});

describe("11. a zero-price order", () => {
  it("is PAID at checkout without a provider; paying it is 409 order_not_payable (never a 500)", async () => {
    const u = await createUser();
    const p = await makeProduct({ stock: 5, price: 0 });
    const res = await placeOrder(u, { items: [{ sku: p.sku, qty: 2 }] });
    expect(res.status).toBe(201);
    const order = (await res.json()) as { id: string; status: string; total_cents: number };
    expect(order).toMatchObject({ status: "PAID", total_cents: 0 });
    expect((await expectProblem(await pay(u, { order_id: order.id }), 409)).code).toBe("order_not_payable");
    const [h] = await sql<{ actor_role: string; reason: string }>(
      "SELECT actor_role, reason FROM order_status_history WHERE order_id = $1 AND to_status = 'PAID'",
      [order.id],
    );
    expect(h).toMatchObject({ actor_role: "SYSTEM", reason: "nothing to pay (total 0)" });
  });
});
