import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { CircuitBreaker } from "../durable-objects/circuit-breaker.ts";
import { api, createUser, expectProblem, sql } from "./helpers.ts";
import { eventually, orderStatus, pay, pendingOrder, postWebhook, SANDBOX_SECRETS } from "./payments.helpers.ts";

afterEach(() => vi.restoreAllMocks());

describe("end to end: order → payment → signed webhook → queue → order PAID", () => {
  it("settles exactly once", async () => {
    const u = await createUser();
    const order = await pendingOrder(u, 4200);
    const res = await pay(u, { order_id: order.id, test_outcome: "succeeded" });
    expect(res.status).toBe(201);
    const payment = (await res.json()) as { payment_id: string; amount_cents: number; redirect_url: string; status: string };
    expect(payment).toMatchObject({
      amount_cents: 4200,
      status: "INITIATED",
      redirect_url: expect.stringMatching(/\/sandbox\/checkout\/sbx_pi_[0-9a-f]{32}$/),
    });
    await eventually(async () => (await orderStatus(order.id)) === "PAID");
    const page = await api(new URL(payment.redirect_url).pathname);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(await page.text()).toContain("SUCCEEDED");
    const [p] = await sql<{ status: string }>("SELECT status::text AS status FROM payments WHERE id = $1", [payment.payment_id]);
    expect(p?.status).toBe("SUCCEEDED");
    const history = await sql(
      "SELECT from_status, to_status, actor_role FROM order_status_history WHERE order_id = $1 AND to_status = 'PAID'",
      [order.id],
    );
    expect(history).toEqual([{ from_status: "PENDING", to_status: "PAID", actor_role: "SYSTEM" }]);
    const [outbox] = await sql<{ n: number }>("SELECT count(*)::int AS n FROM outbox WHERE aggregate_id = $1 AND payload->>'to' = 'PAID'", [
      order.id,
    ]);
    expect(outbox?.n).toBe(1);
  });

  it("duplicate and out-of-order deliveries have no second effect", async () => {
    const u = await createUser();
    const order = await pendingOrder(u);
    const { payment_id } = (await (await pay(u, { order_id: order.id, test_outcome: "succeeded" })).json()) as { payment_id: string };
    await eventually(async () => (await orderStatus(order.id)) === "PAID");
    const secret = SANDBOX_SECRETS[0] as string;
    const send = async (type: string) => {
      const id = `evt_sbx_${crypto.randomUUID().replaceAll("-", "")}`;
      const payload = JSON.stringify({ id, type, data: { payment_id } });
      const now = new Date();
      const res = await postWebhook("sandbox", payload, {
        "webhook-id": id,
        "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
        "webhook-signature": new Webhook(secret).sign(id, now, payload),
      });
      expect(res.status).toBe(202);
      return id;
    };
    const late = await send("payment.failed");
    const again = await send("payment.succeeded");
    await eventually(async () => {
      const rows = await sql<{ status: string }>("SELECT status::text AS status FROM webhook_events WHERE event_id = ANY($1)", [
        [late, again],
      ]);
      return rows.length === 2 && rows.every((r) => r.status === "IGNORED");
    });
    const [p] = await sql<{ status: string }>("SELECT status::text AS status FROM payments WHERE id = $1", [payment_id]);
    expect(p?.status).toBe("SUCCEEDED");
    const [h] = await sql<{ n: number }>("SELECT count(*)::int AS n FROM order_status_history WHERE order_id = $1", [order.id]);
    expect(h?.n).toBe(2);
  });

  it("a failed attempt leaves the intent open: paying again is a new attempt on the same intent (Stripe's model)", async () => {
    const u = await createUser();
    const order = await pendingOrder(u);
    const first = await pay(u, { order_id: order.id, test_outcome: "failed" });
    expect(first.status).toBe(201);
    const { payment_id } = (await first.json()) as { payment_id: string };
    const row = () =>
      sql<{ status: string; failed_attempts: number; last_failure: string }>(
        "SELECT status::text AS status, failed_attempts, last_failure FROM payments WHERE id = $1",
        [payment_id],
      ).then((r) => r[0]);
    await eventually(async () => (await row())?.failed_attempts === 1);
    expect(await row()).toMatchObject({ status: "INITIATED", last_failure: "card_declined" });
    expect(await orderStatus(order.id)).toBe("PENDING");
    const again = await pay(u, { order_id: order.id, test_outcome: "delayed_success" });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ payment_id, attempt: 2, status: "INITIATED" });
    await eventually(async () => (await orderStatus(order.id)) === "PAID");
    expect((await row())?.status).toBe("SUCCEEDED");
    const [n] = await sql<{ n: number }>("SELECT count(*)::int AS n FROM payments WHERE order_id = $1", [order.id]);
    expect(n?.n).toBe(1);
  });
});

describe("POST /api/v1/payments (errors)", () => {
  it("one intent per order, reused; an attempt in progress is 409 payment_in_progress; another user's order is 404; non-PENDING is 409", async () => {
    const u = await createUser();
    const other = await createUser();
    const order = await pendingOrder(u);
    await expectProblem(await pay(other, { order_id: order.id }), 404);
    const first = await pay(u, { order_id: order.id, test_outcome: "delayed_success" });
    expect(first.status).toBe(201);
    const { payment_id } = (await first.json()) as { payment_id: string };
    // Another request holds the attempt (a lease owned by another Idempotency-Key).
    await sql("UPDATE payments SET lease_until = now() + interval '1 minute', lease_owner = 'someone-else' WHERE id = $1", [payment_id]);
    const busy = await pay(u, { order_id: order.id });
    expect((await expectProblem(busy, 409)).code).toBe("payment_in_progress");
    expect(Number(busy.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    await sql("UPDATE payments SET lease_until = NULL, lease_owner = NULL WHERE id = $1", [payment_id]);
    await eventually(async () => (await orderStatus(order.id)) === "PAID");
    expect((await expectProblem(await pay(u, { order_id: order.id }), 409)).code).toBe("order_not_payable");
  });

  it("a stuck attempt (the invocation died holding the lease) stops blocking the order once PAYMENT_LEASE_SEC has passed", async () => {
    const u = await createUser();
    const order = await pendingOrder(u);
    const [p] = await sql<{ id: string }>(
      `INSERT INTO payments (order_id, user_id, provider, amount_cents, currency, lease_until, lease_owner, created_at)
       VALUES ($1, $2, 'sandbox', $3, 'USD', now() - interval '1 second', 'dead-invocation', now() - interval '16 minutes') RETURNING id`,
      [order.id, u.id, order.total],
    );
    const res = await pay(u, { order_id: order.id, test_outcome: "succeeded" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ payment_id: p?.id });
    await eventually(async () => (await orderStatus(order.id)) === "PAID");
  });

  it("requires an Idempotency-Key and validates the body", async () => {
    const u = await createUser();
    const { api, jsonInit } = await import("./helpers.ts");
    await expectProblem(await api("/api/v1/payments", jsonInit("POST", { order_id: crypto.randomUUID() }, u.auth)), 400);
    await expectProblem(await pay(u, { order_id: "nope" }), 400);
    await expectProblem(await pay(u, { order_id: crypto.randomUUID(), amount_cents: 1 }), 400);
  });

  it("Stripe adapter: PaymentIntent created over fetch with our metadata and idempotency key", async () => {
    const calls: Request[] = [];
    const real = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const req = new Request(input as RequestInfo, init);
      if (!req.url.startsWith("https://stripe.stub/")) return real(input as RequestInfo, init);
      calls.push(req.clone());
      return Response.json({ id: "pi_test_123", client_secret: "pi_test_123_secret_abc" });
    });
    const u = await createUser();
    const order = await pendingOrder(u, 1999);
    const res = await pay(u, { order_id: order.id }, undefined, { ...env, PAYMENT_PROVIDER: "stripe" } as Env);
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ provider: "stripe", client_secret: "pi_test_123_secret_abc", amount_cents: 1999 });
    expect(calls).toHaveLength(1);
    const form = new URLSearchParams(await (calls[0] as Request).text());
    expect(Object.fromEntries(form)).toMatchObject({ amount: "1999", currency: "usd", "metadata[order_id]": order.id });
    expect(calls[0]?.headers.get("authorization")).toBe("Bearer sk_test_0123456789");
    expect(calls[0]?.headers.get("idempotency-key")).toMatch(/^toko-/);
  });
});

describe("circuit breaker (one Durable Object per provider, shared by every isolate)", () => {
  const stub = () => env.CIRCUIT_BREAKER.get(env.CIRCUIT_BREAKER.idFromName(`unit:${crypto.randomUUID()}`));

  it("opens after 5 consecutive failures, fails fast, half-opens with one probe, closes on success", async () => {
    const b = stub();
    for (let i = 0; i < 4; i++) expect(await b.record(false, 5)).toBe("closed");
    expect(await b.record(false, 5)).toBe("open");
    const fast = await b.acquire(30_000);
    expect(fast).toMatchObject({ allowed: false, state: "open" });
    expect(fast.retryAfterSec).toBeGreaterThan(25);
    await runInDurableObject(b, (_i: CircuitBreaker, state: DurableObjectState) => {
      state.storage.sql.exec("UPDATE breaker SET opened_at = opened_at - 31000");
    });
    expect(await b.acquire(30_000)).toMatchObject({ allowed: true, state: "half_open" });
    expect((await b.acquire(30_000)).allowed).toBe(false); // only one probe at a time
    expect(await b.record(true, 5)).toBe("closed");
    expect((await b.acquire(30_000)).allowed).toBe(true);
  });

  it("a failed probe re-opens; a success resets the count", async () => {
    const b = stub();
    for (let i = 0; i < 3; i++) await b.record(false, 5);
    await b.record(true, 5);
    for (let i = 0; i < 4; i++) expect(await b.record(false, 5)).toBe("closed");
    expect(await b.record(false, 5)).toBe("open");
    await runInDurableObject(b, (_i: CircuitBreaker, state: DurableObjectState) => {
      state.storage.sql.exec("UPDATE breaker SET opened_at = opened_at - 31000");
    });
    expect((await b.acquire(30_000)).state).toBe("half_open");
    expect(await b.record(false, 5)).toBe("open");
  });

  it("through the API: provider errors open it, then payments fail fast with 503 + Retry-After", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const u = await createUser();
    const order = await pendingOrder(u);
    const bindings = { ...env, PROVIDER_RETRY_BASE_MS: "0", PROVIDER_MAX_ATTEMPTS: "3" } as Env;
    await env.CIRCUIT_BREAKER.get(env.CIRCUIT_BREAKER.idFromName("payments:sandbox")).record(true, 5);
    const first = await pay(u, { order_id: order.id, test_outcome: "provider_error" }, undefined, bindings);
    expect((await expectProblem(first, 503)).code).toBe("provider_failed");
    const second = await pay(u, { order_id: order.id, test_outcome: "provider_error" }, undefined, bindings);
    await expectProblem(second, 503);
    const started = Date.now();
    const fast = await pay(u, { order_id: order.id, test_outcome: "succeeded" }, undefined, bindings);
    const p = await expectProblem(fast, 503);
    expect(p.code).toBe("provider_unavailable");
    expect(Number(fast.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(1000);
    // Nothing was charged: one open intent, never created at the provider, its lease released.
    const rows = await sql<{ status: string; provider_ref: string | null; lease_until: string | null }>(
      "SELECT status::text AS status, provider_ref, lease_until FROM payments WHERE order_id = $1",
      [order.id],
    );
    expect(rows).toEqual([{ status: "INITIATED", provider_ref: null, lease_until: null }]);
    expect(await orderStatus(order.id)).toBe("PENDING");
    await env.CIRCUIT_BREAKER.get(env.CIRCUIT_BREAKER.idFromName("payments:sandbox")).record(true, 5);
  });
});
